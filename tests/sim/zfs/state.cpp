#include "state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "util.hpp"

namespace zsim {

namespace {

std::string join_tokens(const std::vector<std::string>& t) {
  std::string r;
  for (size_t i = 0; i < t.size(); i++) {
    if (i) r += ' ';
    r += enc(t[i]);
  }
  return r + "\n";
}

uint64_t num(const std::string& s) {
  uint64_t v = 0;
  parse_u64(s, v);
  return v;
}

std::string u(uint64_t v) { return std::to_string(v); }

}  // namespace

const std::vector<std::string>& all_features() {
  static const std::vector<std::string> f = {
      "async_destroy",      "empty_bpobj",        "lz4_compress",      "multi_vdev_crash_dump",
      "spacemap_histogram", "enabled_txg",        "hole_birth",        "extensible_dataset",
      "embedded_data",      "bookmarks",          "filesystem_limits", "large_blocks",
      "large_dnode",        "sha512",             "skein",             "edonr",
      "userobj_accounting", "encryption",         "project_quota",     "device_removal",
      "obsolete_counts",    "zpool_checkpoint",   "spacemap_v2",       "allocation_classes",
      "resilver_defer",     "bookmark_v2",        "redaction_bookmarks", "redacted_datasets",
      "bookmark_written",   "log_spacemap",       "livelist",          "device_rebuild",
      "zstd_compress",      "draid"};
  return f;
}

std::string feature_state(const State& s, const Pool& p, const std::string& feature) {
  auto it = p.features.find(feature);
  if (it == p.features.end() || !it->second) return "disabled";
  static const std::set<std::string> always_active = {
      "empty_bpobj", "lz4_compress",       "spacemap_histogram", "hole_birth", "embedded_data",
      "large_dnode", "extensible_dataset", "spacemap_v2",        "log_spacemap", "userobj_accounting",
      "project_quota"};
  if (always_active.count(feature)) return "active";
  for (const auto& [name, d] : s.datasets) {
    if (name != p.name && !starts_with(name, p.name + "/")) continue;
    if (feature == "bookmarks" && !d.bookmarks.empty()) return "active";
    if (feature == "encryption" && d.encryption != "off") return "active";
    if (feature == "large_blocks" && d.props.count("recordsize") && d.props.at("recordsize") != "131072")
      return "active";
  }
  return "enabled";
}

bool valid_name_chars(const std::string& name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == ':' || c == ' ' || c == '/'))
      return false;
  }
  return name.front() != '/' && name.back() != '/' && name.find("//") == std::string::npos;
}

void State::load() {
  pools.clear();
  datasets.clear();
  std::ifstream in(dir + "/state");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> t;
    std::istringstream ls(line);
    std::string w;
    while (ls >> w) t.push_back(dec(w));
    if (t.empty()) continue;
    const std::string& k = t[0];
    auto need = [&](size_t n) { return t.size() >= n; };
    if (k == "version" && need(2)) {
      version = t[1];
    } else if (k == "fault-abort" && need(3)) {
      fault_abort_after = num(t[1]);
      fault_abort_armed = t[2] == "1";
    } else if (k == "fault-slow" && need(2)) {
      fault_slow = num(t[1]);
    } else if (k == "pool" && need(12)) {
      Pool p;
      p.name = t[1];
      p.guid = num(t[2]);
      p.txg = num(t[3]);
      p.size = num(t[4]);
      p.creation = num(t[5]);
      p.health = t[6];
      p.bad_vdev = t[7];
      p.errors = num(t[8]);
      p.scrub = t[9];
      p.vdevs = split(t[10], ',');
      for (const auto& f : split(t[11], ',')) {
        auto kv = split(f, '=');
        if (kv.size() == 2) p.features[kv[0]] = kv[1] == "1";
      }
      pools[p.name] = p;
    } else if (k == "ds" && need(10)) {
      Dataset d;
      d.name = t[1];
      d.type = t[2];
      d.guid = num(t[3]);
      d.createtxg = num(t[4]);
      d.creation = num(t[5]);
      d.modified = t[6] == "1";
      d.inconsistent = t[7] == "1";
      d.encryption = t[8];
      d.volsize = num(t[9]);
      datasets[d.name] = d;
    } else if (need(2) && datasets.count(t[1])) {
      Dataset& d = datasets[t[1]];
      if (k == "prop" && need(4)) {
        d.props[t[2]] = t[3];
      } else if (k == "rprop" && need(4)) {
        d.received[t[2]] = t[3];
      } else if (k == "file" && need(5)) {
        d.content[t[2]] = FileRef{t[3], num(t[4])};
      } else if (k == "snap" && need(6)) {
        Snapshot s;
        s.name = t[2];
        s.guid = num(t[3]);
        s.createtxg = num(t[4]);
        s.creation = num(t[5]);
        d.snaps.push_back(s);
      } else if (k == "sfile" && need(6) && !d.snaps.empty()) {
        d.snaps.back().content[t[3]] = FileRef{t[4], num(t[5])};
      } else if (k == "hold" && need(5) && !d.snaps.empty()) {
        d.snaps.back().holds[t[3]] = num(t[4]);
      } else if (k == "bm" && need(6)) {
        d.bookmarks.push_back(Bookmark{t[2], num(t[3]), num(t[4]), num(t[5])});
      } else if (k == "resume" && need(14)) {
        ResumeState r;
        r.toname = t[2];
        r.tosnap = t[3];
        r.toguid = num(t[4]);
        r.fromguid = num(t[5]);
        r.creation = num(t[6]);
        r.offset = num(t[7]);
        r.bytes = num(t[8]);
        r.object = num(t[9]);
        r.id = t[10];
        r.flags = t[11];
        r.raw = t[12] == "1";
        r.encryption = t[13];
        d.resume = r;
      } else if (k == "rdone" && need(4) && d.resume) {
        d.resume->done.push_back(FileRef{t[2], num(t[3])});
      }
    }
  }
}

