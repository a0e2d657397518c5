// The iDRAC's logs, Server Configuration Profiles and multipart package upload over HTTP.
//
// Logs are served as iDRAC9 does: newest first, 50 entries per page, the next page named by
// Members@odata.nextLink ($skip). Older firmware serves the entries at Managers/…/Logs/Sel
// (the LogService's Entries link says where; clients must follow it).
#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "ops_json.hpp"
#include "route_support.hpp"

namespace dcops::sim {
namespace {

constexpr std::size_t kPageSize = 50;
constexpr const char* kScpActions = "/redfish/v1/Managers/iDRAC.Embedded.1/Actions/Oem/EID_674_Manager.";
constexpr const char* kInstallActions =
    "/redfish/v1/Dell/Systems/System.Embedded.1/DellSoftwareInstallationService/Actions/DellSoftwareInstallationService.";

std::string Text(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "";
}

// Fetches the catalog as the iDRAC does (HTTP shares only here): "" and `error` set on failure.
std::string FetchCatalog(const rapidjson::Value& doc, std::string* error) {
  const std::string type = Text(doc, "ShareType");
  if (type != "HTTP") {
    *error = "share type " + (type.empty() ? std::string("(none)") : type) + " is not reachable from this iDRAC";
    return "";
  }
  const std::string share = Text(doc, "ShareName");
  const std::string path = "/" + (share.empty() ? "" : share + "/") + Text(doc, "CatalogFile");
  httplib::Client client("http://" + Text(doc, "IPAddress"));
  client.set_connection_timeout(std::chrono::seconds(3));
  client.set_read_timeout(std::chrono::seconds(10));
  auto r = client.Get(path);
  if (!r) {
    *error = "cannot connect to " + Text(doc, "IPAddress");
    return "";
  }
  if (r->status != 200) {
    *error = fmt::format("HTTP {} for {}", r->status, path);
    return "";
  }
  return r->body;
}

// GetRepoBasedUpdateList's PackageList: CIM XML of DCIM_RepoUpdateSWID instances.
std::string PackageListXml(const std::vector<RepoUpdate>& updates) {
  std::string out = R"(<?xml version="1.0" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="0" PROTOCOLVERSION="1.0"><SIMPLEREQ>)";
  for (const auto& u : updates) {
    out += R"(<VALUE.NAMEDINSTANCE><INSTANCENAME CLASSNAME="DCIM_RepoUpdateSWID">)";
    const std::pair<const char*, std::string> props[] = {
        {"DisplayName", u.display_name}, {"PackageName", u.package}, {"PackageVersion", u.version},
        {"ComponentInstalledVersion", u.installed}, {"ComponentID", u.component}, {"ComponentType", "FRMW"},
        {"RebootType", u.reboot_type}, {"Criticality", "2"}, {"JobID", u.job_id}};
    for (const auto& [name, value] : props) {
      out += fmt::format(R"(<PROPERTY NAME="{}" TYPE="string"><VALUE>{}</VALUE></PROPERTY>)", name, value);
    }
    out += "</INSTANCENAME></VALUE.NAMEDINSTANCE>";
  }
  return out + "</SIMPLEREQ></MESSAGE></CIM>";
}

std::string EntriesPath(bool legacy, const std::string& service) {
  return legacy ? fmt::format("{}/Logs/{}", kManager, service)
                : fmt::format("{}/LogServices/{}/Entries", kManager, service);
}

std::string LogServiceJson(bool legacy, const std::string& service) {
  const bool sel = service == "Sel";
  return fmt::format(R"({{"@odata.id": "{mgr}/LogServices/{svc}", "@odata.type": "#LogService.v1_1_0.LogService",
  "Id": "{id}", "Name": "{name}", "LogEntryType": "{type}", "MaxNumberOfRecords": {max},
  "OverWritePolicy": "WrapsWhenFull", "ServiceEnabled": true, "Entries": {{"@odata.id": "{entries}"}}}})",
                     fmt::arg("mgr", kManager), fmt::arg("svc", service), fmt::arg("id", sel ? "SEL" : "LC"),
                     fmt::arg("name", sel ? "SEL Log Service" : "LifeCycle Controller Log Service"),
                     fmt::arg("type", sel ? "SEL" : "OEM"), fmt::arg("max", sel ? 1024 : 500000),
                     fmt::arg("entries", EntriesPath(legacy, service)));
}

