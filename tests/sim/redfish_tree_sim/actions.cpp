#include "actions.hpp"

#include <fmt/format.h>

#include <map>
#include <vector>

#include "action_effects.hpp"
#include "json_util.hpp"
#include "redfish_error.hpp"
#include "target.hpp"

namespace dcops::sim::tree {
namespace {

struct Param {
  bool required = false;
  const rapidjson::Value* allowable = nullptr;  // string array, or nullptr
};

// Parameters the Redfish schemas mark required, whatever the tree says. A Reset without
// ResetType is allowed by the schema, but its effect is the implementation's choice; this
// simulator asks for it.
const std::map<std::string, std::vector<std::string>>& SchemaRequired() {
  static const std::map<std::string, std::vector<std::string>> kRequired = {
      {"#VirtualMedia.InsertMedia", {"Image"}},
      {"#UpdateService.SimpleUpdate", {"ImageURI"}},
      {"#ComputerSystem.Reset", {"ResetType"}},
      {"#Manager.Reset", {"ResetType"}},
  };
  return kRequired;
}

// The action object of `ref` in its owner's Actions (or Actions/Oem[/Vendor]).
const rapidjson::Value* ActionObject(SimState& s, const ActionRef& ref) {
  const rapidjson::Value* owner = s.Doc(ref.owner);
  const rapidjson::Value* actions = owner ? Find(*owner, "Actions") : nullptr;
  if (actions == nullptr) return nullptr;
  if (!ref.oem) return Find(*actions, ref.key);
  const rapidjson::Value* oem = Find(*actions, "Oem");
  if (oem == nullptr || !oem->IsObject()) return nullptr;
  if (const rapidjson::Value* direct = Find(*oem, ref.key)) return direct;
  for (auto it = oem->MemberBegin(); it != oem->MemberEnd(); ++it) {
    if (const rapidjson::Value* nested = Find(it->value, ref.key)) return nested;
  }
  return nullptr;
}

std::map<std::string, Param> Params(SimState& s, const ActionRef& ref) {
  std::map<std::string, Param> out;
  const rapidjson::Value* action = ActionObject(s, ref);
  if (action == nullptr) return out;
  constexpr std::string_view kSuffix = "@Redfish.AllowableValues";
  for (auto it = action->MemberBegin(); it != action->MemberEnd(); ++it) {
    const std::string name = it->name.GetString();
    if (name.size() > kSuffix.size() && name.ends_with(kSuffix) && it->value.IsArray()) {
      out[name.substr(0, name.size() - kSuffix.size())].allowable = &it->value;
    }
  }
  if (const auto info_uri = FindString(*action, "@Redfish.ActionInfo")) {
    const rapidjson::Value* info = s.Doc(NormalizePath(*info_uri));
    const rapidjson::Value* list = info ? Find(*info, "Parameters") : nullptr;
    if (list != nullptr && list->IsArray()) {
      for (const auto& p : list->GetArray()) {
        const auto name = FindString(p, "Name");
        if (!name) continue;
        Param& param = out[*name];
        const rapidjson::Value* required = Find(p, "Required");
        if (required != nullptr && required->IsBool() && required->GetBool()) param.required = true;
        const rapidjson::Value* allowable = Find(p, "AllowableValues");
        if (allowable != nullptr && allowable->IsArray()) param.allowable = allowable;
      }
    }
  }
  if (const auto it = SchemaRequired().find(ref.key); it != SchemaRequired().end()) {
    for (const auto& name : it->second) out[name].required = true;
  }
  return out;
}

}  // namespace

SimResponse RunAction(SimState& s, const std::string& target, const ActionRef& action,
                      const std::string& body) {
  auto params = ParseObject(body);
  if (!params) return MalformedJson(params.error().message);
  const std::string name = action.key.substr(1);
  for (const auto& [param, rule] : Params(s, action)) {
    const rapidjson::Value* value = Find(*params, param);
    if (value == nullptr) {
      if (!rule.required) continue;
      return RedfishError(400, "ActionParameterMissing",
                          fmt::format("The action {} requires the parameter {} to be present in "
                                      "the request body.",
                                      name, param),
                          {name, param}, {"/" + param});
    }
    if (rule.allowable != nullptr && !ListHas(*rule.allowable, *value)) {
      const std::string shown = value->IsString() ? value->GetString() : ToJson(*value);
      return RedfishError(400, "ActionParameterValueNotInList",
                          fmt::format("The value '{}' for the parameter {} in the action {} is "
                                      "not in the list of acceptable values.",
                                      shown, param, name),
                          {shown, param, name}, {"/" + param});
    }
  }
  SimResponse r = ApplyAction(s, action, *params);
  if (r.status < 300) s.actions_done.push_back(Recorded{target, action.key, ToJson(*params)});
  return r;
}

}  // namespace dcops::sim::tree
