// zfs receive: full, incremental and resumed streams, -F, -s (resumable partial state), -n, -v,
// -u, -o, and zfs receive -A.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "cmds.hpp"
#include "stream.hpp"
#include "util.hpp"

namespace zsim {

namespace {

const char* kRecvUsage =
    "\treceive [-vMnsFhu] [-o <property>=<value>] ... [-x <property>] ...\n"
    "\t    <filesystem|volume|snapshot>\n"
    "\treceive [-vMnsFhu] [-o <property>=<value>] ... [-x <property>] ... \n"
    "\t    [-d | -e] <filesystem>\n"
    "\treceive -A <filesystem|volume>\n";

class Reader {
 public:
  explicit Reader(int fd) : fd_(fd), buf_(4u << 20) {}
  // Reads up to n bytes; returns how many (fewer only at end of input).
  size_t read(unsigned char* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      if (pos_ == len_) {
        if (eof_) break;
        ssize_t r = ::read(fd_, buf_.data(), buf_.size());
        if (r < 0) {
          if (errno == EINTR) continue;
          eof_ = true;
          break;
        }
        if (r == 0) {
          eof_ = true;
          break;
        }
        pos_ = 0;
        len_ = static_cast<size_t>(r);
      }
      size_t take = std::min(n - got, len_ - pos_);
      std::memcpy(dst + got, buf_.data() + pos_, take);
      pos_ += take;
      got += take;
    }
    total_ += got;
    return got;
  }
  uint64_t total() const { return total_; }