void State::save() const {
  std::string s;
  s += join_tokens({"version", version});
  s += join_tokens({"fault-abort", u(fault_abort_after), fault_abort_armed ? "1" : "0"});
  s += join_tokens({"fault-slow", u(fault_slow)});
  for (const auto& [name, p] : pools) {
    std::string vd, fe;
    for (const auto& v : p.vdevs) vd += (vd.empty() ? "" : ",") + v;
    for (const auto& [f, on] : p.features) fe += (fe.empty() ? "" : ",") + f + "=" + (on ? "1" : "0");
    s += join_tokens({"pool", name, u(p.guid), u(p.txg), u(p.size), u(p.creation), p.health,
                      p.bad_vdev, u(p.errors), p.scrub, vd, fe});
  }
  for (const auto& [name, d] : datasets) {
    s += join_tokens({"ds", name, d.type, u(d.guid), u(d.createtxg), u(d.creation),
                      d.modified ? "1" : "0", d.inconsistent ? "1" : "0", d.encryption,
                      u(d.volsize)});
    for (const auto& [k, v] : d.props) s += join_tokens({"prop", name, k, v});
    for (const auto& [k, v] : d.received) s += join_tokens({"rprop", name, k, v});
    for (const auto& [f, r] : d.content) s += join_tokens({"file", name, f, r.blob, u(r.size)});
    for (const auto& sn : d.snaps) {
      s += join_tokens({"snap", name, sn.name, u(sn.guid), u(sn.createtxg), u(sn.creation)});
      for (const auto& [f, r] : sn.content)
        s += join_tokens({"sfile", name, sn.name, f, r.blob, u(r.size)});
      for (const auto& [tag, t] : sn.holds) s += join_tokens({"hold", name, sn.name, tag, u(t)});
    }
    for (const auto& b : d.bookmarks)
      s += join_tokens({"bm", name, b.name, u(b.guid), u(b.createtxg), u(b.creation)});
    if (d.resume) {
      const auto& r = *d.resume;
      s += join_tokens({"resume", name, r.toname, r.tosnap, u(r.toguid), u(r.fromguid),
                        u(r.creation), u(r.offset), u(r.bytes), u(r.object), r.id, r.flags,
                        r.raw ? "1" : "0", r.encryption});
      for (const auto& f : r.done) s += join_tokens({"rdone", name, f.blob, u(f.size)});
    }
  }
  std::string tmp = dir + "/state.tmp";
  {
    std::ofstream o(tmp, std::ios::trunc);
    o << s;
    if (!o.flush()) fail(1, "internal error: cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), (dir + "/state").c_str()) != 0)
    fail(1, "internal error: cannot replace " + dir + "/state");
}

Pool* State::pool_of(const std::string& name) {
  auto it = pools.find(name.substr(0, name.find_first_of("/@#")));
  return it == pools.end() ? nullptr : &it->second;
}

Dataset* State::ds(const std::string& name) {
  auto it = datasets.find(name);
  return it == datasets.end() ? nullptr : &it->second;
}

Snapshot* State::snap(const std::string& full) {
  auto at = full.find('@');
  if (at == std::string::npos) return nullptr;
  Dataset* d = ds(full.substr(0, at));
  if (!d) return nullptr;
  std::string sn = full.substr(at + 1);
  for (auto& s : d->snaps)
    if (s.name == sn) return &s;
  return nullptr;
}

Bookmark* State::bookmark(const std::string& full) {
  auto h = full.find('#');
  if (h == std::string::npos) return nullptr;
  Dataset* d = ds(full.substr(0, h));
  if (!d) return nullptr;
  std::string bn = full.substr(h + 1);
  for (auto& b : d->bookmarks)
    if (b.name == bn) return &b;
  return nullptr;
}

std::vector<std::string> State::children(const std::string& name) const {
  std::vector<std::string> r;
  for (const auto& [n, d] : datasets) {
    if (starts_with(n, name + "/") && n.find('/', name.size() + 1) == std::string::npos)
      r.push_back(n);
  }
  return r;
}

std::vector<std::string> State::descendants(const std::string& name) const {
  std::vector<std::string> r;
  for (const auto& c : children(name)) {
    r.push_back(c);
    auto sub = descendants(c);
    r.insert(r.end(), sub.begin(), sub.end());
  }
  return r;
}

uint64_t State::referenced(const Content& c) const {
  uint64_t n = kDatasetOverhead;
  for (const auto& [f, r] : c) n += r.size;
  return n;
}

uint64_t State::snap_used(const Dataset& d, size_t index) const {
  // Bytes only this snapshot holds: blobs neither the previous nor the next state refers to.
  std::set<std::string> others;
  if (index > 0)
    for (const auto& [f, r] : d.snaps[index - 1].content) others.insert(r.blob);
  const Content& next = index + 1 < d.snaps.size() ? d.snaps[index + 1].content : d.content;
  for (const auto& [f, r] : next) others.insert(r.blob);
  uint64_t n = 0;
  for (const auto& [f, r] : d.snaps[index].content)
    if (!others.count(r.blob)) n += r.size;
  return n;
}

uint64_t State::used(const std::string& name) const {
  auto it = datasets.find(name);
  if (it == datasets.end()) return 0;
  const Dataset& d = it->second;
  uint64_t n = referenced(d.content);
  for (size_t i = 0; i < d.snaps.size(); i++) n += snap_used(d, i);
  if (d.resume)
    for (const auto& f : d.resume->done) n += f.size;
  for (const auto& c : children(name)) n += used(c);
  return n;
}

uint64_t State::pool_alloc(const std::string& pool) const {
  std::map<std::string, uint64_t> blobs;
  uint64_t n = 0;
  for (const auto& [name, d] : datasets) {
    if (name != pool && !starts_with(name, pool + "/")) continue;
    n += kDatasetOverhead;
    for (const auto& [f, r] : d.content) blobs[r.blob] = r.size;
    for (const auto& s : d.snaps)
      for (const auto& [f, r] : s.content) blobs[r.blob] = r.size;
    if (d.resume)
      for (const auto& f : d.resume->done) blobs[f.blob] = f.size;
  }
  for (const auto& [b, sz] : blobs) n += sz;
  return n + 90112;  // pool metadata
}

uint64_t State::available(const std::string& pool) const {
  auto it = pools.find(pool);
  if (it == pools.end()) return 0;
  uint64_t usable = it->second.size / 64 * 62;  // slop space
  uint64_t a = pool_alloc(pool);
  return a >= usable ? 0 : usable - a;
}

void State::gc_blobs() const {
  std::set<std::string> live;
  for (const auto& [name, d] : datasets) {
    for (const auto& [f, r] : d.content) live.insert(r.blob);
    for (const auto& s : d.snaps)
      for (const auto& [f, r] : s.content) live.insert(r.blob);
    if (d.resume) {
      for (const auto& f : d.resume->done) live.insert(f.blob);
      live.insert("partial-" + d.resume->id);
    }
  }
  DIR* dp = opendir((dir + "/blobs").c_str());
  if (!dp) return;
  std::vector<std::string> dead;
  while (dirent* e = readdir(dp)) {
    std::string n = e->d_name;
    // Only committed blobs ("b-..."); partial files belong to receives that may be running.
    if (starts_with(n, "b-") && !live.count(n)) dead.push_back(n);
  }
  closedir(dp);
  for (const auto& n : dead) unlink(blob_path(n).c_str());
}

Lock::Lock(const std::string& dir) {
  fd_ = open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(1, "internal error: cannot open " + dir + "/lock");
  while (flock(fd_, LOCK_EX) != 0) {
  }
}

void Lock::release() {
  if (fd_ >= 0) {
    flock(fd_, LOCK_UN);
    close(fd_);
    fd_ = -1;
  }
}

Lock::~Lock() { release(); }

}  // namespace zsim
