// admin: test-only commands that set the stand-in up (not part of OpenZFS).
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <ctime>

#include "cmds.hpp"
#include "util.hpp"

namespace zsim {

namespace {

const char* kAdminUsage =
    "\tadmin create-pool NAME [--no-feature F]... [--version openzfs-X.Y.Z] [--size BYTES] [--vdev NAME]...\n"
    "\tadmin write DS FILE BYTES [SEED]\n"
    "\tadmin remove DS FILE\n"
    "\tadmin set-health POOL ONLINE|DEGRADED|FAULTED [VDEV]\n"
    "\tadmin set-scrub POOL none|finished:<unix>:<errors>|running:<pct>\n"
    "\tadmin set-errors POOL N\n"
    "\tadmin fault send-abort-after BYTES | send-slow BYTES_PER_SEC | clear\n"
    "\tadmin dump\n";

uint64_t num_arg(const std::string& s) {
  uint64_t v = 0;
  if (!parse_u64(s, v)) fail(2, "admin: not a number: " + s);
  return v;
}

// splitmix64: deterministic bytes for a seed.
void write_blob(const std::string& path, uint64_t size, uint64_t seed) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(1, "admin: cannot create " + path);
  std::vector<unsigned char> buf(1u << 20);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  uint64_t left = size;
  while (left > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    for (size_t i = 0; i < n; i += 8) {
      x += 0x9E3779B97F4A7C15ull;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      std::memcpy(buf.data() + i, &z, std::min<size_t>(8, n - i));
    }
    size_t off = 0;
    while (off < n) {
      ssize_t w = ::write(fd, buf.data() + off, n - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail(1, "admin: write failed: " + path);
      }
      off += static_cast<size_t>(w);
    }
    left -= n;
  }
  ::close(fd);
}

std::string dump(State& st) {
  std::string t = "version " + st.version + "\n";
  if (st.fault_abort_armed) t += "fault send-abort-after " + std::to_string(st.fault_abort_after) + "\n";
  if (st.fault_slow) t += "fault send-slow " + std::to_string(st.fault_slow) + "\n";
  for (const auto& [n, p] : st.pools) {
    t += "pool " + n + " health=" + p.health + " errors=" + std::to_string(p.errors) +
         " scrub=" + p.scrub + " txg=" + std::to_string(p.txg) + " features:";
    for (const auto& [f, on] : p.features)
      if (!on) t += " -" + f;
    t += "\n";
  }
  for (const auto& [n, d] : st.datasets) {
    t += "dataset " + n + " type=" + d.type + " guid=" + std::to_string(d.guid) +
         (d.modified ? " modified" : "") + (d.inconsistent ? " inconsistent" : "") +
         " encryption=" + d.encryption + "\n";
    for (const auto& [f, r] : d.content) t += "  file " + f + " " + std::to_string(r.size) + " " + r.blob + "\n";
    for (const auto& s : d.snaps) {
      t += "  @" + s.name + " guid=" + std::to_string(s.guid) + " createtxg=" + std::to_string(s.createtxg) +
           " files=" + std::to_string(s.content.size());
      for (const auto& [tag, when] : s.holds) t += " hold=" + tag;
      t += "\n";
    }
    for (const auto& b : d.bookmarks)
      t += "  #" + b.name + " guid=" + std::to_string(b.guid) + " createtxg=" + std::to_string(b.createtxg) + "\n";
    if (d.resume)
      t += "  resume toname=" + d.resume->toname + " offset=" + std::to_string(d.resume->offset) +
           " done=" + std::to_string(d.resume->done.size()) + "\n";
  }
  return t;
}

}  // namespace

