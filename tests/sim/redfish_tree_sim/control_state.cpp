#include "control_state.hpp"

#include "json_util.hpp"

namespace dcops::sim::tree {
namespace {

rapidjson::Value Recordings(const std::vector<Recorded>& list, bool actions, Alloc& a) {
  rapidjson::Value out(rapidjson::kArrayType);
  for (const Recorded& r : list) {
    rapidjson::Value item(rapidjson::kObjectType);
    SetString(item, actions ? "target" : "uri", r.uri, a);
    if (actions) SetString(item, "type", r.type, a);
    rapidjson::Document body;
    body.Parse(r.body.c_str(), r.body.size());
    Set(item, "body", body.HasParseError() ? rapidjson::Value() : rapidjson::Value(body, a), a);
    out.PushBack(item, a);
  }
  return out;
}

}  // namespace

std::string StateJson(SimState& s) {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  rapidjson::Value states(rapidjson::kObjectType);
  std::string first;
  for (const auto& [uri, doc] : s.tree.json) {
    const auto type = FindString(*doc, "@odata.type").value_or("");
    if (type.rfind("#ComputerSystem.", 0) != 0) continue;
    const auto power = FindString(*doc, "PowerState");
    if (!power) continue;
    if (first.empty()) first = *power;
    SetString(states, uri, *power, a);
  }
  if (first.empty()) {
    SetNull(d, "power_state", a);
  } else {
    SetString(d, "power_state", first, a);
  }
  Set(d, "power_states", states, a);
  SetInt(d, "sessions_open", static_cast<int64_t>(s.sessions.size()), a);
  SetInt(d, "logins", static_cast<int64_t>(s.logins), a);
  SetInt(d, "requests", static_cast<int64_t>(s.requests), a);
  SetInt(d, "unauthorized", static_cast<int64_t>(s.unauthorized), a);
  SetBool(d, "available", s.now() >= s.unavailable_until, a);
  Set(d, "actions", Recordings(s.actions_done, true, a), a);
  Set(d, "patches", Recordings(s.patches, false, a), a);
  return ToJson(d);
}

}  // namespace dcops::sim::tree
