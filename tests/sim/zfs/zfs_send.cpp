// zfs send: full, incremental (-i/-I, from a snapshot or a bookmark), resumed (-t), dry runs with
// size estimates (-n -v -P), and the send-abort-after / send-slow faults.
#include <fcntl.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>

#include "cmds.hpp"
#include "stream.hpp"
#include "util.hpp"

namespace zsim {

namespace {

const char* kSendUsage =
    "\tsend [-DLPbcehnpsvw] [-i|-I snapshot]\n"
    "\t     [-R [-X dataset[,dataset]...]]     <snapshot>\n"
    "\tsend [-DnvPLecw] [-i snapshot|bookmark] <filesystem|volume|snapshot>\n"
    "\tsend [-PnvV] -t <receive_resume_token>\n";

struct Base {
  std::string label;  // how the estimate line names it
  uint64_t guid = 0;
  const Content* content = nullptr;
};

std::vector<FileOp> diff(const Content* base, const Content& target) {
  std::vector<FileOp> ops;
  if (base)
    for (const auto& [name, r] : *base)
      if (!target.count(name)) ops.push_back(FileOp{false, name, 0});
  for (const auto& [name, r] : target) {
    if (base) {
      auto it = base->find(name);
      if (it != base->end() && it->second.blob == r.blob) continue;
    }
    ops.push_back(FileOp{true, name, r.size});
  }
  return ops;
}

uint64_t total_of(const std::vector<FileOp>& ops) {
  uint64_t n = 0;
  for (const auto& op : ops)
    if (op.put) n += op.size;
  return n;
}

struct Planned {
  SubstreamPlan plan;
  std::string estimate_from;  // "" for a full stream
  const Content* target = nullptr;
};

std::string estimate_line(const Planned& p, uint64_t size, bool parsable) {
  const std::string& to = p.plan.header.toname;
  if (parsable) {
    if (p.estimate_from.empty()) return "full\t" + to + "\t" + std::to_string(size) + "\n";
    return "incremental\t" + p.estimate_from + "\t" + to + "\t" + std::to_string(size) + "\n";
  }
  if (p.estimate_from.empty()) return "full send of " + to + " estimated size is " + nicebytes(size) + "\n";
  std::string from = p.estimate_from;
  if (from.find_first_of("@#") == std::string::npos) from = "@" + from;
  return "send from " + from + " to " + to + " estimated size is " + nicebytes(size) + "\n";
}

void open_fds(State& st, Planned& p) {
  for (const auto& op : p.plan.header.ops) {
    if (!op.put) continue;
    const FileRef& r = p.target->at(op.name);
    int fd = ::open(st.blob_path(r.blob).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(1, "warning: cannot send '" + p.plan.header.toname + "': Input/output error");
    p.plan.fds.push_back(fd);
  }
}

}  // namespace

int zfs_send(const std::string& dir, const std::vector<std::string>& args) {
  Opts o = getopts(args, "wLecpvPnDRbhVsi:I:t:X:", kSendUsage);
  const bool dry = o.has('n'), parsable = o.has('P'), raw = o.has('w');
  const bool verbose = o.has('v') || parsable;
  if (o.has('R')) fail(1, "the zfs stand-in does not model replication streams (-R)");
  std::string flags;
  auto addflag = [&](bool on, const char* f) {
    if (on) flags += (flags.empty() ? "" : ",") + std::string(f);
  };
  addflag(o.has('L'), "largeblockok");
  addflag(o.has('e') || raw, "embedok");
  addflag(o.has('c') || raw, "compressok");
  addflag(raw, "rawok");
  std::FILE* fout = dry ? stdout : stderr;

  State st;
  st.dir = dir;
  Lock lock(dir);
  st.load();
  std::vector<Planned> plans;

  if (o.has('t')) {
    if (!o.rest.empty()) usage_fail(kSendUsage, "too many arguments");
    std::string why;
    auto tok = decode_token(o.all('t').back(), why);
    if (!tok) fail(1, "cannot resume send: " + why);
    if (verbose) {
      std::string t = "resume token contents:\nnvlist version: 0\n";
      char buf[64];
      auto hx = [&](const char* k, uint64_t v) {
        std::snprintf(buf, sizeof buf, "\t%s = 0x%" PRIx64 "\n", k, v);
        t += buf;
      };
      if (tok->fromguid) hx("fromguid", tok->fromguid);
      hx("object", tok->object);
      hx("offset", tok->offset);
      hx("bytes", tok->bytes);
      hx("toguid", tok->toguid);
      t += "\ttoname = " + tok->toname + "\n";
      for (const auto& f : tok->flags) t += "\t" + f + " = 1\n";
      std::fputs(t.c_str(), fout);
    }
    const std::string fsname = tok->toname.substr(0, tok->toname.find('@'));
    Dataset* d = st.ds(fsname);
    Snapshot* to = nullptr;
    if (d)
      for (auto& s : d->snaps)
        if (s.guid == tok->toguid) to = &s;
    if (!to) {
      if (st.snap(tok->toname))
        fail(1, "cannot resume send: '" + tok->toname + "' is no longer the same snapshot used in the initial send");
      fail(1, "cannot resume send: '" + tok->toname + "' used in the initial send no longer exists");
    }
    Planned p;
    p.target = &to->content;
    const Content* base = nullptr;
    if (tok->fromguid) {
      std::string fromname;
      for (auto& s : d->snaps)
        if (s.guid == tok->fromguid) {
          base = &s.content;
          fromname = s.name;
        }
      if (!base) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%#" PRIx64, tok->fromguid);
        fail(1, std::string("cannot resume send: incremental source ") + buf + " no longer exists");
      }
      p.estimate_from = fsname + "@" + fromname;
      p.plan.header.fromname = fromname;
    }
    StreamHeader& h = p.plan.header;
    h.toname = fsname + "@" + to->name;
    h.toguid = to->guid;
    h.fromguid = tok->fromguid;
    h.creation = to->creation;
    h.type = d->type;
    h.raw = false;
    for (const auto& f : tok->flags) {
      if (f == "rawok") h.raw = true;
      flags += (flags.find(f) == std::string::npos ? (flags.empty() ? "" : ",") + f : "");
    }
    h.encryption = h.raw ? d->encryption : "off";
    h.flags = flags;
    h.resuming = true;
    h.offset = tok->offset;
    h.ops = diff(base, to->content);
    h.total = total_of(h.ops);
    if (h.offset > h.total) fail(1, "cannot resume send: resume token is corrupt");
    plans.push_back(std::move(p));
  } else {
    if (o.rest.empty()) usage_fail(kSendUsage, "missing snapshot argument");
    if (o.rest.size() > 1) usage_fail(kSendUsage, "too many arguments");
    const std::string arg = o.rest[0];
    std::string from;
    bool doall = false;
    for (const auto& [c, v] : o.list) {
      if (c == 'i' || c == 'I') {
        from = v;
        doall = c == 'I';
      }
    }
    if (arg.find('@') == std::string::npos || (!from.empty() && from.find('#') != std::string::npos)) {
      if (doall || o.has('p') || o.has('b') || o.has('h') ||
          (arg.find('@') == std::string::npos && (verbose || o.has('D')))) {
        fail(1, "Error: Unsupported flag with filesystem or bookmark.");
      }
    }
    if (arg.find('@') == std::string::npos)
      fail(1, "cannot send '" + arg + "': the zfs stand-in only sends snapshots");
    const std::string fsname = arg.substr(0, arg.find('@'));
    Snapshot* to = st.snap(arg);
    if (!to) fail(1, "cannot open '" + arg + "': dataset does not exist");
    Dataset* d = st.ds(fsname);
    if (d->encryption != "off" && !raw && o.has('p'))
      fail(1, "cannot send " + arg + ": encrypted dataset " + arg +
                  " may not be sent with properties without the raw flag");
    // Resolve the base: "@s", "s", "fs@s" or "fs#bm".
    std::vector<std::pair<Base, const Snapshot*>> chain;  // (base, target) pairs
    if (from.empty()) {
      chain.push_back({Base{}, to});
    } else {
      std::string full = from;
      if (full[0] == '@' || full[0] == '#') full = fsname + full;
      else if (full.find_first_of("@#") == std::string::npos) full = fsname + "@" + full;
      const std::string ffs = full.substr(0, full.find_first_of("@#"));
      Base b;
      uint64_t base_txg = 0;
      if (full.find('#') != std::string::npos) {
        Bookmark* bm = st.bookmark(full);
        if (ffs != fsname || !bm)
          fail(1, "warning: cannot send '" + arg + "': incremental source (" + full + ") does not exist");
        b.label = full;
        b.guid = bm->guid;
        base_txg = bm->createtxg;
        // A bookmark keeps no data: the sender diffs against the snapshot it was made from when it
        // still exists, else sends every file (the stream is still an incremental one).
        for (const auto& s : d->snaps)
          if (s.guid == bm->guid) b.content = &s.content;
      } else {
        Snapshot* fs = st.snap(full);
        if (!fs) fail(1, "cannot open '" + full + "': dataset does not exist");
        if (ffs != fsname)
          fail(1, "warning: cannot send '" + arg + "': not an earlier snapshot from the same fs");
        b.label = fs->name;
        b.guid = fs->guid;
        b.content = &fs->content;
        base_txg = fs->createtxg;
      }
      if (base_txg >= to->createtxg)
        fail(1, "warning: cannot send '" + arg + "': not an earlier snapshot from the same fs");
      if (doall) {
        for (const auto& s : d->snaps) {
          if (s.createtxg <= base_txg || s.createtxg > to->createtxg) continue;
          chain.push_back({b, &s});
          b = Base{s.name, s.guid, &s.content};
        }
      } else {
        chain.push_back({b, to});
      }
    }
    for (size_t i = 0; i < chain.size(); i++) {
      const auto& [b, target] = chain[i];
      Planned p;
      p.target = &target->content;
      p.estimate_from = b.label;
      StreamHeader& h = p.plan.header;
      h.toname = fsname + "@" + target->name;
      h.fromname = b.label;
      h.toguid = target->guid;
      h.fromguid = b.guid;
      h.creation = target->creation;
      h.type = d->type;
      h.raw = raw;
      h.encryption = raw ? d->encryption : "off";
      h.flags = flags;
      h.index = static_cast<uint32_t>(i);
      h.count = static_cast<uint32_t>(chain.size());
      h.ops = diff(b.guid ? b.content : nullptr, target->content);
      if (b.guid && !b.content) {
        h.ops = diff(nullptr, target->content);
        h.ops.insert(h.ops.begin(), FileOp{false, "", 0});  // "start from empty"
      }
      h.total = total_of(h.ops);
      plans.push_back(std::move(p));
    }
  }

