#include "attributes.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dcops::idrac {

std::string JsonText(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::string> AttributeDifference(const rapidjson::Value& wanted, const redfish::Document& doc,
                                        const std::string& registry, bool* any) {
  rapidjson::Document diff(rapidjson::kObjectType);
  *any = false;
  for (const auto& m : wanted.GetObject()) {
    const std::string name = m.name.GetString();
    const auto* current = doc.Find("Attributes/" + name);
    if (current == nullptr) {
      return MakeError("step.bad_params",
                       fmt::format("params.attributes.{}: the {} has no such attribute", name, registry));
    }
    if (*current == m.value) continue;
    rapidjson::Value key(name.c_str(), diff.GetAllocator());
    rapidjson::Value value(m.value, diff.GetAllocator());
    diff.AddMember(key, value, diff.GetAllocator());
    *any = true;
  }
  return JsonText(diff);
}

}  // namespace dcops::idrac