 private:
  int fd_;
  std::vector<unsigned char> buf_;
  size_t pos_ = 0, len_ = 0;
  bool eof_ = false;
  uint64_t total_ = 0;
};

struct RecHead {
  uint64_t magic = 0;
  uint32_t type = 0, len = 0;
  uint64_t ck = 0;
};

bool read_head(Reader& r, RecHead& h) {
  unsigned char b[kRecHeader];
  if (r.read(b, kRecHeader) != kRecHeader) return false;
  std::memcpy(&h.magic, b, 8);
  std::memcpy(&h.type, b + 8, 4);
  std::memcpy(&h.len, b + 12, 4);
  std::memcpy(&h.ck, b + 16, 8);
  return true;
}

struct Flags {
  bool resumable = false, force = false, dry = false, verbose = false, nomount = false;
  std::map<std::string, std::string> props;
};

std::string new_blob_name() { return "b-" + hex64(random64()) + hex64(random64()); }

int abort_resumable(const std::string& dir, const std::string& name) {
  State st;
  st.dir = dir;
  Lock lock(dir);
  st.load();
  Dataset* d = st.ds(name);
  if (!d) fail(1, "cannot open '" + name + "': dataset does not exist");
  if (!d->resume) fail(1, "'" + name + "' does not have any resumable receive state to abort");
  ::unlink(st.blob_path("partial-" + d->resume->id).c_str());
  if (d->inconsistent) st.datasets.erase(name);
  else d->resume.reset();
  st.save();
  st.gc_blobs();
  return 0;
}

// Receives one substream whose BEGIN record has been read. Returns normally on success.
void receive_one(const std::string& dir, Reader& in, const StreamHeader& h, const std::string& target,
                 const Flags& f) {
  const auto begin = std::chrono::steady_clock::now();
  const uint64_t start_bytes = in.total() - kRecHeader - h.encode().size();
  std::string fs = target, snapname = h.toname.substr(h.toname.find('@') + 1);
  if (target.find('@') != std::string::npos) {
    fs = target.substr(0, target.find('@'));
    snapname = target.substr(target.find('@') + 1);
  }
  const bool wantsnewfs = h.fromguid == 0 && !h.resuming;
  const std::string kind = h.resuming      ? "cannot receive resume stream"
                           : h.fromguid == 0 ? "cannot receive new filesystem stream"
                                             : "cannot receive incremental stream";
  auto bail = [&](const std::string& why) { fail(1, kind + ": " + why); };

  State st;
  st.dir = dir;
  Lock lock(dir);
  st.load();
  Pool* p = st.pool_of(fs);
  Dataset* d = st.ds(fs);
  Content base;
  std::string rid = hex64(random64());
  std::vector<FileRef> done;
  uint64_t prior_bytes = 0;
  bool creating = false;
  if (!p) {
    err("cannot open '" + fs.substr(0, fs.find('/')) + "': dataset does not exist\n");
    bail("unable to restore to destination");
  }
  if (wantsnewfs) {
    if (d) {
      if (!f.force) bail("destination '" + fs + "' exists\nmust specify -F to overwrite it");
      if (!d->snaps.empty())
        bail("destination has snapshots (eg. " + fs + "@" + d->snaps.front().name +
             ")\nmust destroy them to overwrite it");
      if (d->encryption != "off" || (h.raw && h.encryption != "off"))
        bail("zfs receive -F cannot be used to destroy an encrypted filesystem or overwrite an "
             "unencrypted one with an encrypted one");
      if (d->resume)
        bail("destination " + fs + " contains partially-complete state from \"zfs receive -s\".");
    } else {
      if (fs.find('/') == std::string::npos) bail("destination '" + fs + "' does not exist");
      std::string parent = fs.substr(0, fs.rfind('/'));
      Dataset* pd = st.ds(parent);
      if (!pd) {
        err("cannot open '" + parent + "': dataset does not exist\n");
        bail("unable to restore to destination");
      }
      if (pd->type != "filesystem") bail("parent '" + parent + "' is not a filesystem");
      creating = true;
    }
  } else if (h.resuming) {
    if (!d) bail("destination '" + fs + "' does not exist");
    if (!d->resume || d->resume->toguid != h.toguid || d->resume->offset != h.offset)
      bail("invalid backup stream");
    rid = d->resume->id;
    done = d->resume->done;
    prior_bytes = d->resume->bytes;
    snapname = d->resume->tosnap;
    if (h.fromguid) {
      bool found = false;
      for (const auto& s : d->snaps)
        if (s.guid == h.fromguid) {
          base = s.content;
          found = true;
        }
      if (!found) bail("most recent snapshot of " + fs + " does not\nmatch incremental source");
    }
  } else {
    if (!d) bail("destination '" + fs + "' does not exist");
    for (const auto& s : d->snaps) {
      if (s.name != snapname) continue;
      if (s.guid == h.toguid) {
        // OpenZFS consumes and ignores a snapshot the destination already has.
        if (f.verbose) out("snap " + fs + "@" + snapname + " already exists; ignoring\n");
        lock.release();
        std::vector<unsigned char> sink(kChunk);
        RecHead rh;
        while (read_head(in, rh) && rh.type != kRecEnd) {
          if (rh.magic != kStreamMagic || rh.len > kChunk || in.read(sink.data(), rh.len) != rh.len)
            bail("checksum mismatch or incomplete stream");
        }
        return;
      }
      fail(1, "cannot restore to " + fs + "@" + snapname + ": destination already exists");
    }
    if (d->resume)
      bail("destination " + fs + " contains partially-complete state from \"zfs receive -s\".");
    size_t bi = d->snaps.size();
    for (size_t i = 0; i < d->snaps.size(); i++)
      if (d->snaps[i].guid == h.fromguid) bi = i;
    const std::string enodev = "most recent snapshot of " + fs + " does not\nmatch incremental source";
    if (bi == d->snaps.size()) bail(enodev);
    if (bi + 1 != d->snaps.size() && !f.force) bail(enodev);
    if (d->modified && !f.force) bail("destination " + fs + " has been modified\nsince most recent snapshot");
    for (size_t i = bi + 1; i < d->snaps.size(); i++)
      if (!d->snaps[i].holds.empty()) bail("dataset is busy");
    if (h.raw && h.encryption != "off" && d->encryption == "off")
      bail("cannot perform raw receive on top of existing unencrypted dataset");
    base = d->snaps[bi].content;
  }
  const bool resumable = f.resumable;
  if ((resumable && !p->features["extensible_dataset"]) ||
      (h.raw && h.encryption != "off" && !p->features["encryption"]) ||
      (h.flags.find("largeblockok") != std::string::npos && !p->features["large_blocks"]))
    bail("pool must be upgraded to receive this stream.");
  if (f.verbose) {
    out(std::string(f.dry ? "would receive" : "receiving") + " " +
        (h.fromguid ? "incremental" : "full") + " stream of " + h.toname + " into " + fs + "@" +
        snapname + "\n");
    std::fflush(stdout);
  }
  const std::string parent_enc = [&] {
    auto slash = fs.rfind('/');
    Dataset* pd = slash == std::string::npos ? nullptr : st.ds(fs.substr(0, slash));
    return pd ? pd->encryption : std::string("off");
  }();
  lock.release();

  // Stream the data records into blobs.
  std::vector<const FileOp*> puts;
  for (const auto& op : h.ops)
    if (op.put) puts.push_back(&op);
  uint64_t offset = h.offset;
  size_t cur = done.size();
  uint64_t cur_pos = offset;
  for (const auto& r : done) cur_pos -= std::min(cur_pos, r.size);
  int fd = -1;
  const std::string partial = st.blob_path("partial-" + rid);
  std::string failure;
  auto finish_file = [&]() {
    if (fd >= 0) ::close(fd);
    fd = -1;
    std::string name = new_blob_name();
    if (!f.dry) {
      if (::rename(partial.c_str(), st.blob_path(name).c_str()) != 0) {
        int z = ::open(st.blob_path(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (z >= 0) ::close(z);
      }
    }
    done.push_back(FileRef{name, puts[cur]->size});
    cur++;
    cur_pos = 0;
  };
  auto open_partial = [&]() {
    if (f.dry || fd >= 0) return;
    fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0 && ::ftruncate(fd, static_cast<off_t>(cur_pos)) != 0) failure = "I/O error";
    ::lseek(fd, static_cast<off_t>(cur_pos), SEEK_SET);
  };
  auto skip_empty = [&]() {
    while (cur < puts.size() && cur_pos == puts[cur]->size) finish_file();
  };
  skip_empty();
  std::vector<unsigned char> buf(kChunk);
  bool ended = false;
  while (failure.empty()) {
    RecHead rh;
    if (!read_head(in, rh) || rh.magic != kStreamMagic) {
      failure = "checksum mismatch or incomplete stream";
      break;
    }
    if (rh.type == kRecEnd) {
      if (offset != h.total || cur != puts.size() || rh.ck != h.total - h.offset)
        failure = "checksum mismatch or incomplete stream";
      ended = true;
      break;
    }
    if (rh.type != kRecData || rh.len > kChunk || cur >= puts.size() ||
        cur_pos + rh.len > puts[cur]->size) {
      failure = "invalid backup stream";
      break;
    }
    if (in.read(buf.data(), rh.len) != rh.len || checksum(buf.data(), rh.len) != rh.ck) {
      failure = "checksum mismatch or incomplete stream";
      break;
    }
    open_partial();
    if (!f.dry) {
      size_t off = 0;
      while (off < rh.len) {
        ssize_t w = ::write(fd, buf.data() + off, rh.len - off);
        if (w < 0) {
          if (errno == EINTR) continue;
          failure = std::strerror(errno);
          break;
        }
        off += static_cast<size_t>(w);
      }
    }
    offset += rh.len;
    cur_pos += rh.len;
    skip_empty();
  }
  if (fd >= 0) ::close(fd);
  (void)ended;

  Lock lock2(dir);
  st.load();
  d = st.ds(fs);
  p = st.pool_of(fs);
  if (!failure.empty()) {
    if (f.dry) bail(failure);
    if (resumable && failure == "checksum mismatch or incomplete stream" && p) {
      if (!d) {
        Dataset nd;
        nd.name = fs;
        nd.type = h.type;
        nd.guid = random64();
        nd.createtxg = p->next_txg();
        nd.creation = static_cast<uint64_t>(std::time(nullptr));
        nd.inconsistent = true;
        nd.encryption = h.raw ? h.encryption : parent_enc;
        for (const auto& [k, v] : f.props) nd.props[k] = v;
        st.datasets[fs] = nd;
        d = st.ds(fs);
      }
      ResumeState r;
      r.toname = h.toname;
      r.tosnap = snapname;
      r.toguid = h.toguid;
      r.fromguid = h.fromguid;
      r.creation = h.creation;
      r.offset = offset;
      r.bytes = prior_bytes + (in.total() - start_bytes);
      r.object = cur;
      r.id = rid;
      r.flags = h.flags;
      r.raw = h.raw;
      r.encryption = h.encryption;
      r.done = done;
      d->resume = r;
      st.save();
      fail(1, kind + ": checksum mismatch or incomplete stream.\n"
                     "Partially received snapshot is saved.\n"
                     "A resuming stream can be generated on the sending system by running:\n"
                     "    zfs send -t " + resume_token_of(*d));
    }
    ::unlink(partial.c_str());
    if (d && h.resuming) {
      // A resumed receive that fails without -s loses its saved state too.
      if (d->inconsistent) st.datasets.erase(fs);
      else d->resume.reset();
      st.save();
    }
    st.gc_blobs();
    bail(failure);
  }
  if (f.dry) return;

  // Commit.
  Content content = base;
  size_t di = 0;
  for (const auto& op : h.ops) {
    if (!op.put) {
      if (op.name.empty()) content.clear();
      else content.erase(op.name);
    } else {
      content[op.name] = done[di++];
    }
  }
  if (!d) {
    if (!creating) bail("destination '" + fs + "' does not exist");
    Dataset nd;
    nd.name = fs;
    nd.type = h.type;
    nd.guid = random64();
    nd.createtxg = p->next_txg();
    nd.creation = static_cast<uint64_t>(std::time(nullptr));
    nd.encryption = h.raw ? h.encryption : parent_enc;
    for (const auto& [k, v] : f.props) nd.props[k] = v;
    st.datasets[fs] = nd;
    d = st.ds(fs);
  } else if (wantsnewfs) {
    d->guid = random64();
    d->snaps.clear();
    d->bookmarks.clear();
    for (const auto& [k, v] : f.props) d->props[k] = v;
  } else if (!h.resuming || h.fromguid) {
    // Incremental (-F may have asked to drop snapshots after the base).
    size_t keep = d->snaps.size();
    for (size_t i = 0; i < d->snaps.size(); i++)
      if (d->snaps[i].guid == h.fromguid) keep = i + 1;
    if (keep < d->snaps.size()) d->snaps.resize(keep);
    for (const auto& [k, v] : f.props) d->props[k] = v;
  }
  for (const auto& s : d->snaps)
    if (s.name == snapname) fail(1, "cannot restore to " + fs + "@" + snapname + ": destination already exists");
  Snapshot s;
  s.name = snapname;
  s.guid = h.toguid;
  s.createtxg = p->next_txg();
  s.creation = h.creation;
  s.content = content;
  d->snaps.push_back(s);
  d->content = content;
  d->modified = false;
  d->inconsistent = false;
  d->resume.reset();
  st.save();
  lock2.release();
  if (f.verbose) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    if (secs <= 0) secs = 1e-9;
    uint64_t n = in.total() - start_bytes;
    char buf2[128];
    std::snprintf(buf2, sizeof buf2, "received %s stream in %.2f seconds (%s/sec)\n",
                  nicebytes(n).c_str(), secs, nicebytes(static_cast<uint64_t>(static_cast<double>(n) / secs)).c_str());
    out(buf2);
  }
}

}  // namespace

