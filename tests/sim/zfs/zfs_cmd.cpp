// zfs: dispatch, and the metadata commands (create, destroy, snapshot, rollback, bookmark, hold,
// release, holds, set, version).
#include <algorithm>
#include <ctime>
#include <set>

#include "cmds.hpp"
#include "util.hpp"

namespace zsim {

bool Opts::has(char c) const {
  for (const auto& [k, v] : list)
    if (k == c) return true;
  return false;
}

std::vector<std::string> Opts::all(char c) const {
  std::vector<std::string> r;
  for (const auto& [k, v] : list)
    if (k == c) r.push_back(v);
  return r;
}

void usage_fail(const std::string& usage, const std::string& msg) {
  std::string t;
  if (!msg.empty()) t += msg + "\n";
  t += "usage:\n" + usage;
  err(t);
  throw Exit{2};
}

Opts getopts(const std::vector<std::string>& args, const std::string& spec, const std::string& usage) {
  Opts o;
  size_t i = 0;
  for (; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "--") {
      i++;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    for (size_t j = 1; j < a.size(); j++) {
      char c = a[j];
      auto pos = spec.find(c);
      if (pos == std::string::npos || c == ':')
        usage_fail(usage, std::string("invalid option '") + c + "'");
      if (pos + 1 < spec.size() && spec[pos + 1] == ':') {
        std::string v;
        if (j + 1 < a.size()) {
          v = a.substr(j + 1);
        } else if (i + 1 < args.size()) {
          v = args[++i];
        } else {
          usage_fail(usage, std::string("missing argument for '") + c + "' option");
        }
        o.list.emplace_back(c, v);
        break;
      }
      o.list.emplace_back(c, "");
    }
  }
  o.rest.assign(args.begin() + static_cast<long>(i), args.end());
  return o;
}

namespace {

uint64_t now() { return static_cast<uint64_t>(std::time(nullptr)); }

const char* kCreateUsage =
    "\tcreate [-Pnpuv] [-o property=value] ... <filesystem>\n"
    "\tcreate [-Pnpsv] [-b blocksize] [-o property=value] ... -V <size> <volume>\n";
const char* kDestroyUsage =
    "\tdestroy [-fnpRrv] <filesystem|volume>\n"
    "\tdestroy [-dnpRrv] <filesystem|volume>@<snap>[%<snap>][,...]\n"
    "\tdestroy <filesystem|volume>#<bookmark>\n";
const char* kSnapUsage = "\tsnapshot [-r] [-o property=value] ... <filesystem|volume>@<snap> ...\n";
const char* kRollbackUsage = "\trollback [-rRf] <snapshot>\n";
const char* kBookmarkUsage = "\tbookmark <snapshot|bookmark> <newbookmark>\n";
const char* kHoldUsage = "\thold [-r] <tag> <snapshot> ...\n";
const char* kReleaseUsage = "\trelease [-r] <tag> <snapshot> ...\n";
const char* kHoldsUsage = "\tholds [-rHp] <snapshot> ...\n";
const char* kSetUsage = "\tset <property=value> ... <filesystem|volume|snapshot> ...\n";

bool settable(const std::string& p) {
  static const std::set<std::string> s = {"mountpoint", "compression", "readonly", "atime",
                                          "canmount",   "checksum",    "recordsize", "quota",
                                          "reservation"};
  return s.count(p) || p.find(':') != std::string::npos;
}

std::string canon_set(const std::string& p) {
  if (p == "compress") return "compression";
  if (p == "rdonly") return "readonly";
  if (p == "recsize") return "recordsize";
  return p;
}

uint64_t parse_size(const std::string& s) {
  if (s.empty()) return 0;
  char suf = static_cast<char>(std::toupper(static_cast<unsigned char>(s.back())));
  uint64_t mult = 1;
  std::string n = s;
  const std::string units = "KMGTPE";
  auto pos = units.find(suf);
  if (pos != std::string::npos) {
    for (size_t i = 0; i <= pos; i++) mult *= 1024;
    n = s.substr(0, s.size() - 1);
  } else if (suf == 'B') {
    n = s.substr(0, s.size() - 1);
  }
  uint64_t v = 0;
  parse_u64(n, v);
  return v * mult;
}

void new_dataset(State& st, const std::string& name, const std::string& type,
                 const std::map<std::string, std::string>& props) {
  Pool* p = st.pool_of(name);
  Dataset d;
  d.name = name;
  d.type = type;
  d.guid = random64();
  d.createtxg = p->next_txg();
  d.creation = now();
  for (const auto& [k, v] : props) {
    if (k == "encryption") d.encryption = v == "on" ? "aes-256-gcm" : v;
    else if (k == "volsize") d.volsize = parse_size(v);
    else if (k != "keyformat" && k != "keylocation") d.props[k] = v;
  }
  if (d.encryption == "off") {
    // Children inherit their parent's encryption.
    auto slash = name.rfind('/');
    if (slash != std::string::npos)
      if (Dataset* parent = st.ds(name.substr(0, slash))) d.encryption = parent->encryption;
  }
  st.datasets[name] = d;
}

int do_create(State& st, const std::vector<std::string>& args) {
  Opts o = getopts(args, "pPnuvsV:b:o:", kCreateUsage);
  if (o.rest.empty()) usage_fail(kCreateUsage, "missing filesystem argument");
  if (o.rest.size() > 1) usage_fail(kCreateUsage, "too many arguments");
  std::string name = o.rest[0];
  std::map<std::string, std::string> props;
  for (const auto& kv : o.all('o')) {
    auto eq = kv.find('=');
    if (eq == std::string::npos)
      usage_fail(kCreateUsage, "missing '=' for property=value argument");
    props[canon_set(kv.substr(0, eq))] = kv.substr(eq + 1);
  }
  std::string type = "filesystem";
  if (o.has('V')) {
    type = "volume";
    props["volsize"] = o.all('V').back();
  }
  const std::string what = "cannot create '" + name + "': ";
  if (!valid_name_chars(name) || name.find_first_of("@#") != std::string::npos)
    fail(1, what + "invalid character in name");
  Pool* p = st.pool_of(name);
  if (!p) fail(1, what + "no such pool '" + name.substr(0, name.find('/')) + "'");
  if (name.find('/') == std::string::npos) fail(1, what + "missing dataset name");
  if (st.ds(name)) fail(1, what + "dataset already exists");
  if (props.count("encryption") && props["encryption"] != "off" && !p->features["encryption"])
    fail(1, what + "pool must be upgraded to set this property or value");
  std::string parent = name.substr(0, name.rfind('/'));
  if (!st.ds(parent)) {
    if (!o.has('p')) fail(1, what + "parent does not exist");
    std::vector<std::string> missing;
    for (std::string n = parent; !st.ds(n); n = n.substr(0, n.rfind('/'))) missing.push_back(n);
    std::reverse(missing.begin(), missing.end());
    if (!o.has('n'))
      for (const auto& m : missing) new_dataset(st, m, "filesystem", {});
  }
  Dataset* pd = st.ds(parent);
  if (pd && pd->type == "volume") fail(1, what + "parent is not a filesystem");
  if (o.has('n')) return 0;
  new_dataset(st, name, type, props);
  st.save();
  return 0;
}

bool any_holds(const Snapshot& s) { return !s.holds.empty(); }

int do_destroy(State& st, const std::vector<std::string>& args) {
  Opts o = getopts(args, "dfnpRrv", kDestroyUsage);
  if (o.rest.empty()) usage_fail(kDestroyUsage, "missing dataset argument");
  if (o.rest.size() > 1) usage_fail(kDestroyUsage, "too many arguments");
  const std::string arg = o.rest[0];
  const bool dry = o.has('n'), verbose = o.has('v'), parsable = o.has('p');
  const bool recursive = o.has('r') || o.has('R');
  auto report = [&](const std::string& name) {
    if (parsable) out("destroy\t" + name + "\n");
    else if (verbose || dry) out((dry ? "would destroy " : "will destroy ") + name + "\n");
  };
  if (arg.find('#') != std::string::npos) {
    Bookmark* b = st.bookmark(arg);
    if (!b) fail(1, "bookmark '" + arg + "' does not exist.");
    if (dry) return 0;
    Dataset* d = st.ds(arg.substr(0, arg.find('#')));
    d->bookmarks.erase(std::remove_if(d->bookmarks.begin(), d->bookmarks.end(),
                                      [&](const Bookmark& x) { return x.name == b->name; }),
                       d->bookmarks.end());
    st.save();
    return 0;
  }
  auto at = arg.find('@');
  if (at != std::string::npos) {
    std::string fs = arg.substr(0, at);
    if (!st.ds(fs)) fail(1, "could not find any snapshots to destroy; check snapshot names.");
    std::vector<std::string> fss{fs};
    if (recursive) {
      auto ds = st.descendants(fs);
      fss.insert(fss.end(), ds.begin(), ds.end());
    }
    // Names: a,b,c and ranges a%c.
    std::vector<std::pair<std::string, size_t>> victims;  // (dataset, snapshot index)
    for (const auto& f : fss) {
      Dataset* d = st.ds(f);
      for (const auto& spec : split(arg.substr(at + 1), ',')) {
        auto pct = spec.find('%');
        for (size_t i = 0; i < d->snaps.size(); i++) {
          bool hit = false;
          if (pct == std::string::npos) {
            hit = d->snaps[i].name == spec;
          } else {
            std::string from = spec.substr(0, pct), to = spec.substr(pct + 1);
            size_t fi = from.empty() ? 0 : d->snaps.size(), ti = to.empty() ? d->snaps.size() - 1 : d->snaps.size();
            for (size_t k = 0; k < d->snaps.size(); k++) {
              if (d->snaps[k].name == from) fi = k;
              if (d->snaps[k].name == to) ti = k;
            }
            hit = fi < d->snaps.size() && ti < d->snaps.size() && i >= fi && i <= ti;
          }
          if (hit) victims.emplace_back(f, i);
        }
      }
    }
    if (victims.empty()) fail(1, "could not find any snapshots to destroy; check snapshot names.");
    uint64_t reclaim = 0;
    for (const auto& [f, i] : victims) {
      Dataset* d = st.ds(f);
      reclaim += st.snap_used(*d, i);
      report(f + "@" + d->snaps[i].name);
    }
    if (dry || verbose) {
      if (parsable) out("reclaim\t" + std::to_string(reclaim) + "\n");
      else out((dry ? "would reclaim " : "will reclaim ") + nicebytes(reclaim) + "\n");
    }
    for (const auto& [f, i] : victims) {
      Dataset* d = st.ds(f);
      if (any_holds(d->snaps[i]) && !o.has('d'))
        fail(1, "cannot destroy snapshot " + f + "@" + d->snaps[i].name + ": dataset is busy");
    }
    if (dry) return 0;
    std::map<std::string, std::set<std::string>> gone;
    for (const auto& [f, i] : victims) gone[f].insert(st.ds(f)->snaps[i].name);
    for (const auto& [f, names] : gone) {
      Dataset* d = st.ds(f);
      d->snaps.erase(std::remove_if(d->snaps.begin(), d->snaps.end(),
                                    [&](const Snapshot& s) { return names.count(s.name) > 0; }),
                     d->snaps.end());
    }
    st.save();
    st.gc_blobs();
    return 0;
  }
  Dataset* d = st.ds(arg);
  if (!d) fail(1, "cannot open '" + arg + "': dataset does not exist");
  if (arg.find('/') == std::string::npos)
    fail(1, "cannot destroy '" + arg + "': operation does not apply to pools\n"
            "use 'zfs destroy -r " + arg + "' to destroy all datasets in the pool\n"
            "use 'zpool destroy " + arg + "' to destroy the pool itself");
  std::vector<std::string> order = st.descendants(arg);
  if (!recursive) {
    std::vector<std::string> deps;
    for (const auto& s : d->snaps) deps.push_back(arg + "@" + s.name);
    for (const auto& c : order) deps.push_back(c);
    if (!deps.empty()) {
      std::string t = "cannot destroy '" + arg + "': " + d->type + " has children\n"
                      "use '-r' to destroy the following datasets:\n";
      for (const auto& x : deps) t += x + "\n";
      fail(1, t);
    }
  }
  // Deepest first, each dataset's snapshots before the dataset.
  std::reverse(order.begin(), order.end());
  order.push_back(arg);
  for (const auto& n : order) {
    Dataset* x = st.ds(n);
    for (const auto& s : x->snaps) {
      if (any_holds(s)) fail(1, "cannot destroy snapshot " + n + "@" + s.name + ": dataset is busy");
    }
  }
  for (const auto& n : order) {
    Dataset* x = st.ds(n);
    for (const auto& s : x->snaps) report(n + "@" + s.name);
    report(n);
  }
  if (dry) return 0;
  for (const auto& n : order) st.datasets.erase(n);
  st.save();
  st.gc_blobs();
  return 0;
}

int do_snapshot(State& st, const std::vector<std::string>& args) {
  Opts o = getopts(args, "ro:", kSnapUsage);
  if (o.rest.empty()) usage_fail(kSnapUsage, "missing snapshot argument");
  std::vector<std::pair<std::string, std::string>> todo;
  for (const auto& a : o.rest) {
    auto at = a.find('@');
    if (at == std::string::npos)
      fail(1, "cannot create snapshot '" + a + "': missing '@' delimiter in snapshot name");
    std::string fs = a.substr(0, at), sn = a.substr(at + 1);
    if (sn.empty() || !valid_name_chars(sn) || sn.find('/') != std::string::npos)
      fail(1, "cannot create snapshot '" + a + "': invalid character '@' in name");
    if (!st.ds(fs)) fail(1, "cannot create snapshot '" + a + "': dataset does not exist");
    todo.emplace_back(fs, sn);
    if (o.has('r'))
      for (const auto& c : st.descendants(fs)) todo.emplace_back(c, sn);
  }
  for (const auto& [fs, sn] : todo) {
    if (st.snap(fs + "@" + sn))
      fail(1, "cannot create snapshot '" + fs + "@" + sn + "': dataset already exists");
  }
  // All snapshots of one command share a txg, as in OpenZFS.
  std::map<std::string, uint64_t> txgs;
  for (const auto& [fs, sn] : todo) {
    Pool* p = st.pool_of(fs);
    if (!txgs.count(p->name)) txgs[p->name] = p->next_txg();
    Dataset* d = st.ds(fs);
    Snapshot s;
    s.name = sn;
    s.guid = random64();
    s.createtxg = txgs[p->name];
    s.creation = now();
    s.content = d->content;
    d->snaps.push_back(s);
    d->modified = false;
  }
  st.save();
  return 0;
}

int do_rollback(State& st, const std::vector<std::string>& args) {
  Opts o = getopts(args, "rRf", kRollbackUsage);
  if (o.rest.empty()) usage_fail(kRollbackUsage, "missing dataset argument");
  if (o.rest.size() > 1) usage_fail(kRollbackUsage, "too many arguments");
  const std::string arg = o.rest[0];
  auto at = arg.find('@');
  if (at == std::string::npos)
    fail(1, "cannot open '" + arg + "': operation not applicable to datasets of this type");
  Snapshot* s = st.snap(arg);
  if (!s) fail(1, "cannot open '" + arg + "': dataset does not exist");
  Dataset* d = st.ds(arg.substr(0, at));
  uint64_t txg = s->createtxg;
  std::vector<std::string> later;
  for (const auto& x : d->snaps)
    if (x.createtxg > txg) later.push_back(d->name + "@" + x.name);
  for (const auto& b : d->bookmarks)
    if (b.createtxg > txg) later.push_back(d->name + "#" + b.name);
  if (!later.empty() && !o.has('r') && !o.has('R')) {
    std::string t = "cannot rollback to '" + arg + "': more recent snapshots or bookmarks exist\n"
                    "use '-r' to force deletion of the following snapshots and bookmarks:\n";
    for (const auto& x : later) t += x + "\n";
    fail(1, t);
  }
  for (const auto& x : d->snaps)
    if (x.createtxg > txg && any_holds(x))
      fail(1, "cannot destroy '" + d->name + "@" + x.name + "': dataset is busy");
  Content c = s->content;
  d->snaps.erase(std::remove_if(d->snaps.begin(), d->snaps.end(),
                                [&](const Snapshot& x) { return x.createtxg > txg; }),
                 d->snaps.end());
  d->bookmarks.erase(std::remove_if(d->bookmarks.begin(), d->bookmarks.end(),
                                    [&](const Bookmark& x) { return x.createtxg > txg; }),
                     d->bookmarks.end());
  d->content = c;
  d->modified = false;
  st.save();
  st.gc_blobs();
  return 0;
}

int do_bookmark(State& st, const std::vector<std::string>& args) {
  Opts o = getopts(args, "", kBookmarkUsage);
  if (o.rest.size() < 1) usage_fail(kBookmarkUsage, "missing snapshot argument");
  if (o.rest.size() < 2) usage_fail(kBookmarkUsage, "missing bookmark argument");
  if (o.rest.size() > 2) usage_fail(kBookmarkUsage, "too many arguments");
  const std::string src = o.rest[0], dst = o.rest[1];
  if (dst.find('#') == std::string::npos)
    usage_fail(kBookmarkUsage, "invalid bookmark name '" + dst + "': must contain a '#'");
  const std::string what = "cannot create bookmark '" + dst + "': ";
  std::string fs = dst.substr(0, dst.find('#'));
  if (src.find('@') == std::string::npos && src.find('#') == std::string::npos)
    usage_fail(kBookmarkUsage, "invalid source name '" + src + "': must contain a '@' or '#'");
  if (src.substr(0, src.find_first_of("@#")) != fs)
    fail(1, what + "source is not an ancestor of the new bookmark's dataset");
  uint64_t guid = 0, txg = 0, creation = 0;
  if (Snapshot* s = st.snap(src)) {
    guid = s->guid;
    txg = s->createtxg;
    creation = s->creation;
  } else if (Bookmark* b = st.bookmark(src)) {
    guid = b->guid;
    txg = b->createtxg;
    creation = b->creation;
  } else {
    fail(1, what + (src.find('@') != std::string::npos ? "snapshot" : "bookmark") +
                " does not exist");
  }
  Pool* p = st.pool_of(fs);
  if (!p->features["bookmarks"]) fail(1, what + "bookmark feature not enabled");
  if (st.bookmark(dst)) fail(1, what + "bookmark exists");
  Dataset* d = st.ds(fs);
  d->bookmarks.push_back(Bookmark{dst.substr(dst.find('#') + 1), guid, txg, creation});
  st.save();
  return 0;
}

std::vector<std::string> with_descendants(State& st, const std::string& snapname, bool r) {
  std::vector<std::string> v{snapname};
  if (!r) return v;
  auto at = snapname.find('@');
  if (at == std::string::npos) return v;
  for (const auto& c : st.descendants(snapname.substr(0, at))) {
    std::string n = c + snapname.substr(at);
    if (st.snap(n)) v.push_back(n);
  }
  return v;
}

int do_hold(State& st, const std::vector<std::string>& args, bool release) {
  const char* usage = release ? kReleaseUsage : kHoldUsage;
  Opts o = getopts(args, "r", usage);
  if (o.rest.size() < 2) usage_fail(usage, "missing snapshot argument");
  const std::string tag = o.rest[0];
  int rc = 0;
  for (size_t i = 1; i < o.rest.size(); i++) {
    for (const auto& n : with_descendants(st, o.rest[i], o.has('r'))) {
      const std::string what = release ? "cannot release hold from snapshot '" + n + "': "
                                       : "cannot hold snapshot '" + n + "': ";
      if (n.find('@') == std::string::npos) {
        err("'" + n + "' is not a snapshot\n");
        rc = 1;
        continue;
      }
      Snapshot* s = st.snap(n);
      if (!s) {
        err(what + "dataset does not exist\n");
        rc = 1;
        continue;
      }
      if (release) {
        if (!s->holds.erase(tag)) {
          err(what + "no such tag on this dataset\n");
          rc = 1;
        }
      } else {
        if (s->holds.count(tag)) {
          err(what + "tag already exists on this dataset\n");
          rc = 1;
          continue;
        }
        s->holds[tag] = now();
      }
    }
  }
  st.save();
  return rc;
}

int do_holds(State& st, const std::vector<std::string>& args) {
  Opts o = getopts(args, "rHp", kHoldsUsage);
  if (o.rest.empty()) usage_fail(kHoldsUsage, "missing snapshot argument");
  Table t;
  t.header = {"NAME", "TAG", "TIMESTAMP"};
  t.right = {false, false, false};
  int rc = 0;
  for (const auto& a : o.rest) {
    if (a.find('@') == std::string::npos) {
      err("'" + a + "' is not a snapshot\n");
      rc = 1;
      continue;
    }
    if (!st.snap(a)) {
      err("cannot open '" + a + "': dataset does not exist\n");
      rc = 1;
      continue;
    }
    for (const auto& n : with_descendants(st, a, o.has('r'))) {
      for (const auto& [tag, when] : st.snap(n)->holds) {
        t.rows.push_back({n, tag, o.has('p') ? std::to_string(when)
                                              : time_short(static_cast<std::time_t>(when))});
      }
    }
  }
  if (!t.rows.empty()) out(t.render(o.has('H')));
  return rc;
}

int do_set(State& st, const std::vector<std::string>& args) {
  if (args.size() < 2) usage_fail(kSetUsage, args.empty() ? "missing arguments" : "missing dataset name(s)");
  std::vector<std::pair<std::string, std::string>> kvs;
  size_t i = 0;
  for (; i < args.size() && args[i].find('=') != std::string::npos; i++) {
    auto eq = args[i].find('=');
    kvs.emplace_back(canon_set(args[i].substr(0, eq)), args[i].substr(eq + 1));
  }
  if (kvs.empty()) usage_fail(kSetUsage, "missing '=' for property=value argument");
  for (; i < args.size(); i++) {
    Dataset* d = st.ds(args[i]);
    if (!d) fail(1, "cannot open '" + args[i] + "': dataset does not exist");
    for (const auto& [k, v] : kvs) {
      if (!settable(k)) fail(1, "cannot set property for '" + args[i] + "': '" + k + "' is readonly");
      d->props[k] = v;
    }
  }
  st.save();
  return 0;
}

}  // namespace

int zfs_main(const std::string& dir, const std::vector<std::string>& argv) {
  static const std::string kUsage =
      "\tversion\n\tcreate\n\tdestroy\n\tsnapshot\n\trollback\n\tbookmark\n\tlist\n\tget\n\tset\n"
      "\tsend\n\treceive\n\thold\n\tholds\n\trelease\n";
  if (argv.empty()) usage_fail(kUsage);
  const std::string cmd = argv[0];
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  if (cmd == "send") return zfs_send(dir, args);
  if (cmd == "receive" || cmd == "recv") return zfs_receive(dir, args);
  State st;
  st.dir = dir;
  Lock lock(dir);
  st.load();
  if (cmd == "version" || cmd == "-V" || cmd == "--version") {
    out("zfs-" + st.version + "\nzfs-kmod-" + st.version + "\n");
    return 0;
  }
  if (cmd == "list") return zfs_list(st, args);
  if (cmd == "get") return zfs_get(st, args);
  if (cmd == "set") return do_set(st, args);
  if (cmd == "create") return do_create(st, args);
  if (cmd == "destroy") return do_destroy(st, args);
  if (cmd == "snapshot" || cmd == "snap") return do_snapshot(st, args);
  if (cmd == "rollback") return do_rollback(st, args);
  if (cmd == "bookmark") return do_bookmark(st, args);
  if (cmd == "hold") return do_hold(st, args, false);
  if (cmd == "release") return do_hold(st, args, true);
  if (cmd == "holds") return do_holds(st, args);
  err("unrecognized command '" + cmd + "'\n");
  usage_fail(kUsage);
}

}  // namespace zsim
