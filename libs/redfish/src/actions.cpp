#include "dcops/redfish/actions.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace dcops::redfish {
namespace {

constexpr std::string_view kAllowableSuffix = "@Redfish.AllowableValues";

std::vector<std::string> StringsOf(const rapidjson::Value& array) {
  std::vector<std::string> out;
  for (const auto& v : array.GetArray()) {
    if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

// The ActionInfo resource's Parameters[].AllowableValues.
Status ReadActionInfo(Client& bmc, const std::string& uri, Action& action) {
  auto info = bmc.Get(uri);
  if (!info) return info.error();
  const rapidjson::Value* params = info->Find("Parameters");
  if (params == nullptr) return Status();  // an ActionInfo without parameters restricts nothing
  if (!params->IsArray()) return MakeError("redfish.schema", uri + ": Parameters is not an array");
  for (const auto& p : params->GetArray()) {
    if (!p.IsObject() || !p.HasMember("Name") || !p["Name"].IsString()) continue;
    if (p.HasMember("AllowableValues") && p["AllowableValues"].IsArray()) {
      action.allowable[p["Name"].GetString()] = StringsOf(p["AllowableValues"]);
    }
  }
  return Status();
}

}  // namespace

bool Action::Allows(const std::string& parameter, const std::string& value) const {
  auto it = allowable.find(parameter);
  return it == allowable.end() || std::find(it->second.begin(), it->second.end(), value) != it->second.end();
}

std::vector<std::string> Action::Allowed(const std::string& parameter) const {
  auto it = allowable.find(parameter);
  return it == allowable.end() ? std::vector<std::string>() : it->second;
}

Result<Action> FindAction(Client& bmc, const Document& doc, const std::string& name) {
  const rapidjson::Value* object = nullptr;
  for (const char* where : {"Actions", "Actions/Oem"}) {
    const rapidjson::Value* actions = doc.Find(where);
    if (actions != nullptr && actions->IsObject() && actions->HasMember(name.c_str())) {
      object = &(*actions)[name.c_str()];
      break;
    }
  }
  if (object == nullptr) {
    return MakeError("redfish.unsupported", fmt::format("{} offers no {} action", doc.resource(), name));
  }
  if (!object->IsObject() || !object->HasMember("target") || !(*object)["target"].IsString()) {
    return MakeError("redfish.schema", fmt::format("{}: Actions {} has no target", doc.resource(), name));
  }
  Action action{name, (*object)["target"].GetString(), {}};
  for (const auto& m : object->GetObject()) {
    const std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (key.size() > kAllowableSuffix.size() && key.substr(key.size() - kAllowableSuffix.size()) == kAllowableSuffix &&
        m.value.IsArray()) {
      action.allowable[std::string(key.substr(0, key.size() - kAllowableSuffix.size()))] = StringsOf(m.value);
    }
  }
  if (object->HasMember("@Redfish.ActionInfo") && (*object)["@Redfish.ActionInfo"].IsString()) {
    if (auto st = ReadActionInfo(bmc, (*object)["@Redfish.ActionInfo"].GetString(), action); !st) return st.error();
  }
  return action;
}

}  // namespace dcops::redfish
