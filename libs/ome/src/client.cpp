#include "dcops/ome/client.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "dcops/common/json_depth.hpp"

namespace dcops::ome {
namespace {

// Message ids OME answers when it will not open another session: CURS1209, "the maximum number
// of sessions for this user has been reached", as a real appliance answered it
// (tests/fixtures/ome/session-limit.md has the evidence; the HTTP status is not documented).
bool SessionLimitId(const std::string& id) {
  static const char* const kIds[] = {"CURS1209"};
  return std::any_of(std::begin(kIds), std::end(kIds), [&](const char* k) { return id == k; });
}

// An id we do not know, answered with a status and a message about a session limit.
bool SessionLimitText(int status, std::string message) {
  if (status != 400 && status != 403 && status != 429 && status != 503) return false;
  std::transform(message.begin(), message.end(), message.begin(), [](unsigned char c) { return std::tolower(c); });
  if (message.find("session") == std::string::npos) return false;
  for (const char* word : {"maximum", "limit", "exceed", "too many", "no more"}) {
    if (message.find(word) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

// OME's error body: {"error": {"code", "message", "@Message.ExtendedInfo": [{"MessageId", "Message"}]}}.
Error OmeError(int status, const std::string& body, const std::string& what) {
  rapidjson::Document d;
  if (JsonNestingWithin(body, kMaxDeviceJsonNesting)) d.Parse(body.c_str());
  std::string id, message;
  if (!d.HasParseError() && d.IsObject() && d.HasMember("error") && d["error"].IsObject()) {
    const auto& e = d["error"];
    if (e.HasMember("@Message.ExtendedInfo") && e["@Message.ExtendedInfo"].IsArray() && !e["@Message.ExtendedInfo"].Empty()) {
      const auto& info = e["@Message.ExtendedInfo"][0];
      if (info.IsObject() && info.HasMember("MessageId") && info["MessageId"].IsString()) id = info["MessageId"].GetString();
      if (info.IsObject() && info.HasMember("Message") && info["Message"].IsString()) message = info["Message"].GetString();
    }
    if (message.empty() && e.HasMember("message") && e["message"].IsString()) message = e["message"].GetString();
  }
  if (message.empty()) message = fmt::format("HTTP {} without OME's error body", status);
  const std::string text = fmt::format("{}: {}{}", what, id.empty() ? "" : id + ": ", message);
  if (SessionLimitId(id) || SessionLimitText(status, message)) return MakeError("ome.session_cap", text, true);
  if (status == 429) return MakeError("ome.rate_limited", text, true);
  if (status == 401) return MakeError("ome.auth", text);
  return MakeError("ome.http", text, status >= 500);
}

namespace {

Result<std::string> Text(const rapidjson::Value& v, const char* key, const std::string& where, bool nullable) {
  if (!v.HasMember(key)) return MakeError("ome.schema", fmt::format("{}: {} is missing", where, key));
  if (v[key].IsNull() && nullable) return std::string();
  if (!v[key].IsString()) return MakeError("ome.schema", fmt::format("{}: {} is not a string", where, key));
  return std::string(v[key].GetString());
}

Result<int> Int(const rapidjson::Value& v, const char* key, const std::string& where) {
  if (!v.HasMember(key) || !v[key].IsInt()) return MakeError("ome.schema", fmt::format("{}: {} is missing or not an integer", where, key));
  return v[key].GetInt();
}

}  // namespace

Result<Device> ReadDevice(const rapidjson::Value& m) {
  if (!m.IsObject()) return MakeError("ome.schema", "DeviceService/Devices: a member is not an object");
  auto id = Int(m, "Id", "DeviceService/Devices");
  if (!id) return id.error();
  const std::string where = fmt::format("DeviceService/Devices({})", *id);
  Device d;
  d.id = *id;
  auto type = Int(m, "Type", where);
  if (!type) return type.error();
  d.type = *type;
  for (auto [key, out] : {std::pair<const char*, std::string*>{"DeviceServiceTag", &d.service_tag}, {"DeviceName", &d.name},
                          {"Model", &d.model}}) {
    auto t = Text(m, key, where, true);
    if (!t) return t.error();
    *out = *t;
  }
  auto power = Int(m, "PowerState", where);
  if (!power) return power.error();
  d.power_state = *power;
  auto status = Int(m, "Status", where);
  if (!status) return status.error();
  d.status = *status;
  if (m.HasMember("DeviceManagement")) {
    if (!m["DeviceManagement"].IsArray()) return MakeError("ome.schema", where + ": DeviceManagement is not an array");
    for (const auto& mgmt : m["DeviceManagement"].GetArray()) {
      if (!mgmt.IsObject()) return MakeError("ome.schema", where + ": DeviceManagement[] is not an object");
      auto address = Text(mgmt, "NetworkAddress", where + ": DeviceManagement[]", true);
      if (!address) return address.error();
      if (!address->empty()) {
        d.idrac_address = *address;
        break;
      }
    }
  }
  return d;
}

Client::Client(http::Client& http, Endpoint endpoint) : http_(http), endpoint_(std::move(endpoint)) {}

Status Client::Login() {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("UserName");
  w.String(endpoint_.username.c_str());
  w.Key("Password");
  w.String(endpoint_.password.c_str());
  w.Key("SessionType");
  w.String("API");
  w.EndObject();
  http::Request req;
  req.method = http::Method::kPost;
  req.url = endpoint_.base_url + "/api/SessionService/Sessions";
  req.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  req.body.assign(buf.GetString(), buf.GetSize());
  req.tls = endpoint_.tls;
  auto r = http_.Execute(req);
  if (!r) return r.error();
  if (!r->ok()) return OmeError(r->status, r->body, "login");
  token_ = r->Header("X-Auth-Token");
  session_path_ = r->Header("Location");
  if (token_.empty()) return MakeError("ome.schema", "login: no X-Auth-Token in the answer");
  if (session_path_.empty()) {
    // Older OME answers no Location: the session's Id is in the body.
    rapidjson::Document d;
    if (JsonNestingWithin(r->body, kMaxDeviceJsonNesting)) d.Parse(r->body.c_str());
    if (!d.HasParseError() && d.IsObject() && d.HasMember("Id") && d["Id"].IsString()) {
      session_path_ = fmt::format("/api/SessionService/Sessions('{}')", d["Id"].GetString());
    }
  }
  return Status();
}

Status Client::Logout() {
  if (token_.empty()) return Status();
  Status outcome;
  if (session_path_.empty()) {
    outcome = MakeError("ome.logout", "logout: OME named no session to delete; it ends when OME times it out (30 min)");
  } else {
    http::Request req;
    req.method = http::Method::kDelete;
    req.url = endpoint_.base_url + session_path_;
    req.headers = {{"X-Auth-Token", token_}};
    req.tls = endpoint_.tls;
    auto r = http_.Execute(req);
    if (!r) {
      outcome = MakeError("ome.logout", "logout: " + r.error().message + "; the session ends when OME times it out (30 min)");
    } else if (!r->ok() && r->status != 404 && r->status != 401) {  // 404, 401: the session is already gone
      outcome = MakeError("ome.logout", OmeError(r->status, r->body, "logout").message +
                                            "; the session ends when OME times it out (30 min)");
    }
  }
  // Forgotten either way: the token is not used again.
  token_.clear();
  session_path_.clear();
  return outcome;
}

Result<rapidjson::Document> Client::GetJson(const std::string& path) {
  http::Request req;
  req.url = endpoint_.base_url + path;
  req.headers = {{"X-Auth-Token", token_}, {"Accept", "application/json"}};
  req.tls = endpoint_.tls;
  auto r = http_.Execute(req);
  if (!r) return r.error();
  const std::string resource = path.substr(0, path.find('?'));
  if (r->status == 401) return MakeError("ome.session_expired", resource + ": the session is no longer valid", true);
  if (!r->ok()) return OmeError(r->status, r->body, resource);
  if (!JsonNestingWithin(r->body, kMaxDeviceJsonNesting)) {
    return MakeError("ome.schema", fmt::format("{}: the answer nests deeper than {} levels", resource, kMaxDeviceJsonNesting));
  }
  rapidjson::Document d;
  d.Parse(r->body.c_str());
  if (d.HasParseError() || !d.IsObject()) {
    return MakeError("ome.schema", fmt::format("{}: the answer is not a JSON object (HTTP {}, {} bytes)", resource, r->status, r->body.size()));
  }
  return d;
}

Status Client::ForEachDevicePage(int type, int page_size, const std::function<Status(const DevicePage&)>& page) {
  std::string path = fmt::format("/api/DeviceService/Devices?$top={}", page_size);
  if (type != 0) path += fmt::format("&$filter=Type%20eq%20{}", type);
  for (int pages = 0; !path.empty(); ++pages) {
    if (pages == 100000) return MakeError("ome.schema", "DeviceService/Devices: the next links never end");
    auto d = GetJson(path);
    if (!d) return d.error();
    if (!d->HasMember("value") || !(*d)["value"].IsArray()) {
      return MakeError("ome.schema", "DeviceService/Devices: value is missing or not an array");
    }
    DevicePage p;
    p.total = d->HasMember("@odata.count") && (*d)["@odata.count"].IsInt() ? (*d)["@odata.count"].GetInt() : -1;
    for (const auto& m : (*d)["value"].GetArray()) {
      auto device = ReadDevice(m);
      if (device) {
        p.devices.push_back(std::move(*device));
      } else {
        const int id = m.IsObject() && m.HasMember("Id") && m["Id"].IsInt() ? m["Id"].GetInt() : 0;
        p.failed.push_back({id, device.error().message});
      }
    }
    if (auto st = page(p); !st) return st;
    path.clear();
    if (d->HasMember("@odata.nextLink") && (*d)["@odata.nextLink"].IsString()) {
      for (const char* c = (*d)["@odata.nextLink"].GetString(); *c; ++c) path += *c == ' ' ? std::string("%20") : std::string(1, *c);
      if (path.rfind("http", 0) == 0) path = path.substr(path.find('/', path.find("//") + 2));  // absolute: keep our host
    }
  }
  return Status();
}

Result<DeviceDetails> Client::InventoryDetails(int device_id) {
  auto d = GetJson(fmt::format("/api/DeviceService/Devices({})/InventoryDetails", device_id));
  if (!d) return d.error();
  return ReadDeviceDetails(*d);
}

}  // namespace dcops::ome
