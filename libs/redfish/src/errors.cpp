#include "dcops/redfish/errors.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "dcops/common/json_depth.hpp"

namespace dcops::redfish {

ExtendedInfo ParseExtendedInfo(std::string_view body) {
  ExtendedInfo info;
  if (!JsonNestingWithin(body, kMaxDeviceJsonNesting)) return info;  // no message worth a stack overflow
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("error") || !doc["error"].IsObject()) {
    return info;
  }
  const auto& err = doc["error"];
  if (err.HasMember("@Message.ExtendedInfo") && err["@Message.ExtendedInfo"].IsArray() &&
      !err["@Message.ExtendedInfo"].Empty()) {
    const auto& first = err["@Message.ExtendedInfo"][0];
    if (first.IsObject()) {
      if (first.HasMember("MessageId") && first["MessageId"].IsString()) {
        info.message_id = first["MessageId"].GetString();
      }
      if (first.HasMember("Message") && first["Message"].IsString()) {
        info.message = first["Message"].GetString();
      }
    }
  }
  if (info.message_id.empty() && err.HasMember("code") && err["code"].IsString()) {
    info.message_id = err["code"].GetString();
  }
  if (info.message.empty() && err.HasMember("message") && err["message"].IsString()) {
    info.message = err["message"].GetString();
  }
  return info;
}

bool MessageIs(const ExtendedInfo& info, std::string_view short_id) {
  const auto& id = info.message_id;
  return id.size() >= short_id.size() && id.compare(id.size() - short_id.size(), short_id.size(),
                                                    short_id) == 0;
}

Error ErrorFromResponse(const http::Response& response, std::string_view resource, bool read_only) {
  const ExtendedInfo info = ParseExtendedInfo(response.body);
  const std::string detail = info.message_id.empty()
                                 ? std::string()
                                 : fmt::format(": {}: {}", info.message_id, info.message);
  const std::string message = fmt::format("{}: HTTP {}{}", resource, response.status, detail);
  const int s = response.status;
  if (MessageIs(info, "RAC0218")) return MakeError("redfish.session_cap", message, true);
  if (MessageIs(info, "SYS518") || MessageIs(info, "SWC0700")) {
    return MakeError("redfish.not_ready", message, true);
  }
  if (s == 401 || s == 403) return MakeError("redfish.auth", message, false);
  if (s == 409) return MakeError("redfish.conflict", message, false);
  if (s == 404) return MakeError("redfish.not_found", message, false);
  if (s == 400 || s == 405 || s == 412 || s == 415) return MakeError("redfish.bad_request", message, false);
  if (s >= 500) return MakeError("redfish.server_error", message, read_only);
  return MakeError("redfish.unexpected_status", message, false);
}

}  // namespace dcops::redfish
