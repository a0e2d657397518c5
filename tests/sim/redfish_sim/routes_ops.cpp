// The iDRAC's operations over HTTP: SimpleUpdate and its task, the Dell job queue, the iDRAC
// reset, boot settings (PATCH of the system), virtual media and BIOS settings.
#include <fmt/format.h>

#include "ops_json.hpp"
#include "route_support.hpp"

namespace dcops::sim {
namespace {

using Handler = std::function<void(const rapidjson::Document&, const httplib::Request&, httplib::Response&)>;

// An authenticated POST (or PATCH) with a JSON object body.
void On(httplib::Server& server, Bmc& bmc, bool patch, const std::string& path, Handler fn) {
  auto wrapped = [&bmc, fn](const httplib::Request& req, httplib::Response& res) {
    InFlight in(bmc, req);
    if (!Front(bmc, req, res, true)) return;
    auto body = JsonBody(req, res);
    if (!body) return;
    fn(*body, req, res);
  };
  if (patch) {
    server.Patch(path, wrapped);
  } else {
    server.Post(path, wrapped);
  }
}

std::optional<std::string> Str(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsString()) return std::nullopt;
  return std::string(v[key].GetString());
}

void Missing(httplib::Response& res, const std::string& property) {
  Fail(res, 400, "Base.1.8.PropertyMissing",
       fmt::format("The property {} is a required property and must be included in the request.", property));
}

std::string RawJson(const rapidjson::Value& v) {
  if (v.IsString()) return fmt::format("\"{}\"", v.GetString());
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  return "null";
}

}  // namespace