int admin_main(const std::string& dir, const std::vector<std::string>& a) {
  if (a.empty()) usage_fail(kAdminUsage, "missing admin command");
  State st;
  st.dir = dir;
  Lock lock(dir);
  st.load();
  const std::string& cmd = a[0];
  if (cmd == "create-pool" && a.size() >= 2) {
    const std::string name = a[1];
    if (st.pools.count(name)) fail(1, "admin: pool exists: " + name);
    Pool p;
    p.name = name;
    p.guid = random64();
    p.creation = static_cast<uint64_t>(std::time(nullptr));
    for (const auto& f : all_features()) p.features[f] = true;
    std::vector<std::string> vdevs;
    for (size_t i = 2; i < a.size(); i++) {
      if (a[i] == "--no-feature" && i + 1 < a.size()) {
        std::string f = a[++i];
        if (starts_with(f, "feature@")) f = f.substr(8);
        p.features[f] = false;
      } else if (a[i] == "--version" && i + 1 < a.size()) {
        std::string v = a[++i];
        if (starts_with(v, "openzfs-")) v = v.substr(8);
        if (v.find('-') == std::string::npos) v += "-1";
        st.version = v;
      } else if (a[i] == "--size" && i + 1 < a.size()) {
        p.size = num_arg(a[++i]);
      } else if (a[i] == "--vdev" && i + 1 < a.size()) {
        vdevs.push_back(a[++i]);
      } else {
        usage_fail(kAdminUsage, "admin: bad argument " + a[i]);
      }
    }
    if (!vdevs.empty()) p.vdevs = vdevs;
    st.pools[name] = p;
    Dataset root;
    root.name = name;
    root.guid = random64();
    root.createtxg = 1;
    root.creation = p.creation;
    st.datasets[name] = root;
    st.save();
    return 0;
  }
  if (cmd == "write" && (a.size() == 4 || a.size() == 5)) {
    Dataset* d = st.ds(a[1]);
    if (!d) fail(1, "admin: no dataset " + a[1]);
    uint64_t size = num_arg(a[3]);
    uint64_t seed = a.size() == 5 ? num_arg(a[4]) : random64();
    std::string blob = "b-" + hex64(random64()) + hex64(random64());
    write_blob(st.blob_path(blob), size, seed);
    d->content[a[2]] = FileRef{blob, size};
    d->modified = true;
    st.save();
    st.gc_blobs();
    return 0;
  }
  if (cmd == "remove" && a.size() == 3) {
    Dataset* d = st.ds(a[1]);
    if (!d || !d->content.erase(a[2])) fail(1, "admin: no file " + a[2] + " in " + a[1]);
    d->modified = true;
    st.save();
    st.gc_blobs();
    return 0;
  }
  auto pool = [&](const std::string& n) -> Pool& {
    auto it = st.pools.find(n);
    if (it == st.pools.end()) fail(1, "admin: no pool " + n);
    return it->second;
  };
  if (cmd == "set-health" && (a.size() == 3 || a.size() == 4)) {
    Pool& p = pool(a[1]);
    if (a[2] != "ONLINE" && a[2] != "DEGRADED" && a[2] != "FAULTED") fail(2, "admin: bad health " + a[2]);
    p.health = a[2];
    p.bad_vdev = a.size() == 4 ? a[3] : "";
    st.save();
    return 0;
  }
  if (cmd == "set-scrub" && a.size() == 3) {
    Pool& p = pool(a[1]);
    auto sc = split(a[2], ':');
    if (sc[0] == "running" && sc.size() == 2) p.scrub = a[2] + ":" + std::to_string(std::time(nullptr) - 60);
    else if (sc[0] == "none" || (sc[0] == "finished" && sc.size() == 3) || sc[0] == "running") p.scrub = a[2];
    else fail(2, "admin: bad scrub state " + a[2]);
    st.save();
    return 0;
  }
  if (cmd == "set-errors" && a.size() == 3) {
    pool(a[1]).errors = num_arg(a[2]);
    st.save();
    return 0;
  }
  if (cmd == "fault" && a.size() >= 2) {
    if (a[1] == "send-abort-after" && a.size() == 3) {
      st.fault_abort_after = num_arg(a[2]);
      st.fault_abort_armed = true;
    } else if (a[1] == "send-slow" && a.size() == 3) {
      st.fault_slow = num_arg(a[2]);
    } else if (a[1] == "clear") {
      st.fault_abort_armed = false;
      st.fault_slow = 0;
    } else {
      usage_fail(kAdminUsage, "admin: bad fault");
    }
    st.save();
    return 0;
  }
  if (cmd == "dump") {
    out(dump(st));
    return 0;
  }
  usage_fail(kAdminUsage, "admin: bad command");
}

}  // namespace zsim
