#include "routes.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <thread>

#include "bmc.hpp"
#include "inventory_json.hpp"
#include "redfish_json.hpp"

namespace dcops::sim {
namespace {

constexpr const char* kJson = "application/json;odata.metadata=minimal;charset=utf-8";

SimTime Now() { return std::chrono::steady_clock::now(); }

std::string Base64Decode(const std::string& in) {
  static const std::string chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    const auto pos = chars.find(c);
    if (pos == std::string::npos) break;
    val = (val << 6) + static_cast<int>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

void Fail(httplib::Response& res, int status, const std::string& id, const std::string& message) {
  res.status = status;
  res.set_content(ErrorJson(id, message), kJson);
}

// Counts the request for as long as it is being served.
class InFlight {
 public:
  explicit InFlight(Bmc& bmc) : bmc_(bmc) { bmc_.Enter(); }
  ~InFlight() { bmc_.Leave(); }

 private:
  Bmc& bmc_;
};

bool Authorized(Bmc& bmc, const httplib::Request& req, httplib::Response& res) {
  const std::string token = req.get_header_value("X-Auth-Token");
  if (!token.empty()) {
    if (bmc.ValidSession(token, Now())) return true;
  } else {
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Basic ", 0) == 0) {
      const std::string pair = Base64Decode(auth.substr(6));
      const auto colon = pair.find(':');
      if (colon != std::string::npos &&
          bmc.CheckPassword(pair.substr(0, colon), pair.substr(colon + 1))) {
        return true;
      }
    }
  }
  Fail(res, 401, "Base.1.8.AccessDenied",
       "While attempting to establish a connection to /redfish/v1, the service denied access.");
  return false;
}

// Shared front half of every handler: latency, random faults, and (for authenticated GETs of
// data) the broken-answer modes. Returns false when the request has been answered already.
bool Front(Bmc& bmc, const httplib::Request& req, httplib::Response& res, bool needs_auth) {
  const Faults f = bmc.faults();
  if (f.latency.count() > 0) std::this_thread::sleep_for(f.latency);  // the device is slow
  if (bmc.RollFault()) {
    Fail(res, 503, "IDRAC.2.8.RAC0508", "An unexpected error occurred.");
    return false;
  }
  if (f.mode == Mode::kNotReady) {
    Fail(res, 503, "IDRAC.2.8.SYS518",
         "iDRAC is not ready. The configuration values cannot be accessed. Please retry after a "
         "few minutes.");
    return false;
  }
  if (needs_auth && !Authorized(bmc, req, res)) return false;
  if (needs_auth && req.method == "GET" && f.mode == Mode::kHtml) {
    res.status = 200;
    res.set_content("<html><head><title>Error</title></head><body>Internal error</body></html>",
                    "text/html");
    return false;
  }
  if (needs_auth && req.method == "GET" && f.mode == Mode::kTruncated) {
    res.status = 200;
    res.set_content(R"({"@odata.id": "/redfish/v1/Systems/System.Embedded.1", "PowerState": "O)",
                    kJson);
    return false;
  }
  return true;
}

void Serve(httplib::Server& server, Bmc& bmc, const std::string& path, bool needs_auth,
           std::function<std::string()> body) {
  server.Get(path, [&bmc, needs_auth, body](const httplib::Request& req, httplib::Response& res) {
    InFlight in(bmc);
    if (!Front(bmc, req, res, needs_auth)) return;
    res.set_content(body(), kJson);
  });
}

// A collection and its members, read from the BMC's inventory at request time (firmware
// entries change their ids when an update lands). $expand is honoured only by firmware that
// advertises it; older firmware ignores the query, as real iDRACs do.
void ServeCollection(httplib::Server& server, Bmc& bmc, const std::string& path,
                     const std::string& type, const std::string& name,
                     std::vector<Member> (*members)(const Inventory&)) {
  server.Get(path, [&bmc, path, type, name, members](const httplib::Request& req, httplib::Response& res) {
    InFlight in(bmc);
    if (!Front(bmc, req, res, true)) return;
    const bool expand = bmc.SupportsExpand() && req.has_param("$expand");
    res.set_content(CollectionJson(path, type, name, members(bmc.inventory()), expand), kJson);
  });
  server.Get(path + "/([^/]+)", [&bmc, path, members](const httplib::Request& req, httplib::Response& res) {
    InFlight in(bmc);
    if (!Front(bmc, req, res, true)) return;
    const std::string want = path + "/" + std::string(req.matches[1]);
    for (const auto& [id, doc] : members(bmc.inventory())) {
      if (id == want) {
        res.set_content(doc, kJson);
        return;
      }
    }
    Fail(res, 404, "Base.1.8.ResourceMissingAtURI", "The resource at the URI " + want + " was not found.");
  });
}

void CreateSession(Bmc& bmc, const httplib::Request& req, httplib::Response& res) {
  InFlight in(bmc);
  if (!Front(bmc, req, res, false)) return;
  rapidjson::Document doc;
  doc.Parse(req.body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("UserName") ||
      !doc["UserName"].IsString() || !doc.HasMember("Password") || !doc["Password"].IsString()) {
    Fail(res, 400, "Base.1.8.MalformedJSON", "The request body submitted was malformed JSON.");
    return;
  }
  const std::string user = doc["UserName"].GetString();
  if (!bmc.CheckPassword(user, doc["Password"].GetString())) {
    Fail(res, 401, "Base.1.8.AccessDenied", "The authentication credentials are not valid.");
    return;
  }
  auto token = bmc.CreateSession(user, Now());
  if (!token) {
    Fail(res, 503, "IDRAC.2.8.RAC0218", "The maximum number of user sessions is reached.");
    return;
  }
  const std::string id = bmc.SessionIdOf(*token);
  res.status = 201;
  res.set_header("X-Auth-Token", *token);
  res.set_header("Location", "/redfish/v1/SessionService/Sessions/" + id);
  res.set_content(SessionJson(id, user), kJson);
}

}  // namespace