void InstallOperationRoutes(httplib::Server& server, Bmc& bmc, ImageFetcher& fetcher) {
  const bool legacy = bmc.identity().legacy_reset_types;
  Serve(server, bmc, "/redfish/v1/UpdateService", true, [legacy] { return UpdateServiceJson(legacy); });
  On(server, bmc, false, "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate",
     [&bmc, &fetcher](const rapidjson::Document& doc, const httplib::Request&, httplib::Response& res) {
       auto uri = Str(doc, "ImageURI");
       if (!uri) return Missing(res, "ImageURI");
       std::string job;
       const ActionAnswer a = bmc.SimpleUpdate(*uri, Now(), &job);
       if (a.status >= 300) return Answer(res, a);
       fetcher.Fetch(*uri, [&bmc, job](const FetchOutcome& outcome) { bmc.DownloadFinished(job, outcome, Now()); });
       res.status = 202;
       res.set_header("Location", "/redfish/v1/TaskService/Tasks/" + job);
     });
  server.Get(R"(/redfish/v1/TaskService/Tasks/(JID_[0-9]+))", [&bmc](const httplib::Request& req, httplib::Response& res) {
    InFlight in(bmc, req);
    if (!Front(bmc, req, res, true)) return;
    auto job = bmc.Job(req.matches[1], Now());
    if (!job) return Fail(res, 404, "Base.1.8.ResourceMissingAtURI", "The resource at the URI was not found.");
    if (job->type == "ExportConfiguration") {
      // A local export's task monitor answers 202 while it runs and the profile itself at the end.
      if (job->state == "Completed") {
        return res.set_content(job->output, job->output.rfind("<", 0) == 0 ? "application/xml" : "application/json");
      }
      res.status = 202;
    }
    res.set_content(TaskJson(*job), kJson);
  });
  const bool dell = bmc.identity().vendor == Vendor::kDell;  // the job queue is Dell's OEM
  if (dell) {
    ServeCollection(server, bmc, std::string(kManager) + "/Jobs", "DellJob", "JobQueue",
                    [](Bmc& b) { return JobMembers(b.Jobs(Now())); });
  }
  On(server, bmc, false, std::string(kManager) + "/Actions/Manager.Reset",
     [&bmc](const rapidjson::Document& doc, const httplib::Request&, httplib::Response& res) {
       auto type = Str(doc, "ResetType");
       if (!type) return Missing(res, "ResetType");
       Answer(res, bmc.ResetManager(*type, Now()));
     });
  if (dell) {
    On(server, bmc, false,
       "/redfish/v1/Dell/Managers/iDRAC.Embedded.1/DellJobService/Actions/DellJobService.DeleteJobQueue",
       [&bmc](const rapidjson::Document& doc, const httplib::Request&, httplib::Response& res) {
         auto id = Str(doc, "JobID");
         if (!id) return Missing(res, "JobID");
         const ActionAnswer a = bmc.ClearJobQueue(*id);
         if (a.status >= 300) return Answer(res, a);
         res.status = 200;
         res.set_content(R"({"@Message.ExtendedInfo": [{"Message": "Successfully Completed Request", "MessageId": "Base.1.8.Success", "Severity": "OK"}]})", kJson);
       });
  }
  On(server, bmc, true, kSystem,
     [&bmc](const rapidjson::Document& doc, const httplib::Request&, httplib::Response& res) {
       if (!doc.HasMember("Boot") || !doc["Boot"].IsObject()) {
         return Fail(res, 400, "Base.1.8.PropertyNotWritable", "Only Boot properties can be changed here.");
       }
       const auto& boot = doc["Boot"];
       std::optional<std::vector<std::string>> order;
       if (boot.HasMember("BootOrder")) {
         if (!boot["BootOrder"].IsArray()) {
           return Fail(res, 400, "Base.1.8.PropertyValueTypeError", "The value for the property BootOrder is of a different type than the property can accept.");
         }
         order.emplace();
         for (const auto& o : boot["BootOrder"].GetArray()) {
           if (o.IsString()) order->push_back(o.GetString());
         }
       }
       const ActionAnswer a = bmc.PatchBoot(Str(boot, "BootSourceOverrideTarget"), Str(boot, "BootSourceOverrideEnabled"), order);
       if (a.status >= 300) return Answer(res, a);
       res.status = 200;
       res.set_content(R"({"@Message.ExtendedInfo": [{"Message": "The request completed successfully.", "MessageId": "Base.1.8.Success", "Severity": "OK"}]})", kJson);
     });

  const std::string media = VirtualMediaPath(legacy);
  ServeCollection(server, bmc, media, "VirtualMedia", "Virtual Media Services",
                  [legacy](Bmc& b) { return MediaMembers(b.VirtualMedia(), legacy); });
  On(server, bmc, false, media + "/([^/]+)/Actions/VirtualMedia.InsertMedia",
     [&bmc](const rapidjson::Document& doc, const httplib::Request& req, httplib::Response& res) {
       auto image = Str(doc, "Image");
       if (!image) return Missing(res, "Image");
       Answer(res, bmc.InsertMedia(req.matches[1], *image));
     });
  On(server, bmc, false, media + "/([^/]+)/Actions/VirtualMedia.EjectMedia",
     [&bmc](const rapidjson::Document&, const httplib::Request& req, httplib::Response& res) {
       Answer(res, bmc.EjectMedia(req.matches[1]));
     });

  const std::string idrac_attrs = std::string(kManager) + "/Attributes";
  Serve(server, bmc, idrac_attrs, true, [&bmc] { return ManagerAttributesJson(bmc.IdracAttributes()); });
  On(server, bmc, true, idrac_attrs,
     [&bmc](const rapidjson::Document& doc, const httplib::Request&, httplib::Response& res) {
       if (!doc.HasMember("Attributes") || !doc["Attributes"].IsObject()) return Missing(res, "Attributes");
       std::map<std::string, std::string> attributes;
       for (const auto& m : doc["Attributes"].GetObject()) attributes[m.name.GetString()] = RawJson(m.value);
       const ActionAnswer a = bmc.PatchIdracAttributes(attributes);
       if (a.status >= 300) return Answer(res, a);
       res.status = 200;
       res.set_content(R"({"@Message.ExtendedInfo": [{"Message": "The request completed successfully.", "MessageId": "Base.1.8.Success", "Severity": "OK"}]})", kJson);
     });

  const std::string bios = std::string(kSystem) + "/Bios";
  Serve(server, bmc, bios, true, [&bmc] { return BiosJson(bmc.BiosAttributes()); });
  Serve(server, bmc, bios + "/Settings", true, [&bmc] { return BiosSettingsJson(bmc.PendingBios()); });
  On(server, bmc, true, bios + "/Settings",
     [&bmc](const rapidjson::Document& doc, const httplib::Request&, httplib::Response& res) {
       if (!doc.HasMember("Attributes") || !doc["Attributes"].IsObject()) return Missing(res, "Attributes");
       std::map<std::string, std::string> attributes;
       for (const auto& m : doc["Attributes"].GetObject()) attributes[m.name.GetString()] = RawJson(m.value);
       std::string apply = "OnReset";
       if (doc.HasMember("@Redfish.SettingsApplyTime")) {
         apply = Str(doc["@Redfish.SettingsApplyTime"], "ApplyTime").value_or("");
         if (apply != "OnReset" && apply != "Immediate") {
           return Fail(res, 400, "Base.1.8.PropertyValueNotInList", "The value for ApplyTime is not in the list of acceptable values.");
         }
       }
       std::string job;
       const ActionAnswer a = bmc.PatchBios(attributes, apply, Now(), &job);
       if (a.status >= 300) return Answer(res, a);
       res.status = 202;
       res.set_header("Location", std::string(kManager) + "/Jobs/" + job);
     });
}

}  // namespace dcops::sim