int zfs_receive(const std::string& dir, const std::vector<std::string>& args) {
  Opts o = getopts(args, "sFuvnAdeMho:x:", kRecvUsage);
  if (o.rest.empty()) usage_fail(kRecvUsage, "missing snapshot argument");
  if (o.rest.size() > 1) usage_fail(kRecvUsage, "too many arguments");
  if (o.has('A')) return abort_resumable(dir, o.rest[0]);
  if (o.has('d') || o.has('e')) fail(1, "the zfs stand-in does not model receive -d/-e");
  Flags f;
  f.resumable = o.has('s');
  f.force = o.has('F');
  f.dry = o.has('n');
  f.verbose = o.has('v');
  f.nomount = o.has('u');
  for (const auto& kv : o.all('o')) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) usage_fail(kRecvUsage, "missing '=' for property=value argument");
    f.props[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (isatty(STDIN_FILENO))
    fail(1, "Error: Backup stream can not be read from a terminal.\nYou must redirect standard input.");
  Reader in(STDIN_FILENO);
  bool first = true;
  for (;;) {
    RecHead rh;
    if (!read_head(in, rh)) {
      if (first) fail(1, "cannot receive: failed to read from stream");
      fail(1, "cannot receive: failed to read from stream");
    }
    if (rh.magic != kStreamMagic || rh.type != kRecBegin || rh.len > (64u << 20))
      fail(1, "cannot receive: invalid stream (bad magic number)");
    std::string text(rh.len, '\0');
    if (in.read(reinterpret_cast<unsigned char*>(text.data()), rh.len) != rh.len)
      fail(1, "cannot receive: failed to read from stream");
    if (checksum(reinterpret_cast<const unsigned char*>(text.data()), text.size()) != rh.ck)
      fail(1, "cannot receive: invalid stream (checksum mismatch)");
    auto h = StreamHeader::decode(text);
    if (!h) fail(1, "cannot receive: invalid stream (bad snapshot name)");
    if (h->count > 1 && o.rest[0].find('@') != std::string::npos)
      fail(1, "cannot receive: cannot specify snapshot name for multi-snapshot stream");
    receive_one(dir, in, *h, o.rest[0], f);
    first = false;
    if (h->resuming || h->index + 1 >= h->count) break;
  }
  return 0;
}

}  // namespace zsim
