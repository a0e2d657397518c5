#include "routes.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include "bmc.hpp"
#include "redfish_json.hpp"
#include "route_support.hpp"

namespace dcops::sim {
namespace {

void CreateSession(Bmc& bmc, const httplib::Request& req, httplib::Response& res) {
  InFlight in(bmc, req);
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

void InstallRedfishRoutes(httplib::Server& server, Bmc& bmc, ImageFetcher& fetcher) {
  const Identity& id = bmc.identity();
  Serve(server, bmc, "/redfish/v1", false, [&id] { return ServiceRootJson(id); });
  Serve(server, bmc, "/redfish/v1/", false, [&id] { return ServiceRootJson(id); });
  Serve(server, bmc, "/redfish/v1/Systems", true, [] { return SystemsCollectionJson(); });
  Serve(server, bmc, "/redfish/v1/Systems/System.Embedded.1", true, [&bmc] {
    return SystemJson(bmc.identity(), bmc.PowerState(Now()), bmc.AllowedResetTypes(), bmc.LastResetTime(),
                      bmc.FirmwareVersion(kBiosComponent), bmc.Boot(), bmc.AllowedBootTargets());
  });
  Serve(server, bmc, "/redfish/v1/Managers", true, [] { return ManagersCollectionJson(); });
  Serve(server, bmc, "/redfish/v1/Managers/iDRAC.Embedded.1", true,
        [&bmc] { return ManagerJson(bmc.identity(), bmc.FirmwareVersion(kIdracComponent), bmc.ManagerLastResetTime()); });
  Serve(server, bmc, "/redfish/v1/SessionService", true, [] { return SessionServiceJson(); });

  InstallInventoryRoutes(server, bmc);
  InstallOperationRoutes(server, bmc, fetcher);
  InstallConfigRoutes(server, bmc);

  auto create = [&bmc](const httplib::Request& req, httplib::Response& res) {
    CreateSession(bmc, req, res);
  };
  server.Post("/redfish/v1/SessionService/Sessions", create);
  server.Post("/redfish/v1/Sessions", create);  // older iDRAC9 firmware path
  auto remove = [&bmc](const httplib::Request& req, httplib::Response& res) {
    InFlight in(bmc, req);
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
                InFlight in(bmc, req);
                if (!Front(bmc, req, res, true)) return;
                auto body = JsonBody(req, res);
                if (!body) return;
                const auto& doc = *body;
                if (!doc.HasMember("ResetType") || !doc["ResetType"].IsString()) {
                  Fail(res, 400, "Base.1.8.PropertyMissing",
                       "The property ResetType is a required property and must be included in "
                       "the request.");
                  return;
                }
                Answer(res, bmc.Reset(doc["ResetType"].GetString(), Now()));
              });
}

}  // namespace dcops::sim
