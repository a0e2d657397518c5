#include "dcops/ome/client.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "dcops/common/json_depth.hpp"

namespace dcops::ome {
namespace {

// OME's error body: {"error": {"code", "message", "@Message.ExtendedInfo": [{"MessageId", "Message"}]}}.
Error FromOme(const http::Response& r, const std::string& what) {
  rapidjson::Document d;
  if (JsonNestingWithin(r.body, kMaxDeviceJsonNesting)) d.Parse(r.body.c_str());
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
  if (message.empty()) message = fmt::format("HTTP {} without OME's error body", r.status);
  const std::string text = fmt::format("{}: {}{}", what, id.empty() ? "" : id + ": ", message);
  if (id == "CSES1004") return MakeError("ome.session_cap", text, true);
  return MakeError("ome.http", text, r.status >= 500);
}

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
  if (r->status == 401) return MakeError("ome.auth", FromOme(*r, "login").message);
  if (!r->ok()) return FromOme(*r, "login");
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

void Client::Logout() {
  if (token_.empty()) return;
  if (!session_path_.empty()) {
    http::Request req;
    req.method = http::Method::kDelete;
    req.url = endpoint_.base_url + session_path_;
    req.headers = {{"X-Auth-Token", token_}};
    req.tls = endpoint_.tls;
    (void)http_.Execute(req);  // a failed logout leaves a session OME times out in 30 min
  }
  token_.clear();
  session_path_.clear();
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
  if (!r->ok()) return FromOme(*r, resource);
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

}  // namespace dcops::ome

namespace dcops::ome {
namespace {

std::string Text(const rapidjson::Value& o, const char* key) {
  auto it = o.FindMember(key);
  return it != o.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength()) : "";
}

std::int64_t Number(const rapidjson::Value& o, const char* key) {
  auto it = o.FindMember(key);
  return it != o.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : -1;
}

const char* Health(std::int64_t status) {
  switch (status) {
    case 1000: return "OK";
    case 3000: return "Warning";
    case 4000: return "Critical";
    default: return "";
  }
}

}  // namespace

std::int64_t ParseSize(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || v < 0) return -1;
  std::string unit(end);
  unit.erase(0, unit.find_first_not_of(' '));
  static const std::pair<const char*, double> kUnits[] = {
      {"bytes", 1}, {"B", 1}, {"KB", 1024.0}, {"MB", 1024.0 * 1024}, {"GB", 1024.0 * 1024 * 1024}, {"TB", 1024.0 * 1024 * 1024 * 1024}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) return static_cast<std::int64_t>(v * factor);
  }
  return -1;
}

Result<DeviceDetails> ReadDeviceDetails(const rapidjson::Value& collection) {
  if (!collection.IsObject() || !collection.HasMember("value") || !collection["value"].IsArray()) {
    return MakeError("ome.schema", "InventoryDetails: value is missing or not an array");
  }
  DeviceDetails out;
  for (const auto& detail : collection["value"].GetArray()) {
    if (!detail.IsObject() || !detail.HasMember("InventoryInfo") || !detail["InventoryInfo"].IsArray()) continue;
    const std::string type = Text(detail, "InventoryType");
    for (const auto& i : detail["InventoryInfo"].GetArray()) {
      if (!i.IsObject()) continue;
      if (type == "serverProcessors") {
        out.processors.push_back({Text(i, "SlotNumber").empty() ? Text(i, "InstanceId") : Text(i, "SlotNumber"), Text(i, "ModelName"),
                                  Text(i, "BrandName"), static_cast<int>(Number(i, "NumberOfCores")),
                                  static_cast<int>(Number(i, "MaxSpeed")), Health(Number(i, "Status"))});
      } else if (type == "serverMemoryDevices") {
        DeviceDetails::Dimm m;
        m.slot = Text(i, "InstanceId").empty() ? Text(i, "Name") : Text(i, "InstanceId");
        m.memory_type = Text(i, "TypeDetails");
        m.manufacturer = Text(i, "Manufacturer");
        m.part_number = Text(i, "PartNumber");
        m.serial_number = Text(i, "SerialNumber");
        m.health = Health(Number(i, "Status"));
        m.capacity_mib = Number(i, "Size");
        m.speed_mhz = static_cast<int>(Number(i, "Speed"));
        out.memory.push_back(std::move(m));
      } else if (type == "serverArrayDisks") {
        DeviceDetails::Disk k;
        const std::string number = Text(i, "DiskNumber");  // "Disk.Bay.0:Enclosure.Internal.0-1:RAID.Integrated.1-1"
        k.slot = number.substr(0, number.find(':'));
        const auto last = number.rfind(':');
        k.controller = last == std::string::npos ? "" : number.substr(last + 1);
        k.model = Text(i, "ModelNumber");
        k.serial_number = Text(i, "SerialNumber");
        const std::string media = Text(i, "MediaType");
        k.media_type = media == "Solid State Drive" ? "SSD" : media == "Hard Disk Drive" ? "HDD" : media;
        k.protocol = Text(i, "BusType");
        k.firmware_version = Text(i, "Revision");
        k.health = Health(Number(i, "Status"));
        k.capacity_bytes = ParseSize(Text(i, "Size"));
        k.predicted_failure = Text(i, "PredictiveFailureState") == "1";
        if (!k.slot.empty()) out.drives.push_back(std::move(k));
      } else if (type == "deviceSoftware") {
        if (Text(i, "Status") != "Installed") continue;
        const std::string instance = Text(i, "InstanceId");
        const std::string component = Text(i, "ComponentId");
        DeviceDetails::Firmware f;
        // The same ids a Redfish refresh writes ("Installed-159"); a component without one by
        // its FQDD, so each stays one row.
        const auto fqdd = instance.find("__");
        f.component_id = !component.empty() ? "Installed-" + component
                         : fqdd != std::string::npos ? instance.substr(fqdd + 2) : instance;
        f.name = Text(i, "DeviceDescription");
        f.version = Text(i, "Version");
        const std::string date = Text(i, "InstallationDate");
        f.install_date = date == "NA" ? "" : date;
        if (!f.component_id.empty()) out.firmware.push_back(std::move(f));
      }
    }
  }
  return out;
}

Result<DeviceDetails> Client::InventoryDetails(int device_id) {
  auto d = GetJson(fmt::format("/api/DeviceService/Devices({})/InventoryDetails", device_id));
  if (!d) return d.error();
  return ReadDeviceDetails(*d);
}

}  // namespace dcops::ome
