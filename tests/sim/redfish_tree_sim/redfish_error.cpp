#include "redfish_error.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "json_util.hpp"

namespace dcops::sim::tree {
namespace {

constexpr const char* kRegistry = "Base.1.8.";

rapidjson::Value Strings(const std::vector<std::string>& items, Alloc& a) {
  rapidjson::Value out(rapidjson::kArrayType);
  for (const auto& s : items) out.PushBack(rapidjson::Value(s.c_str(), a), a);
  return out;
}

}  // namespace

SimResponse RedfishError(int status, const std::string& id, const std::string& message,
                         const std::vector<std::string>& args,
                         const std::vector<std::string>& related_properties) {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  rapidjson::Value info(rapidjson::kObjectType);
  SetString(info, "@odata.type", "#Message.v1_1_1.Message", a);
  SetString(info, "MessageId", std::string(kRegistry) + id, a);
  SetString(info, "Message", message, a);
  Set(info, "MessageArgs", Strings(args, a), a);
  Set(info, "RelatedProperties", Strings(related_properties, a), a);
  SetString(info, "Severity", status >= 500 || status == 404 ? "Critical" : "Warning", a);
  SetString(info, "Resolution", "See the message and resubmit the request if appropriate.", a);
  rapidjson::Value extended(rapidjson::kArrayType);
  extended.PushBack(info, a);
  rapidjson::Value error(rapidjson::kObjectType);
  SetString(error, "code", std::string(kRegistry) + "GeneralError", a);
  SetString(error, "message",
            "A general error has occurred. See ExtendedInfo for more information.", a);
  Set(error, "@Message.ExtendedInfo", extended, a);
  Set(d, "error", error, a);
  SimResponse r;
  r.status = status;
  r.body = ToJson(d);
  return r;
}

SimResponse ResourceMissing(const std::string& uri) {
  return RedfishError(404, "ResourceMissingAtURI",
                      fmt::format("The resource at the URI {} was not found.", uri), {uri});
}

SimResponse MalformedJson(const std::string& why) {
  return RedfishError(400, "MalformedJSON",
                      fmt::format("The request body submitted was malformed JSON and could not "
                                  "be parsed by the receiving service ({}).",
                                  why));
}

SimResponse MethodNotAllowed(const std::string& uri, const std::string& allow) {
  SimResponse r = RedfishError(405, "OperationNotAllowed",
                               fmt::format("The HTTP method is not allowed on {}.", uri), {uri});
  r.headers.emplace_back("Allow", allow);
  return r;
}

}  // namespace dcops::sim::tree
