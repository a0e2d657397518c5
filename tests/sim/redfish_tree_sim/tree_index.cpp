#include "tree_index.hpp"

#include <fmt/format.h>

#include <ctime>

#include "json_util.hpp"
#include "target.hpp"

namespace dcops::sim::tree {
namespace {

void AddAction(SimState& s, const std::string& owner, const std::string& key,
               const rapidjson::Value& action, bool oem) {
  const auto target = FindString(action, "target");
  if (!target) return;
  s.actions[NormalizePath(*target)] = ActionRef{owner, key, oem};
}

void IndexActions(SimState& s, const std::string& uri, const rapidjson::Value& doc) {
  const rapidjson::Value* actions = Find(doc, "Actions");
  if (actions == nullptr || !actions->IsObject()) return;
  for (auto it = actions->MemberBegin(); it != actions->MemberEnd(); ++it) {
    const std::string key = it->name.GetString();
    if (!key.empty() && key[0] == '#' && it->value.IsObject())
      AddAction(s, uri, key, it->value, false);
    if (key != "Oem" || !it->value.IsObject()) continue;
    // Actions/Oem: "#Vendor.Action" directly, or one level down under a vendor name.
    for (auto o = it->value.MemberBegin(); o != it->value.MemberEnd(); ++o) {
      const std::string okey = o->name.GetString();
      if (!o->value.IsObject()) continue;
      if (!okey.empty() && okey[0] == '#') {
        AddAction(s, uri, okey, o->value, true);
        continue;
      }
      for (auto v = o->value.MemberBegin(); v != o->value.MemberEnd(); ++v) {
        const std::string vkey = v->name.GetString();
        if (!vkey.empty() && vkey[0] == '#' && v->value.IsObject()) {
          AddAction(s, uri, vkey, v->value, true);
        }
      }
    }
  }
}

bool IsType(const rapidjson::Value& doc, std::string_view type) {
  const auto t = FindString(doc, "@odata.type");
  return t && t->rfind(fmt::format("#{}.", type), 0) == 0;
}

// The Sessions collection the tree advertises (root Links.Sessions, else SessionService).
std::string FindSessions(SimState& s) {
  const rapidjson::Value& root = *s.Doc("/redfish/v1");
  std::string sessions;
  if (const rapidjson::Value* links = Find(root, "Links"))
    sessions = LinkOf(Find(*links, "Sessions"));
  if (sessions.empty()) {
    const std::string service = NormalizePath(LinkOf(Find(root, "SessionService")));
    if (const rapidjson::Value* svc = s.Doc(service)) sessions = LinkOf(Find(*svc, "Sessions"));
  }
  if (sessions.empty()) return "";
  sessions = NormalizePath(sessions);
  rapidjson::Document* coll = s.Doc(sessions);
  if (coll == nullptr || Find(*coll, "Members") == nullptr) return "";
  return sessions;
}

// Sessions in a mockup have no token, so no client can own them: the live list starts empty.
void ClearStaticSessions(SimState& s) {
  rapidjson::Document& coll = *s.Doc(s.sessions_uri);
  auto& a = coll.GetAllocator();
  if (rapidjson::Value* members = FindMut(coll, "Members"); members && members->IsArray()) {
    for (const auto& m : members->GetArray()) s.tree.json.erase(NormalizePath(LinkOf(&m)));
  }
  Set(coll, "Members", rapidjson::Value(rapidjson::kArrayType), a);
  SetInt(coll, "Members@odata.count", 0, a);
}

std::string FindTasks(SimState& s) {
  for (const auto& [uri, doc] : s.tree.json) {
    if (!IsType(*doc, "TaskService")) continue;
    const std::string tasks = NormalizePath(LinkOf(Find(*doc, "Tasks")));
    if (s.Doc(tasks) != nullptr) return tasks;
  }
  return "";
}

void FindExpand(SimState& s) {
  const rapidjson::Value* features = Find(*s.Doc("/redfish/v1"), "ProtocolFeaturesSupported");
  const rapidjson::Value* expand = features ? Find(*features, "ExpandQuery") : nullptr;
  if (expand == nullptr) return;
  auto flag = [&](const char* name) {
    const rapidjson::Value* v = Find(*expand, name);
    return v != nullptr && v->IsBool() && v->GetBool();
  };
  s.expand_all = flag("ExpandAll");
  s.expand_no_links = flag("NoLinks");
}

}  // namespace

std::string WallTimestamp(const SimState& s) {
  const std::time_t t = WallClock::to_time_t(s.wall_now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
  return buf;
}

Status IndexTree(SimState& s) {
  for (const auto& [uri, doc] : s.tree.json) {
    IndexActions(s, uri, *doc);
    if (const rapidjson::Value* settings = Find(*doc, "@Redfish.Settings")) {
      const std::string so = NormalizePath(LinkOf(Find(*settings, "SettingsObject")));
      if (so != "/") s.settings_owner[so] = uri;
    }
  }
  // A settings object the tree names but does not hold: start it as a copy of its owner's
  // patchable content so PATCHes have something to land on.
  for (const auto& [so, owner] : s.settings_owner) {
    if (s.Doc(so) != nullptr) continue;
    auto doc = std::make_unique<rapidjson::Document>();
    doc->SetObject();
    const rapidjson::Value& src = *s.Doc(owner);
    for (auto it = src.MemberBegin(); it != src.MemberEnd(); ++it) {
      const std::string name = it->name.GetString();
      if (name.find('@') != std::string::npos || name == "Actions" || name == "Links") continue;
      Set(*doc, name, it->value, doc->GetAllocator());
    }
    SetString(*doc, "@odata.id", so, doc->GetAllocator());
    s.tree.json[so] = std::move(doc);
  }
  s.basic_enabled = s.options.auth != AuthMode::kSession;
  if (s.options.auth != AuthMode::kBasic) s.sessions_uri = FindSessions(s);
  if (s.options.auth == AuthMode::kSession && s.sessions_uri.empty()) {
    return MakeError("options.auth", "--auth session: the tree has no Sessions collection");
  }
  if (!s.sessions_uri.empty()) ClearStaticSessions(s);
  s.tasks_uri = FindTasks(s);
  FindExpand(s);
  return {};
}

}  // namespace dcops::sim::tree