void InstallRedfishRoutes(httplib::Server& server, Bmc& bmc) {
  const Identity& id = bmc.identity();
  Serve(server, bmc, "/redfish/v1", false, [&id] { return ServiceRootJson(id); });
  Serve(server, bmc, "/redfish/v1/", false, [&id] { return ServiceRootJson(id); });
  Serve(server, bmc, "/redfish/v1/Systems", true, [] { return SystemsCollectionJson(); });
  Serve(server, bmc, "/redfish/v1/Systems/System.Embedded.1", true, [&bmc] {
    return SystemJson(bmc.identity(), bmc.PowerState(Now()), bmc.AllowedResetTypes(), bmc.LastResetTime());
  });
  Serve(server, bmc, "/redfish/v1/Managers", true, [] { return ManagersCollectionJson(); });
  Serve(server, bmc, "/redfish/v1/Managers/iDRAC.Embedded.1", true,
        [&id] { return ManagerJson(id); });
  Serve(server, bmc, "/redfish/v1/SessionService", true, [] { return SessionServiceJson(); });

  const std::string sys = kSystem;
  ServeCollection(server, bmc, sys + "/Processors", "Processor", "Processors Collection", ProcessorMembers);
  ServeCollection(server, bmc, sys + "/Memory", "Memory", "Memory Collection", MemoryMembers);
  ServeCollection(server, bmc, sys + "/Storage", "Storage", "Storage Collection", StorageMembers);
  ServeCollection(server, bmc, sys + "/EthernetInterfaces", "EthernetInterface",
                  "System Ethernet Interface Collection", EthernetMembers);
  ServeCollection(server, bmc, StoragePath(bmc.inventory()) + "/Drives", "Drive", "Drive Collection",
                  DriveMembers);
  ServeCollection(server, bmc, StoragePath(bmc.inventory()) + "/Volumes", "Volume", "Volume Collection",
                  VolumeMembers);
  ServeCollection(server, bmc, "/redfish/v1/UpdateService/FirmwareInventory", "SoftwareInventory",
                  "Firmware Inventory Collection", FirmwareMembers);
  server.Post("/redfish/v1/Dell/Managers/iDRAC.Embedded.1/DellLCService/Actions/"
              "DellLCService.GetRemoteServicesAPIStatus",
              [&bmc](const httplib::Request& req, httplib::Response& res) {
                InFlight in(bmc);
                if (!Front(bmc, req, res, true)) return;
                const std::string lc = bmc.LcStatus();
                res.set_content(fmt::format(R"({{"@Message.ExtendedInfo": [{{"Message": "Successfully Completed Request", "MessageId": "Base.1.8.Success", "Severity": "OK"}}],
  "LCStatus": "{lc}", "RTStatus": "{rt}", "ServerStatus": "OutOfPOST", "Status": "{st}"}})",
                                            fmt::arg("lc", lc), fmt::arg("rt", lc == "Ready" ? "Ready" : "NotReady"),
                                            fmt::arg("st", lc == "Ready" ? "Ready" : "NotReady")),
                                kJson);
              });

  auto create = [&bmc](const httplib::Request& req, httplib::Response& res) {
    CreateSession(bmc, req, res);
  };
  server.Post("/redfish/v1/SessionService/Sessions", create);
  server.Post("/redfish/v1/Sessions", create);  // older iDRAC9 firmware path
  auto remove = [&bmc](const httplib::Request& req, httplib::Response& res) {
    InFlight in(bmc);
    if (!Front(bmc, req, res, true)) return;
    if (!bmc.DeleteSession(req.matches[1])) {
      Fail(res, 404, "Base.1.8.ResourceMissingAtURI", "The resource at the URI was not found.");
      return;
    }
    res.status = 204;
  };
  server.Delete(R"(/redfish/v1/SessionService/Sessions/(\d+))", remove);
  server.Delete(R"(/redfish/v1/Sessions/(\d+))", remove);

  server.Post("/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset",
              [&bmc](const httplib::Request& req, httplib::Response& res) {
                InFlight in(bmc);
                if (!Front(bmc, req, res, true)) return;
                rapidjson::Document doc;
                doc.Parse(req.body.c_str());
                if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("ResetType") ||
                    !doc["ResetType"].IsString()) {
                  Fail(res, 400, "Base.1.8.PropertyMissing",
                       "The property ResetType is a required property and must be included in "
                       "the request.");
                  return;
                }
                const ActionAnswer a = bmc.Reset(doc["ResetType"].GetString(), Now());
                if (a.status >= 300) {
                  Fail(res, a.status, a.message_id, a.message);
                  return;
                }
                res.status = a.status;
              });
}

}  // namespace dcops::sim
