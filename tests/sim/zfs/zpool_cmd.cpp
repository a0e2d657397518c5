// zpool: list, get, status, scrub, version.
#include <algorithm>
#include <ctime>

#include "cmds.hpp"
#include "util.hpp"

namespace zsim {

namespace {

const char* kListUsage = "\tlist [-gHLpPv] [-o property[,...]] [-T d|u] [pool] ... [interval [count]]\n";
const char* kGetUsage = "\tget [-Hp] [-o \"all\" | field[,...]] <\"all\" | property[,...]> <pool> ...\n";
const char* kStatusUsage = "\tstatus [-c [script1,script2,...]] [-igLpPstvxD]  [-T d|u] [pool] ... [interval [count]]\n";
const char* kScrubUsage = "\tscrub [-s | -p] [-w] <pool> ...\n";

std::string canon(const std::string& p) {
  if (p == "alloc") return "allocated";
  if (p == "cap") return "capacity";
  if (p == "frag") return "fragmentation";
  if (p == "dedup") return "dedupratio";
  if (p == "expandsz") return "expandsize";
  if (p == "ckpoint") return "checkpoint";
  return p;
}

struct PProp {
  std::string name, header, source;
  bool right;
};

const std::vector<PProp>& pprops() {
  static const std::vector<PProp> t = {
      {"name", "NAME", "-", false},          {"size", "SIZE", "-", true},
      {"capacity", "CAP", "-", true},        {"altroot", "ALTROOT", "default", false},
      {"health", "HEALTH", "-", false},      {"guid", "GUID", "-", true},
      {"version", "VERSION", "default", true}, {"bootfs", "BOOTFS", "default", false},
      {"delegation", "DELEGATION", "default", false}, {"autoreplace", "REPLACE", "default", false},
      {"cachefile", "CACHEFILE", "default", false}, {"failmode", "FAILMODE", "default", false},
      {"listsnapshots", "LISTSNAPS", "default", false}, {"autoexpand", "EXPAND", "default", false},
      {"dedupratio", "DEDUP", "-", true},    {"free", "FREE", "-", true},
      {"allocated", "ALLOC", "-", true},     {"readonly", "RDONLY", "-", false},
      {"ashift", "ASHIFT", "local", true},   {"comment", "COMMENT", "default", false},
      {"expandsize", "EXPANDSZ", "-", true}, {"freeing", "FREEING", "-", true},
      {"fragmentation", "FRAG", "-", true},  {"leaked", "LEAKED", "-", true},
      {"multihost", "MULTIHOST", "default", false}, {"checkpoint", "CKPOINT", "-", true},
      {"autotrim", "AUTOTRIM", "default", false}, {"compatibility", "COMPATIBILITY", "default", false},
  };
  return t;
}

const PProp* pprop(const std::string& n) {
  for (const auto& p : pprops())
    if (p.name == n) return &p;
  return nullptr;
}

std::string pool_value(State& st, const Pool& p, const std::string& prop, bool parsable) {
  uint64_t alloc = std::min(st.pool_alloc(p.name), p.size);
  auto b = [&](uint64_t n) { return parsable ? std::to_string(n) : nicebytes(n); };
  if (prop == "name") return p.name;
  if (prop == "size") return b(p.size);
  if (prop == "allocated") return b(alloc);
  if (prop == "free") return b(p.size - alloc);
  if (prop == "capacity") {
    uint64_t c = p.size ? alloc * 100 / p.size : 0;
    return parsable ? std::to_string(c) : std::to_string(c) + "%";
  }
  if (prop == "health") return p.health;
  if (prop == "guid") return std::to_string(p.guid);
  if (prop == "version") return "-";
  if (prop == "dedupratio") return parsable ? "1.00" : "1.00x";
  if (prop == "fragmentation") return parsable ? "0" : "0%";
  if (prop == "expandsize" || prop == "checkpoint" || prop == "altroot" || prop == "bootfs" ||
      prop == "cachefile" || prop == "comment")
    return "-";
  if (prop == "freeing" || prop == "leaked") return "0";
  if (prop == "readonly") return "off";
  if (prop == "ashift") return "12";
  if (prop == "delegation") return "on";
  if (prop == "autoreplace" || prop == "listsnapshots" || prop == "autoexpand" ||
      prop == "multihost" || prop == "autotrim")
    return "off";
  if (prop == "failmode") return "wait";
  if (prop == "compatibility") return "off";
  if (starts_with(prop, "feature@")) return feature_state(st, p, prop.substr(8));
  return "-";
}

std::vector<Pool*> pools_named(State& st, const std::vector<std::string>& names, bool& ok) {
  std::vector<Pool*> r;
  if (names.empty()) {
    for (auto& [n, p] : st.pools) r.push_back(&p);
    return r;
  }
  for (const auto& n : names) {
    auto it = st.pools.find(n);
    if (it == st.pools.end()) {
      err("cannot open '" + n + "': no such pool\n");
      ok = false;
      continue;
    }
    r.push_back(&it->second);
  }
  return r;
}

int do_list(State& st, const std::vector<std::string>& args) {
  Opts o = getopts(args, "gHLpPvo:T:", kListUsage);
  std::vector<std::string> fields = {"name", "size", "allocated", "free", "checkpoint", "expandsize",
                                     "fragmentation", "capacity", "dedupratio", "health", "altroot"};
  if (o.has('o')) {
    fields.clear();
    for (const auto& f : split(o.all('o').back(), ',')) {
      std::string p = canon(f);
      if (!pprop(p) && !starts_with(p, "feature@"))
        usage_fail(kListUsage, "property '" + f + "' is not a valid pool or vdev property");
      fields.push_back(p);
    }
  }
  bool ok = true;
  auto ps = pools_named(st, o.rest, ok);
  Table t;
  for (const auto& f : fields) {
    const PProp* pp = pprop(f);
    t.header.push_back(pp ? pp->header : f);
    t.right.push_back(pp ? pp->right : false);
  }
  for (Pool* p : ps) {
    std::vector<std::string> row;
    for (const auto& f : fields) row.push_back(pool_value(st, *p, f, o.has('p')));
    t.rows.push_back(row);
  }
  if (ps.empty() && o.rest.empty()) out("no pools available\n");
  else if (!t.rows.empty()) out(t.render(o.has('H')));
  return ok ? 0 : 1;
}

int do_get(State& st, const std::vector<std::string>& args) {
  Opts o = getopts(args, "Hpo:", kGetUsage);
  if (o.rest.empty()) usage_fail(kGetUsage, "missing property argument");
  std::vector<std::string> cols = {"name", "property", "value", "source"};
  if (o.has('o')) {
    cols.clear();
    for (const auto& c : split(o.all('o').back(), ',')) {
      if (c == "all") {
        cols = {"name", "property", "value", "source"};
        continue;
      }
      if (c != "name" && c != "property" && c != "value" && c != "source")
        usage_fail(kGetUsage, "invalid field '" + c + "'");
      cols.push_back(c);
    }
  }
  std::vector<std::string> props;
  for (const auto& f : split(o.rest[0], ',')) {
    if (f == "all") {
      for (const auto& p : pprops())
        if (p.name != "name") props.push_back(p.name);
      for (const auto& fe : all_features()) props.push_back("feature@" + fe);
      continue;
    }
    std::string p = canon(f);
    if (!pprop(p) && !(starts_with(p, "feature@") &&
                       std::find(all_features().begin(), all_features().end(), p.substr(8)) != all_features().end()))
      usage_fail(kGetUsage, "bad property list: invalid property '" + f + "'");
    props.push_back(p);
  }
  bool ok = true;
  auto ps = pools_named(st, std::vector<std::string>(o.rest.begin() + 1, o.rest.end()), ok);
  Table t;
  for (const auto& c : cols) {
    std::string h = c;
    for (auto& ch : h) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    t.header.push_back(h);
    t.right.push_back(false);
  }
  for (Pool* p : ps) {
    for (const auto& prop : props) {
      const PProp* pp = pprop(prop);
      std::string src = pp ? pp->source : "local";
      std::vector<std::string> row;
      for (const auto& c : cols) {
        if (c == "name") row.push_back(p->name);
        else if (c == "property") row.push_back(prop);
        else if (c == "value") row.push_back(pool_value(st, *p, prop, o.has('p')));
        else row.push_back(src);
      }
      t.rows.push_back(row);
    }
  }
  if (!t.rows.empty()) out(t.render(o.has('H')));
  return ok ? 0 : 1;
}

bool healthy(const Pool& p) { return p.health == "ONLINE" && p.errors == 0; }

std::string hms(uint64_t s) {
  char b[32];
  std::snprintf(b, sizeof b, "%02llu:%02llu:%02llu", static_cast<unsigned long long>(s / 3600),
                static_cast<unsigned long long>(s / 60 % 60), static_cast<unsigned long long>(s % 60));
  return b;
}

std::string status_text(State& st, const Pool& p, bool parsable) {
  std::string t = "  pool: " + p.name + "\n state: " + p.health + "\n";
  if (p.health == "DEGRADED") {
    t += "status: One or more devices are faulted in response to persistent errors.\n"
         "\tSufficient replicas exist for the pool to continue functioning in a\n"
         "\tdegraded state.\n"
         "action: Replace the faulted device, or use 'zpool clear' to mark the device\n"
         "\trepaired.\n";
  } else if (p.health == "FAULTED") {
    t += "status: One or more devices are faulted in response to persistent errors.  There are "
         "insufficient replicas for the pool to\n"
         "\tcontinue functioning.\n"
         "action: Destroy and re-create the pool from a backup source.  Manually marking the device\n"
         "\trepaired using 'zpool clear' may allow some data to be recovered.\n";
  } else if (p.errors > 0) {
    t += "status: One or more devices has experienced an error resulting in data\n"
         "\tcorruption.  Applications may be affected.\n"
         "action: Restore the file in question if possible.  Otherwise restore the\n"
         "\tentire pool from backup.\n"
         "   see: https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-8A\n";
  }
  auto sc = split(p.scrub, ':');
  if (sc[0] == "finished" && sc.size() >= 3) {
    t += "  scan: scrub repaired 0B in 00:00:03 with " + sc[2] + " errors on " +
         time_ctime(static_cast<std::time_t>(std::stoull(sc[1]))) + "\n";
  } else if (sc[0] == "running" && sc.size() >= 2) {
    double pct = std::stod(sc[1]);
    uint64_t start = sc.size() >= 3 ? std::stoull(sc[2]) : static_cast<uint64_t>(std::time(nullptr)) - 60;
    uint64_t total = st.pool_alloc(p.name);
    uint64_t issued = static_cast<uint64_t>(static_cast<double>(total) * pct / 100.0);
    char pc[32];
    std::snprintf(pc, sizeof pc, "%.2f%%", pct);
    auto b = [&](uint64_t n) { return parsable ? std::to_string(n) : nicebytes(n); };
    t += "  scan: scrub in progress since " + time_ctime(static_cast<std::time_t>(start)) + "\n";
    t += "\t" + b(issued) + " scanned at " + b(issued / 60) + "/s, " + b(issued) + " issued at " +
         b(issued / 60) + "/s, " + b(total) + " total\n";
    t += "\t0B repaired, " + std::string(pc) + " done, " +
         (pct > 0 ? hms(static_cast<uint64_t>(60.0 * (100.0 - pct) / pct)) : std::string("no estimated completion time")) +
         (pct > 0 ? " to go" : "") + "\n";
  } else if (sc[0] == "canceled" && sc.size() >= 2) {
    t += "  scan: scrub canceled on " + time_ctime(static_cast<std::time_t>(std::stoull(sc[1]))) + "\n";
  } else {
    t += "  scan: none requested\n";
  }
  t += "config:\n\n";
  size_t w = std::max<size_t>(10, p.name.size());
  for (const auto& v : p.vdevs) w = std::max(w, v.size() + 2);
  auto pad = [](const std::string& s, size_t n) { return s + std::string(n > s.size() ? n - s.size() : 0, ' '); };
  auto rj = [](const std::string& s, size_t n) { return std::string(n > s.size() ? n - s.size() : 0, ' ') + s; };
  t += "\t" + pad("NAME", w) + "  " + pad("STATE", 8) + " " + rj("READ", 5) + " " + rj("WRITE", 5) + " " + rj("CKSUM", 5) + "\n";
  std::string cks = p.errors > 0 ? (parsable ? std::to_string(p.errors * 2) : nicenum(p.errors * 2)) : "0";
  t += "\t" + pad(p.name, w) + "  " + pad(p.health, 8) + " " + rj("0", 5) + " " + rj("0", 5) + " " + rj(cks, 5) + "\n";
  std::string bad = p.bad_vdev.empty() && !p.vdevs.empty() ? p.vdevs[0] : p.bad_vdev;
  for (const auto& v : p.vdevs) {
    std::string state = "ONLINE";
    if (p.health != "ONLINE" && v == bad) state = p.health == "DEGRADED" ? "FAULTED" : "UNAVAIL";
    t += "\t  " + pad(v, w - 2) + "  " + pad(state, 8) + " " + rj("0", 5) + " " + rj("0", 5) + " " + rj(cks, 5) + "\n";
  }
  t += "\n";
  if (p.errors > 0) t += "errors: " + std::to_string(p.errors) + " data errors, use '-v' for a list\n";
  else t += "errors: No known data errors\n";
  return t;
}

int do_status(State& st, const std::vector<std::string>& args) {
  Opts o = getopts(args, "igLpPstvxDT:c:", kStatusUsage);
  bool ok = true;
  auto ps = pools_named(st, o.rest, ok);
  if (st.pools.empty() && o.rest.empty()) {
    out("no pools available\n");
    return 0;
  }
  std::string text;
  bool first = true;
  for (Pool* p : ps) {
    if (o.has('x') && healthy(*p)) continue;
    if (!first) text += "\n";
    first = false;
    text += status_text(st, *p, o.has('p'));
  }
  if (o.has('x') && first && ok) {
    if (o.rest.size() == 1) text = "pool '" + o.rest[0] + "' is healthy\n";
    else text = "all pools are healthy\n";
  }
  out(text);
  return ok ? 0 : 1;
}

int do_scrub(State& st, const std::vector<std::string>& args) {
  Opts o = getopts(args, "spw", kScrubUsage);
  if (o.rest.empty()) usage_fail(kScrubUsage, "missing pool name argument");
  for (const auto& n : o.rest) {
    auto it = st.pools.find(n);
    if (it == st.pools.end()) fail(1, "cannot open '" + n + "': no such pool");
    Pool& p = it->second;
    uint64_t now = static_cast<uint64_t>(std::time(nullptr));
    bool running = starts_with(p.scrub, "running");
    if (o.has('s')) {
      if (!running) fail(1, "cannot cancel scrubbing " + n + ": there is no active scrub");
      p.scrub = "canceled:" + std::to_string(now);
    } else {
      if (running)
        fail(1, "cannot scrub " + n + ": currently scrubbing; use 'zpool scrub -s' to cancel current scrub");
      // The stand-in's scrub finishes at once.
      p.scrub = "finished:" + std::to_string(now) + ":" + std::to_string(p.errors);
    }
  }
  st.save();
  return 0;
}

}  // namespace

int zpool_main(const std::string& dir, const std::vector<std::string>& argv) {
  const std::string kUsage = "\tlist\n\tget\n\tstatus\n\tscrub\n\tversion\n";
  if (argv.empty()) usage_fail(kUsage, "missing command");
  State st;
  st.dir = dir;
  Lock lock(dir);
  st.load();
  const std::string cmd = argv[0];
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  if (cmd == "version" || cmd == "-V" || cmd == "--version") {
    out("zfs-" + st.version + "\nzfs-kmod-" + st.version + "\n");
    return 0;
  }
  if (cmd == "list") return do_list(st, args);
  if (cmd == "get") return do_get(st, args);
  if (cmd == "status") return do_status(st, args);
  if (cmd == "scrub") return do_scrub(st, args);
  err("unrecognized command '" + cmd + "'\n");
  usage_fail(kUsage);
}

}  // namespace zsim
