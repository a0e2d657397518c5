#include "ome_server.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "ome_details.hpp"
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

}  // namespace

Server::Server(Model& model, std::string address, int port) : model_(model), address_(std::move(address)), port_(port) {}

Server::~Server() { Stop(); }

std::string Server::Start() {
  auto tls_server = SelfSignedServer(address_, "ome-sim", &fingerprint_);
  if (!tls_server) return tls_server.error().message;
  server_ = std::move(*tls_server);
  // As OME's web server: a connection carries up to 100 requests (Apache's default; the
  // library's own is 5, which would make a client pay a TLS handshake every fifth request),
  // and enough workers for a client reading several servers' details at once besides its
  // listing.
  server_->set_keep_alive_max_count(100);
  server_->new_task_queue = [] { return new httplib::ThreadPool(24); };
  server_->set_pre_routing_handler([this](const httplib::Request&, httplib::Response&) {
    ++requests_;
    return httplib::Server::HandlerResponse::Unhandled;
  });
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
        const auto& refusal = model_.options().session_cap_answer;
        return Error(res, refusal.status, refusal.message_id, refusal.message);
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
    const int now = ++details_in_flight_;
    for (int most = max_details_in_flight_; now > most && !max_details_in_flight_.compare_exchange_weak(most, now);) {
    }
    struct Leave {
      std::atomic<int>& n;
      ~Leave() { --n; }
    } leave{details_in_flight_};
    {
      std::unique_lock lock(gather_mu_);
      if (gather_left_ > 0 && --gather_left_ == 0) gathered_.notify_all();
      gathered_.wait_for(lock, std::chrono::seconds(10), [this] { return gather_left_ == 0; });
    }
    // The simulated device's own latency (not a test's wait): OME assembles each server's
    // inventory from its database.
    if (model_.options().details_latency.count() > 0) std::this_thread::sleep_for(model_.options().details_latency);
    const int id = std::stoi(req.matches[1]);
    auto d = model_.Find(id);
    if (!d || d->type != 1000) return Error(res, 404, "CGEN1006", "Unable to complete the request because the resource URI does not exist.");
    if (model_.DetailsFail(id)) {
      return Error(res, 500, "CGEN1009", "Unable to complete the operation because an unexpected error occurred.");
    }
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

void Server::GatherDetails(int n) {
  std::lock_guard lock(gather_mu_);
  gather_left_ = n;
}

void Server::Stop() {
  gate_.Release();  // a held request must not keep the server from stopping
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace dcops::sim::ome
