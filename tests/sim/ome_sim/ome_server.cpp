#include "ome_server.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "sim_tls.hpp"

namespace dcops::sim::ome {
namespace {

constexpr const char* kJson = "application/json; odata.metadata=minimal";
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Error(httplib::Response& res, int status, const std::string& id, const std::string& message) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("code");
  w.String("Base.1.0.GeneralError");
  w.Key("message");
  w.String("A general error has occurred. See ExtendedInfo for more information.");
  w.Key("@Message.ExtendedInfo");
  w.StartArray();
  w.StartObject();
  w.Key("MessageId");
  w.String(id.c_str());
  w.Key("RelatedProperties");
  w.StartArray();
  w.EndArray();
  w.Key("Message");
  w.String(message.c_str());
  w.Key("MessageArgs");
  w.StartArray();
  w.EndArray();
  w.Key("Severity");
  w.String("Critical");
  w.Key("Resolution");
  w.String("Retry the operation. If the issue persists, contact your system administrator.");
  w.EndObject();
  w.EndArray();
  w.EndObject();
  w.EndObject();
  res.status = status;
  res.set_content(std::string(buf.GetString(), buf.GetSize()), kJson);
}

void Str(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  if (value.empty()) {
    w.Null();
  } else {
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  }
}

void DeviceJson(Writer& w, const Device& d) {
  const std::string self = fmt::format("/api/DeviceService/Devices({})", d.id);
  w.StartObject();
  Str(w, "@odata.type", "#DeviceService.Device");
  Str(w, "@odata.id", self);
  w.Key("Id");
  w.Int(d.id);
  w.Key("Type");
  w.Int(d.type);
  Str(w, "Identifier", d.service_tag);
  if (d.garbled) {
    w.Key("DeviceServiceTag");
    w.Int(12345);
  } else {
    Str(w, "DeviceServiceTag", d.service_tag);
  }
  Str(w, "ChassisServiceTag", "");
  Str(w, "Model", d.model);
  w.Key("PowerState");
  w.Int(d.power_state);
  w.Key("ManagedState");
  w.Int(3000);
  w.Key("Status");
  w.Int(d.status);
  w.Key("ConnectionState");
  w.Bool(true);
  Str(w, "AssetTag", "");
  w.Key("SystemId");
  w.Int(2031);
  Str(w, "DeviceName", d.name);
  Str(w, "LastInventoryTime", "2026-11-27 06:00:01.123");
  Str(w, "LastStatusTime", "2026-11-27 07:30:02.426");
  w.Key("DeviceSubscription");
  w.Null();
  w.Key("DeviceCapabilities");
  w.StartArray();
  for (int c : {1, 2, 3, 4, 7, 8, 9, 41, 50}) w.Int(c);
  w.EndArray();
  w.Key("SlotConfiguration");
  w.StartObject();
  w.EndObject();
  w.Key("DeviceManagement");
  w.StartArray();
  if (!d.idrac_address.empty() || d.empty_address_record) {
    w.StartObject();
    w.Key("ManagementId");
    w.Int(d.id + 100000);
    w.Key("NetworkAddress");  // a string even when empty, as OME writes it
    w.String(d.idrac_address.c_str(), static_cast<rapidjson::SizeType>(d.idrac_address.size()));
    Str(w, "MacAddress", fmt::format("d0:8e:79:{:02x}:{:02x}:{:02x}", (d.id >> 16) & 0xff, (d.id >> 8) & 0xff, d.id & 0xff));
    w.Key("ManagementType");
    w.Int(2);
    Str(w, "InstrumentationName", d.name);
    Str(w, "DnsName", "idrac-" + d.service_tag);
    w.Key("ManagementProfile");
    w.StartArray();
    w.StartObject();
    w.Key("ManagementProfileId");
    w.Int(d.id + 200000);
    Str(w, "ManagementURL", d.idrac_address.empty() ? "" : "https://" + d.idrac_address + ":443");
    w.Key("HasCreds");
    w.Int(0);
    w.Key("Status");
    w.Int(1000);
    w.EndObject();
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  Str(w, "InventoryDetails@odata.navigationLink", self + "/InventoryDetails");
  w.EndObject();
}

// GET …/Devices(id)/InventoryDetails: the inventory types a server has, shaped as OME 3.x
// answers them (sizes as text with units, "NA" dates, the previous iDRAC firmware listed as
// "Available" next to the installed one, types a sync does not read).
std::string InventoryDetailsJson(const Device& d) {
  const std::string self = fmt::format("/api/DeviceService/Devices({})/InventoryDetails", d.id);
  auto detail = [&](const char* type, const std::string& items) {
    return fmt::format(R"j({{"@odata.id":"{}('{}')","@odata.type":"#DeviceService.InventoryDetail","InventoryType":"{}","InventoryInfo":[{}]}})j",
                       self, type, type, items);
  };
  std::string cpus, dimms, disks, software;
  for (int s = 1; s <= 2; ++s) {
    cpus += fmt::format(R"j({}{{"Id":{},"BrandName":"Intel","CurrentSpeed":2000,"Family":"Intel(R) Xeon(TM)","InstanceId":"CPU.Socket.{}",)j"
                        R"j("MaxSpeed":3200,"ModelName":"Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz","NumberOfCores":32,)j"
                        R"j("NumberOfEnabledCores":32,"SlotNumber":"CPU.Socket.{}","Status":1000,"Voltage":"1.8"}})j",
                        s > 1 ? "," : "", d.id * 10 + s, s, s);
  }
  for (int m = 1; m <= 4; ++m) {
    dimms += fmt::format(R"j({}{{"Id":{},"BankName":"A","CurrentOperatingSpeed":3200,"DeviceDescription":"DIMM A{}","InstanceId":"DIMM.Socket.A{}",)j"
                         R"j("Manufacturer":"Hynix Semiconductor","Name":"DIMM.Socket.A{}","PartNumber":"HMA84GR7DJR4N-XN",)j"
                         R"j("Rank":"Double Rank","SerialNumber":"{:08X}","Size":32768,"Speed":3200,"Status":1000,"TypeDetails":"DDR4 DIMM"}})j",
                         m > 1 ? "," : "", d.id * 10 + m, m, m, m, d.id * 16 + m);
  }
  for (int k = 0; k < 2; ++k) {
    disks += fmt::format(R"j({}{{"Id":{},"BusType":"SATA","DiskNumber":"Disk.Bay.{}:Enclosure.Internal.0-1:RAID.Integrated.1-1",)j"
                         R"j("MediaType":"{}","ModelNumber":"{}","PredictiveFailureState":"{}","RaidStatus":"Online",)j"
                         R"j("Revision":"DL6R","SerialNumber":"S4{:06d}","Size":"{}","SlotNumber":{},"Status":{},"VendorName":"SAMSUNG"}})j",
                         k > 0 ? "," : "", d.id * 10 + k, k, k == 0 ? "Solid State Drive" : "Hard Disk Drive",
                         k == 0 ? "MZ7LH960HBJR0D3" : "ST2000NM0055", k == 1 && d.id % 13 == 0 ? "1" : "0", d.id * 2 + k,
                         k == 0 ? "893.75 GB" : "1.82 TB", k, k == 1 && d.id % 13 == 0 ? 3000 : 1000);
  }
  software = R"j({"ComponentId":"159","DeviceDescription":"BIOS","InstallationDate":"2025-03-01T00:00:00Z","InstanceId":"DCIM:INSTALLED#741__BIOS.Setup.1-1","SoftwareType":"BIOS","Status":"Installed","Version":"1.12.1"},)j"
             R"j({"ComponentId":"25227","DeviceDescription":"Integrated Dell Remote Access Controller","InstallationDate":"2025-03-01T00:00:00Z","InstanceId":"DCIM:INSTALLED#iDRAC.Embedded.1-1#IDRACinfo","SoftwareType":"FRMW","Status":"Installed","Version":"7.00.00.171"},)j"
             R"j({"ComponentId":"25227","DeviceDescription":"Integrated Dell Remote Access Controller","InstallationDate":"NA","InstanceId":"DCIM:PREVIOUS#iDRAC.Embedded.1-1#IDRACinfo","SoftwareType":"FRMW","Status":"Available","Version":"6.10.30.00"},)j"
             R"j({"DeviceDescription":"Intel(R) Ethernet 25G 2P E810-XXV OCP","InstallationDate":"NA","InstanceId":"DCIM:INSTALLED#701__NIC.Integrated.1-1-1","SoftwareType":"FRMW","Status":"Installed","Version":"22.0.9"})j";
  const std::string os = fmt::format(R"j({{"Id":{},"Hostname":"{}.lab","OsName":"VMware ESXi 8.0.2 build-22380479"}})j", d.id, d.name);
  const std::string types = detail("serverDeviceCards", "") + "," + detail("serverProcessors", cpus) + "," +
                            detail("serverOperatingSystems", os) + "," + detail("serverArrayDisks", disks) + "," +
                            detail("serverMemoryDevices", dimms) + "," + detail("deviceSoftware", software) + "," +
                            detail("subsystemRollupStatus", R"j({"Id":1,"Status":1000,"SubsystemName":"cpuRollupStatus"})j");
  return fmt::format(R"j({{"@odata.context":"/api/$metadata#Collection(DeviceService.InventoryDetail)","@odata.count":7,"value":[{}]}})j",
                     types);
}

}  // namespace

Server::Server(Model& model, std::string address, int port) : model_(model), address_(std::move(address)), port_(port) {}

Server::~Server() { Stop(); }

std::string Server::Start() {
  auto tls_server = SelfSignedServer(address_, "ome-sim", &fingerprint_);
  if (!tls_server) return tls_server.error().message;
  server_ = std::move(*tls_server);
  server_->Post("/api/SessionService/Sessions", [this](const httplib::Request& req, httplib::Response& res) {
    rapidjson::Document body;
    body.Parse(req.body.c_str());
    if (body.HasParseError() || !body.IsObject() || !body.HasMember("UserName") || !body["UserName"].IsString() ||
        !body.HasMember("Password") || !body["Password"].IsString()) {
      return Error(res, 400, "CGEN1004", "Unable to complete the request because the input is not valid.");
    }
    bool capped = false;
    auto session = model_.Login(body["UserName"].GetString(), body["Password"].GetString(), &capped);
    if (!session) {
      if (capped) {
        return Error(res, 400, "CSES1004", "Unable to create a session because the maximum number of sessions is reached.");
      }
      return Error(res, 401, "CSEC5001", "Unable to complete the operation because the user name or password is incorrect.");
    }
    const std::string self = fmt::format("/api/SessionService/Sessions('{}')", session->first);
    res.status = 201;
    res.set_header("X-Auth-Token", session->second);
    res.set_header("Location", self);
    res.set_content(fmt::format(R"({{"@odata.context":"/api/$metadata#SessionService.Session","@odata.type":"#SessionService.Session",)"
                                R"("@odata.id":"{}","Id":"{}","Description":"admin","Name":"API","UserName":"{}","Password":null,)"
                                R"("Roles":["ADMINISTRATOR"],"IpAddress":"127.0.0.1","StartTimeStamp":"2026-11-27 08:00:00.000",)"
                                R"("LastAccessedTimeStamp":"2026-11-27 08:00:00.000","DirectoryGroup":[]}})",
                                self, session->first, body["UserName"].GetString()),
                    kJson);
  });
  server_->Delete(R"(/api/SessionService/Sessions\('([^']+)'\))", [this](const httplib::Request& req, httplib::Response& res) {
    if (!model_.ValidToken(req.get_header_value("X-Auth-Token"))) {
      return Error(res, 401, "CSEC9001", "Unable to complete the operation because the session is not valid.");
    }
    if (!model_.Logout(req.matches[1])) return Error(res, 404, "CGEN1006", "Unable to complete the request because the resource URI does not exist.");
    res.status = 204;
  });
  server_->Get(R"(/api/DeviceService/Devices\(([0-9]+)\)/InventoryDetails)", [this](const httplib::Request& req, httplib::Response& res) {
    if (!model_.ValidToken(req.get_header_value("X-Auth-Token"))) {
      return Error(res, 401, "CSEC9001", "Unable to complete the operation because the session is not valid.");
    }
    auto d = model_.Find(std::stoi(req.matches[1]));
    if (!d || d->type != 1000) return Error(res, 404, "CGEN1006", "Unable to complete the request because the resource URI does not exist.");
    std::string body = InventoryDetailsJson(*d);
    if (fault_ == Fault::kTruncated) body.resize(body.size() / 2);
    res.set_content(body, kJson);
  });
  server_->Get("/api/DeviceService/Devices", [this](const httplib::Request& req, httplib::Response& res) {
    if (!model_.ValidToken(req.get_header_value("X-Auth-Token"))) {
      return Error(res, 401, "CSEC9001", "Unable to complete the operation because the session is not valid.");
    }
    gate_.Pass(req.has_param("$skip") && req.get_param_value("$skip") != "0" ? "devices page" : "devices");
    const Fault f = fault_;
    if (f == Fault::kHtml) {
      res.status = 502;
      return res.set_content("<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html");
    }
    int top = 0, skip = 0;
    try {
      if (req.has_param("$top")) top = std::stoi(req.get_param_value("$top"));
      if (req.has_param("$skip")) skip = std::stoi(req.get_param_value("$skip"));
    } catch (const std::exception&) {
      return Error(res, 400, "CGEN1004", "Unable to complete the request because $top or $skip is not a number.");
    }
    auto page = model_.Devices(req.has_param("$filter") ? req.get_param_value("$filter") : "", top, skip);
    if (!page) return Error(res, 400, "CGEN1004", "Unable to complete the request because the $filter is not valid.");
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    Str(w, "@odata.context", "/api/$metadata#Collection(DeviceService.Device)");
    w.Key("@odata.count");
    w.Int(page->count);
    w.Key("value");
    w.StartArray();
    for (const auto& d : page->devices) DeviceJson(w, d);
    w.EndArray();
    if (!page->next_link.empty()) Str(w, "@odata.nextLink", page->next_link);
    w.EndObject();
    std::string body(buf.GetString(), buf.GetSize());
    if (f == Fault::kTruncated) body.resize(body.size() / 2);
    res.set_content(body, kJson);
  });
  if (!server_->bind_to_port(address_.c_str(), port_)) return fmt::format("cannot listen on {}:{}", address_, port_);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::yield();
  return "";
}

void Server::Stop() {
  gate_.Release();  // a held request must not keep the server from stopping
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace dcops::sim::ome