  if (verbose) {
    uint64_t total = 0;
    std::string text;
    for (const auto& p : plans) {
      uint64_t size = substream_size(p.plan.header);
      total += size;
      text += estimate_line(p, size, parsable);
    }
    text += parsable ? "size\t" + std::to_string(total) + "\n"
                     : "total estimated size is " + nicebytes(total) + "\n";
    std::fputs(text.c_str(), fout);
    std::fflush(fout);
  }
  if (dry) return 0;
  if (isatty(STDOUT_FILENO))
    fail(1, "Error: Stream can not be written to a terminal.\nYou must redirect standard output.");
  for (auto& p : plans) open_fds(st, p);
  uint64_t budget = 0;
  bool cut = false;
  if (st.fault_abort_armed) {
    budget = st.fault_abort_after;
    cut = true;
    st.fault_abort_armed = false;
    st.save();
  }
  const uint64_t rate = st.fault_slow;
  lock.release();  // stream without holding the lock

  for (const auto& p : plans) {
    std::string error;
    if (!write_substream(STDOUT_FILENO, p.plan, cut ? &budget : nullptr, rate, error)) {
      if (error.empty()) error = "Input/output error";
      fail(1, "warning: cannot send '" + p.plan.header.toname + "': " + error);
    }
    for (int fd : p.plan.fds) ::close(fd);
  }
  return 0;
}

}  // namespace zsim