std::string EntriesPageJson(const std::string& path, bool sel, const std::vector<SimLogEntry>& entries,
                            std::size_t skip, bool looping_next_link) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&w](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  str("@odata.id", path);
  str("@odata.type", "#LogEntryCollection.LogEntryCollection");
  str("Name", sel ? "Log Entry Collection" : "Log Entry Collection");
  w.Key("Members");
  w.StartArray();
  for (std::size_t i = skip; i < entries.size() && i < skip + kPageSize; ++i) {
    const auto& e = entries[i];
    w.StartObject();
    str("@odata.id", path + "/" + e.id);
    str("@odata.type", "#LogEntry.v1_6_1.LogEntry");
    str("Id", e.id);
    str("Name", "Log Entry " + e.id);
    str("Created", e.created);
    str("EntryType", sel ? "SEL" : "Oem");
    if (!sel) str("OemRecordFormat", "Dell");
    str("Severity", e.severity);
    str("Message", e.message);
    if (!e.message_id.empty()) str("MessageId", e.message_id);
    if (sel) {
      str("SensorType", e.sensor_type);
      str("EntryCode", e.entry_code);
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("Members@odata.count");
  w.Uint64(entries.size());
  if (looping_next_link) {
    str("Members@odata.nextLink", skip == 0 ? path : fmt::format("{}?$skip={}", path, skip));  // itself
  } else if (skip + kPageSize < entries.size()) {
    str("Members@odata.nextLink", fmt::format("{}?$skip={}", path, skip + kPageSize));
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

void Accepted(httplib::Response& res, const ActionAnswer& a, const std::string& job) {
  if (a.status >= 300) return Answer(res, a);
  res.status = 202;
  res.set_header("Location", "/redfish/v1/TaskService/Tasks/" + job);
}

// An authenticated POST with a JSON object body.
void OnJson(httplib::Server& server, Bmc& bmc, const std::string& path,
            std::function<void(const rapidjson::Document&, httplib::Response&)> fn) {
  server.Post(path, [&bmc, fn](const httplib::Request& req, httplib::Response& res) {
    InFlight in(bmc, req);
    if (!Front(bmc, req, res, true)) return;
    auto body = JsonBody(req, res);
    if (!body) return;
    fn(*body, res);
  });
}

}  // namespace

void InstallConfigRoutes(httplib::Server& server, Bmc& bmc) {
  const bool legacy = bmc.identity().legacy_reset_types;
  ServeCollection(server, bmc, std::string(kManager) + "/LogServices", "LogService", "Log Service Collection",
                  [legacy](Bmc&) {
                    return std::vector<Member>{
                        {std::string(kManager) + "/LogServices/Sel", LogServiceJson(legacy, "Sel")},
                        {std::string(kManager) + "/LogServices/Lclog", LogServiceJson(legacy, "Lclog")}};
                  });
  for (const char* service : {"Sel", "Lclog"}) {
    const std::string path = EntriesPath(legacy, service);
    const bool sel = std::string(service) == "Sel";
    server.Get(path, [&bmc, path, sel](const httplib::Request& req, httplib::Response& res) {
      InFlight in(bmc, req);
      if (!Front(bmc, req, res, true)) return;
      std::size_t skip = 0;
      if (req.has_param("$skip")) {
        try {
          skip = std::stoul(req.get_param_value("$skip"));
        } catch (const std::exception&) {
          return Fail(res, 400, "Base.1.8.QueryParameterValueTypeError", "The value for the parameter $skip is invalid.");
        }
      }
      res.set_content(EntriesPageJson(path, sel, bmc.Log(sel ? "sel" : "lifecycle"), skip, bmc.faults().looping_next_link),
                      kJson);
    });
  }

  if (!legacy) {
    server.Post("/redfish/v1/UpdateService/MultipartUpload", [&bmc](const httplib::Request& req, httplib::Response& res) {
      InFlight in(bmc, req);
      if (!Front(bmc, req, res, true)) return;
      if (!req.is_multipart_form_data() || !req.has_file("UpdateFile")) {
        return Fail(res, 400, "Base.1.8.PropertyMissing",
                    "The property UpdateFile is a required property and must be included in the request.");
      }
      if (req.has_file("UpdateParameters")) {
        rapidjson::Document params;
        params.Parse(req.get_file_value("UpdateParameters").content.c_str());
        if (params.HasParseError() || !params.IsObject()) {
          return Fail(res, 400, "Base.1.8.MalformedJSON", "The request body submitted was malformed JSON.");
        }
      }
      const auto file = req.get_file_value("UpdateFile");
      std::string job;
      Accepted(res, bmc.PushUpdate(file.filename, file.content, Now(), &job), job);
    });
  }

  // Dell's OEM actions: configuration profiles and the catalog repository.
  if (bmc.identity().vendor != Vendor::kDell) return;
  OnJson(server, bmc, std::string(kScpActions) + "ExportSystemConfiguration",
         [&bmc](const rapidjson::Document& doc, httplib::Response& res) {
           const std::string format = Text(doc, "ExportFormat").empty() ? "XML" : Text(doc, "ExportFormat");
           const std::string target = doc.HasMember("ShareParameters") ? Text(doc["ShareParameters"], "Target") : "";
           std::string job;
           Accepted(res, bmc.ExportProfile(format, target, Now(), &job), job);
         });
  for (const bool preview : {false, true}) {
    OnJson(server, bmc, std::string(kScpActions) + (preview ? "ImportSystemConfigurationPreview" : "ImportSystemConfiguration"),
           [&bmc, preview](const rapidjson::Document& doc, httplib::Response& res) {
             const std::string buffer = Text(doc, "ImportBuffer");
             if (buffer.empty()) {
               return Fail(res, 400, "Base.1.8.PropertyMissing",
                           "The property ImportBuffer is a required property and must be included in the request.");
             }
             const std::string shutdown = Text(doc, "ShutdownType").empty() ? "Graceful" : Text(doc, "ShutdownType");
             const std::string power = Text(doc, "HostPowerState").empty() ? "On" : Text(doc, "HostPowerState");
             std::string job;
             Accepted(res, bmc.ImportProfile(buffer, shutdown, power, preview, Now(), &job), job);
           });
  }

  OnJson(server, bmc, std::string(kInstallActions) + "InstallFromRepository",
         [&bmc](const rapidjson::Document& doc, httplib::Response& res) {
           for (const char* required : {"IPAddress", "ShareType", "CatalogFile"}) {
             if (Text(doc, required).empty()) {
               return Fail(res, 400, "Base.1.8.PropertyMissing",
                           fmt::format("The property {} is a required property and must be included in the request.", required));
             }
           }
           std::string error;
           const std::string catalog = FetchCatalog(doc, &error);
           const bool apply = Text(doc, "ApplyUpdate") == "True";
           const bool reboot = doc.HasMember("RebootNeeded") && doc["RebootNeeded"].IsBool() && doc["RebootNeeded"].GetBool();
           std::string job;
           Accepted(res, bmc.InstallFromRepository(catalog, error, apply, reboot, Now(), &job), job);
         });
  OnJson(server, bmc, std::string(kInstallActions) + "GetRepoBasedUpdateList",
         [&bmc](const rapidjson::Document&, httplib::Response& res) {
           const auto updates = bmc.RepoUpdates(Now());
           if (!updates) {
             return Fail(res, 400, "IDRAC.2.8.SUP1906", "No repository update has been run, so there is no update list.");
           }
           if (updates->empty()) {
             return Fail(res, 400, "IDRAC.2.8.SUP029",
                         "Firmware versions on server match catalog, applicable updates are not present in the repository.");
           }
           rapidjson::StringBuffer buf;
           rapidjson::Writer<rapidjson::StringBuffer> w(buf);
           w.StartObject();
           w.Key("PackageList");
           const std::string list = PackageListXml(*updates);
           w.String(list.c_str(), static_cast<rapidjson::SizeType>(list.size()));
           w.EndObject();
           res.set_content(std::string(buf.GetString(), buf.GetSize()), kJson);
         });
}

}  // namespace dcops::sim
