// zfs list and zfs get: property values, iteration over names, sorting and column output.
#include <algorithm>
#include <cstdio>
#include <set>

#include "cmds.hpp"
#include "stream.hpp"
#include "util.hpp"

namespace zsim {

std::optional<Obj> find_obj(State& st, const std::string& name) {
  Obj o;
  o.name = name;
  if (name.find('@') != std::string::npos) {
    auto at = name.find('@');
    Dataset* d = st.ds(name.substr(0, at));
    if (!d) return std::nullopt;
    for (size_t i = 0; i < d->snaps.size(); i++) {
      if (d->snaps[i].name == name.substr(at + 1)) {
        o.type = "snapshot";
        o.ds = d;
        o.snap = &d->snaps[i];
        o.snap_index = i;
        return o;
      }
    }
    return std::nullopt;
  }
  if (name.find('#') != std::string::npos) {
    Bookmark* b = st.bookmark(name);
    if (!b) return std::nullopt;
    o.type = "bookmark";
    o.ds = st.ds(name.substr(0, name.find('#')));
    o.bm = b;
    return o;
  }
  Dataset* d = st.ds(name);
  if (!d) return std::nullopt;
  o.type = d->type;
  o.ds = d;
  return o;
}

std::string resume_token_of(const Dataset& d) {
  if (!d.resume) return "";
  Token t;
  t.toname = d.resume->toname;
  t.toguid = d.resume->toguid;
  t.fromguid = d.resume->fromguid;
  t.object = d.resume->object + 1;
  t.offset = d.resume->offset;
  t.bytes = d.resume->bytes;
  if (!d.resume->flags.empty()) t.flags = split(d.resume->flags, ',');
  return encode_token(t);
}

std::string mountpoint_of(State& st, const std::string& name) {
  Dataset* d = st.ds(name);
  if (!d || d->type != "filesystem") return "-";
  if (d->props.count("mountpoint")) return d->props["mountpoint"];
  if (d->received.count("mountpoint")) return d->received["mountpoint"];
  auto slash = name.rfind('/');
  if (slash == std::string::npos) return "/" + name;
  std::string parent = mountpoint_of(st, name.substr(0, slash));
  if (parent == "none" || parent == "legacy") return parent;
  return (parent == "/" ? "" : parent) + name.substr(slash);
}

namespace {

struct PropInfo {
  std::string name, header;
  bool right;
};

const std::vector<PropInfo>& props_table() {
  static const std::vector<PropInfo> t = {
      {"name", "NAME", false},
      {"type", "TYPE", false},
      {"creation", "CREATION", true},
      {"used", "USED", true},
      {"available", "AVAIL", true},
      {"referenced", "REFER", true},
      {"compressratio", "RATIO", true},
      {"mounted", "MOUNTED", false},
      {"origin", "ORIGIN", false},
      {"quota", "QUOTA", true},
      {"reservation", "RESERV", true},
      {"volsize", "VOLSIZE", true},
      {"recordsize", "RECSIZE", true},
      {"mountpoint", "MOUNTPOINT", false},
      {"checksum", "CHECKSUM", false},
      {"compression", "COMPRESS", false},
      {"atime", "ATIME", false},
      {"readonly", "RDONLY", false},
      {"createtxg", "CREATETXG", true},
      {"canmount", "CANMOUNT", false},
      {"guid", "GUID", true},
      {"usedbysnapshots", "USEDSNAP", true},
      {"usedbydataset", "USEDDS", true},
      {"usedbychildren", "USEDCHILD", true},
      {"written", "WRITTEN", true},
      {"logicalused", "LUSED", true},
      {"logicalreferenced", "LREFER", true},
      {"userrefs", "USERREFS", true},
      {"encryption", "ENCRYPTION", false},
      {"keystatus", "KEYSTATUS", false},
      {"receive_resume_token", "RESUMETOK", false},
  };
  return t;
}

std::string canonical(const std::string& p) {
  static const std::map<std::string, std::string> alias = {
      {"avail", "available"},   {"refer", "referenced"}, {"ratio", "compressratio"},
      {"reserv", "reservation"}, {"recsize", "recordsize"}, {"compress", "compression"},
      {"rdonly", "readonly"},   {"usedsnap", "usedbysnapshots"}, {"usedds", "usedbydataset"},
      {"usedchild", "usedbychildren"}, {"lused", "logicalused"}, {"lrefer", "logicalreferenced"}};
  auto it = alias.find(p);
  return it == alias.end() ? p : it->second;
}

const PropInfo* prop_info(const std::string& p) {
  for (const auto& i : props_table())
    if (i.name == p) return &i;
  return nullptr;
}

bool user_prop(const std::string& p) { return p.find(':') != std::string::npos; }

bool valid_prop(const std::string& p) { return prop_info(p) || user_prop(p); }

const std::map<std::string, std::string>& defaults() {
  static const std::map<std::string, std::string> d = {
      {"quota", "none"},  {"reservation", "none"}, {"recordsize", "128K"}, {"checksum", "on"},
      {"compression", "off"}, {"atime", "on"}, {"readonly", "off"}, {"canmount", "on"}};
  return d;
}

bool inheritable(const std::string& p) {
  return p == "checksum" || p == "compression" || p == "atime" || p == "readonly" ||
         p == "recordsize" || user_prop(p);
}

std::string bytes(uint64_t n, bool parsable) { return parsable ? std::to_string(n) : nicebytes(n); }

// Value and source of a property of an object ("-" for both when it does not apply).
std::pair<std::string, std::string> value_of(State& st, const Obj& o, const std::string& p,
                                             bool parsable) {
  const bool issnap = o.type == "snapshot";
  const bool isbm = o.type == "bookmark";
  const std::string none = "-";
  auto ro = [&](const std::string& v) { return std::make_pair(v, none); };
  if (p == "name") return ro(o.name);
  if (p == "type") return ro(o.type);
  if (p == "creation") {
    uint64_t t = issnap ? o.snap->creation : isbm ? o.bm->creation : o.ds->creation;
    return ro(parsable ? std::to_string(t) : time_short(static_cast<std::time_t>(t)));
  }
  if (p == "guid") return ro(std::to_string(issnap ? o.snap->guid : isbm ? o.bm->guid : o.ds->guid));
  if (p == "createtxg")
    return ro(std::to_string(issnap ? o.snap->createtxg : isbm ? o.bm->createtxg : o.ds->createtxg));
  if (isbm) return {none, none};
  const std::string pool = o.name.substr(0, o.name.find_first_of("/@#"));
  if (p == "used") {
    if (issnap) return ro(bytes(st.snap_used(*o.ds, o.snap_index), parsable));
    return ro(bytes(st.used(o.name), parsable));
  }
  if (p == "logicalused") {
    if (issnap) return {none, none};
    return ro(bytes(st.used(o.name), parsable));
  }
  if (p == "referenced" || p == "logicalreferenced")
    return ro(bytes(st.referenced(issnap ? o.snap->content : o.ds->content), parsable));
  if (p == "available") return issnap ? ro(none) : ro(bytes(st.available(pool), parsable));
  if (p == "compressratio") return ro(parsable ? "1.00" : "1.00x");
  if (p == "written") {
    const Content& cur = issnap ? o.snap->content : o.ds->content;
    const Content* prev = nullptr;
    if (issnap && o.snap_index > 0) prev = &o.ds->snaps[o.snap_index - 1].content;
    if (!issnap && !o.ds->snaps.empty()) prev = &o.ds->snaps.back().content;
    uint64_t n = prev ? 0 : kDatasetOverhead;
    for (const auto& [f, r] : cur) {
      auto it = prev ? prev->find(f) : cur.end();
      if (!prev || it == prev->end() || it->second.blob != r.blob) n += r.size;
    }
    return ro(bytes(n, parsable));
  }
  if (p == "userrefs") return issnap ? ro(std::to_string(o.snap->holds.size())) : std::make_pair(none, none);
  if (p == "encryption") return ro(o.ds->encryption);
  if (p == "keystatus") return o.ds->encryption == "off" ? std::make_pair(none, none) : ro("available");
  if (p == "origin") return ro(none);
  if (p == "receive_resume_token") {
    if (issnap || !o.ds->resume) return ro(none);
    return ro(resume_token_of(*o.ds));
  }
  if (issnap) return {none, none};
  if (p == "usedbysnapshots") {
    uint64_t n = 0;
    for (size_t i = 0; i < o.ds->snaps.size(); i++) n += st.snap_used(*o.ds, i);
    return ro(bytes(n, parsable));
  }
  if (p == "usedbydataset") return ro(bytes(st.referenced(o.ds->content), parsable));
  if (p == "usedbychildren") {
    uint64_t n = 0;
    for (const auto& c : st.children(o.name)) n += st.used(c);
    return ro(bytes(n, parsable));
  }
  if (p == "mounted")
    return o.type == "filesystem" ? ro(o.ds->inconsistent ? "no" : "yes") : std::make_pair(none, none);
  if (p == "volsize")
    return o.type == "volume" ? std::make_pair(bytes(o.ds->volsize, parsable), std::string("local"))
                              : std::make_pair(none, none);
  if (p == "mountpoint") {
    if (o.type != "filesystem") return {none, none};
    std::string src = "default";
    if (o.ds->props.count("mountpoint")) {
      src = "local";
    } else if (o.ds->received.count("mountpoint")) {
      src = "received";
    } else {
      for (std::string n = o.name; n.find('/') != std::string::npos;) {
        n = n.substr(0, n.rfind('/'));
        Dataset* a = st.ds(n);
        if (a && (a->props.count("mountpoint") || a->received.count("mountpoint"))) {
          src = "inherited from " + n;
          break;
        }
      }
    }
    return {mountpoint_of(st, o.name), src};
  }
  if (p == "canmount" && o.type != "filesystem") return {none, none};
  if (p == "recordsize" && o.type != "filesystem") return {none, none};
  // Settable properties: local, received, inherited or default.
  if (o.ds->props.count(p)) return {o.ds->props[p], "local"};
  if (o.ds->received.count(p)) return {o.ds->received[p], "received"};
  if (inheritable(p)) {
    for (std::string n = o.name; n.find('/') != std::string::npos;) {
      n = n.substr(0, n.rfind('/'));
      Dataset* a = st.ds(n);
      if (!a) break;
      if (a->props.count(p)) return {a->props[p], "inherited from " + n};
      if (a->received.count(p)) return {a->received[p], "inherited from " + n};
    }
  }
  if (user_prop(p)) return {none, none};
  auto it = defaults().find(p);
  if (it != defaults().end()) {
    std::string v = it->second;
    if (p == "recordsize" && parsable) v = "131072";
    return {v, "default"};
  }
  return {none, none};
}

std::set<std::string> parse_types(const std::string& s, const std::string& usage) {
  std::set<std::string> t;
  for (const auto& x : split(s, ',')) {
    if (x == "filesystem" || x == "volume" || x == "snapshot" || x == "bookmark") t.insert(x);
    else if (x == "snap") t.insert("snapshot");
    else if (x == "fs") t.insert("filesystem");
    else if (x == "vol") t.insert("volume");
    else if (x == "all") t = {"filesystem", "volume", "snapshot", "bookmark"};
    else usage_fail(usage, "invalid type '" + x + "'");
  }
  return t;
}

struct Walk {
  std::set<std::string> types;
  bool types_given = false;
  bool recurse = false;
  long depth = -1;  // -1: unlimited
};

// Collects the objects named (or all when none), in OpenZFS's default order. Returns false when a
// name did not exist (after printing "cannot open").
bool collect(State& st, const std::vector<std::string>& names, const Walk& w, std::vector<Obj>& found) {
  bool ok = true;
  std::set<std::string> seen;
  auto add = [&](const Obj& o) {
    if (seen.insert(o.name).second) found.push_back(o);
  };
  auto walk_ds = [&](const std::string& root, long limit) {
    std::vector<std::pair<std::string, long>> list{{root, 0}};
    for (const auto& d : st.descendants(root)) {
      long depth = static_cast<long>(std::count(d.begin(), d.end(), '/') -
                                     std::count(root.begin(), root.end(), '/'));
      list.emplace_back(d, depth);
    }
    for (const auto& [name, depth] : list) {
      if (limit >= 0 && depth > limit) continue;
      Dataset* d = st.ds(name);
      if (w.types.count(d->type)) add(*find_obj(st, name));
      if (limit >= 0 && depth + 1 > limit) continue;
      if (w.types.count("snapshot"))
        for (const auto& s : d->snaps) add(*find_obj(st, name + "@" + s.name));
      if (w.types.count("bookmark"))
        for (const auto& b : d->bookmarks) add(*find_obj(st, name + "#" + b.name));
    }
  };
  if (names.empty()) {
    for (const auto& [pname, p] : st.pools) walk_ds(pname, w.recurse || w.depth < 0 ? w.depth : w.depth);
  } else {
    for (const auto& n : names) {
      auto o = find_obj(st, n);
      if (!o) {
        err("cannot open '" + n + "': dataset does not exist\n");
        ok = false;
        continue;
      }
      if (o->type == "snapshot" || o->type == "bookmark") {
        if (!w.types_given || w.types.count(o->type)) add(*o);
        continue;
      }
      long limit = 0;
      if (w.depth >= 0) limit = w.depth;
      else if (w.recurse) limit = -1;
      else if (w.types.count("snapshot") || w.types.count("bookmark")) limit = 1;
      walk_ds(n, limit);
    }
  }
  return ok;
}

// OpenZFS's default order: by filesystem name, the filesystem first, then its snapshots and
// bookmarks by createtxg.
bool default_less(const Obj& a, const Obj& b) {
  std::string fa = a.name.substr(0, a.name.find_first_of("@#"));
  std::string fb = b.name.substr(0, b.name.find_first_of("@#"));
  if (fa != fb) return fa < fb;
  auto rank = [](const Obj& o) { return o.snap || o.bm ? 1 : 0; };
  if (rank(a) != rank(b)) return rank(a) < rank(b);
  uint64_t ta = a.snap ? a.snap->createtxg : a.bm ? a.bm->createtxg : 0;
  uint64_t tb = b.snap ? b.snap->createtxg : b.bm ? b.bm->createtxg : 0;
  if (ta != tb) return ta < tb;
  if ((a.bm != nullptr) != (b.bm != nullptr)) return b.bm != nullptr;
  return a.name < b.name;
}

const char* kListUsage =
    "\tlist [-Hp] [-r|-d max] [-o property[,...]] [-s property]...\n"
    "\t    [-S property]... [-t type[,...]] [filesystem|volume|snapshot] ...\n";
const char* kGetUsage =
    "\tget [-rHp] [-d max] [-o \"all\" | field[,...]]\n"
    "\t    [-t type[,...]] [-s source[,...]]\n"
    "\t    <\"all\" | property[,...]> [filesystem|volume|snapshot|bookmark] ...\n";

long parse_depth(const std::string& v, const std::string& usage) {
  uint64_t n = 0;
  if (!parse_u64(v, n)) usage_fail(usage, "invalid depth '" + v + "'");
  return static_cast<long>(n);
}

}  // namespace

int zfs_list(State& st, const std::vector<std::string>& args) {
  Opts o = getopts(args, "Hpro:d:t:s:S:", kListUsage);
  Walk w;
  w.types = {"filesystem", "volume"};
  bool scripted = o.has('H'), parsable = o.has('p');
  std::vector<std::string> fields = {"name", "used", "available", "referenced", "mountpoint"};
  std::vector<std::pair<std::string, bool>> sorts;
  for (const auto& [c, v] : o.list) {
    if (c == 'r') w.recurse = true;
    if (c == 'd') {
      w.depth = parse_depth(v, kListUsage);
      w.recurse = true;
    }
    if (c == 't') {
      w.types = parse_types(v, kListUsage);
      w.types_given = true;
    }
    if (c == 'o') {
      fields.clear();
      for (const auto& f : split(v, ',')) {
        std::string p = canonical(f);
        if (!valid_prop(p)) usage_fail(kListUsage, "bad property list: invalid property '" + f + "'");
        fields.push_back(p);
      }
    }
    if (c == 's' || c == 'S') {
      std::string p = canonical(v);
      if (!valid_prop(p)) usage_fail(kListUsage, "bad property list: invalid property '" + v + "'");
      sorts.emplace_back(p, c == 'S');
    }
  }
  if (o.rest.empty()) w.recurse = true;
  std::vector<Obj> objs;
  bool ok = collect(st, o.rest, w, objs);
  std::stable_sort(objs.begin(), objs.end(), default_less);
  if (!sorts.empty()) {
    std::stable_sort(objs.begin(), objs.end(), [&](const Obj& a, const Obj& b) {
      for (const auto& [p, desc] : sorts) {
        std::string va = value_of(st, a, p, true).first, vb = value_of(st, b, p, true).first;
        uint64_t na = 0, nb = 0;
        bool numeric = parse_u64(va, na) && parse_u64(vb, nb);
        if (numeric ? na == nb : va == vb) continue;
        bool less = numeric ? na < nb : va < vb;
        return desc ? !less : less;
      }
      return false;
    });
  }
  Table t;
  for (const auto& f : fields) {
    const PropInfo* pi = prop_info(f);
    t.header.push_back(pi ? pi->header : f);
    t.right.push_back(pi ? pi->right : false);
  }
  for (const auto& ob : objs) {
    std::vector<std::string> row;
    for (const auto& f : fields) row.push_back(value_of(st, ob, f, parsable).first);
    t.rows.push_back(row);
  }
  if (!t.rows.empty()) out(t.render(scripted));
  else if (o.rest.empty()) err("no datasets available\n");
  return ok ? 0 : 1;
}

int zfs_get(State& st, const std::vector<std::string>& args) {
  Opts o = getopts(args, "Hprd:t:o:s:", kGetUsage);
  Walk w;
  w.types = {"filesystem", "volume", "snapshot", "bookmark"};
  bool scripted = o.has('H'), parsable = o.has('p');
  std::vector<std::string> cols = {"name", "property", "value", "source"};
  std::set<std::string> sources;
  for (const auto& [c, v] : o.list) {
    if (c == 'r') w.recurse = true;
    if (c == 'd') {
      w.depth = parse_depth(v, kGetUsage);
      w.recurse = true;
    }
    if (c == 't') {
      w.types = parse_types(v, kGetUsage);
      w.types_given = true;
    }
    if (c == 'o') {
      cols.clear();
      for (const auto& f : split(v, ',')) {
        if (f == "all") {
          cols = {"name", "property", "value", "received", "source"};
          continue;
        }
        if (f != "name" && f != "property" && f != "value" && f != "received" && f != "source")
          usage_fail(kGetUsage, "invalid column name '" + f + "'");
        cols.push_back(f);
      }
    }
    if (c == 's')
      for (const auto& s : split(v, ',')) sources.insert(s);
  }
  if (o.rest.empty()) usage_fail(kGetUsage, "missing property argument");
  std::vector<std::string> props;
  bool all = false;
  for (const auto& f : split(o.rest[0], ',')) {
    if (f == "all") {
      all = true;
      continue;
    }
    std::string p = canonical(f);
    if (!valid_prop(p) || p == "name")
      usage_fail(kGetUsage, "bad property list: invalid property '" + f + "'");
    props.push_back(p);
  }
  std::vector<std::string> names(o.rest.begin() + 1, o.rest.end());
  if (names.empty()) w.recurse = true;
  // Without -t, a named snapshot is always listed; with no -r, only the names themselves.
  if (!w.recurse && !names.empty()) w.depth = 0;
  std::vector<Obj> objs;
  bool ok = collect(st, names, w, objs);
  std::stable_sort(objs.begin(), objs.end(), default_less);
  Table t;
  for (const auto& c : cols) {
    std::string h = c;
    for (auto& ch : h) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    t.header.push_back(h);
    t.right.push_back(false);
  }
  for (const auto& ob : objs) {
    std::vector<std::string> plist = props;
    if (all) {
      for (const auto& pi : props_table()) {
        if (pi.name == "name") continue;
        auto [v, s] = value_of(st, ob, pi.name, parsable);
        if (v == "-" && s == "-") continue;  // not a property of this type
        if (pi.name == "receive_resume_token" && v == "-") continue;
        if (pi.name == "origin") continue;
        if (std::find(plist.begin(), plist.end(), pi.name) == plist.end()) plist.push_back(pi.name);
      }
      if (ob.ds && ob.type != "snapshot" && ob.type != "bookmark")
        for (const auto& [k, v] : ob.ds->props)
          if (user_prop(k) && std::find(plist.begin(), plist.end(), k) == plist.end()) plist.push_back(k);
    }
    for (const auto& p : plist) {
      auto [v, s] = value_of(st, ob, p, parsable);
      std::string srcword = starts_with(s, "inherited") ? "inherited" : s == "-" ? "none" : s;
      if (!sources.empty() && !sources.count(srcword)) continue;
      std::vector<std::string> row;
      for (const auto& c : cols) {
        if (c == "name") row.push_back(ob.name);
        else if (c == "property") row.push_back(p);
        else if (c == "value") row.push_back(v);
        else if (c == "received") row.push_back(s == "received" ? v : "-");
        else row.push_back(s);
      }
      t.rows.push_back(row);
    }
  }
  if (!t.rows.empty()) out(t.render(scripted));
  return ok ? 0 : 1;
}

}  // namespace zsim
