#include "ops_json.hpp"

#include <fmt/format.h>

namespace dcops::sim {
namespace {

// Dell JobState → Redfish TaskState.
const char* TaskState(const SimJob& job) {
  if (job.state == "Completed") return "Completed";
  if (job.state == "Failed") return "Exception";
  if (job.state == "Running" || job.state == "Downloading") return "Running";
  return job.started ? "Starting" : "Pending";
}

std::string Attributes(const std::map<std::string, std::string>& attributes) {
  std::string out;
  for (const auto& [k, v] : attributes) out += fmt::format("{}\"{}\": {}", out.empty() ? "" : ", ", k, v);
  return out;
}

}  // namespace

std::string DellJobJson(const SimJob& j) {
  return fmt::format(R"({{"@odata.id": "{mgr}/Jobs/{id}", "@odata.type": "#DellJob.v1_5_0.DellJob",
  "Id": "{id}", "Name": "{name}", "JobType": "{type}", "JobState": "{state}", "PercentComplete": {pct},
  "Message": "{msg}", "MessageId": "IDRAC.2.8.{mid}", "MessageArgs": [], "StartTime": "TIME_NOW",
  "EndTime": "TIME_NA", "CompletionTime": null, "Description": "Job Instance", "TargetSettingsURI": null}})",
                     fmt::arg("mgr", kManager), fmt::arg("id", j.id), fmt::arg("name", j.name),
                     fmt::arg("type", j.type), fmt::arg("state", j.state), fmt::arg("pct", j.percent),
                     fmt::arg("msg", j.message), fmt::arg("mid", j.message_id));
}

std::string TaskJson(const SimJob& j) {
  const bool failed = j.state == "Failed";
  return fmt::format(R"({{"@odata.id": "/redfish/v1/TaskService/Tasks/{id}", "@odata.type": "#Task.v1_5_1.Task",
  "Id": "{id}", "Name": "{name}", "TaskState": "{task_state}", "TaskStatus": "{status}", "PercentComplete": {pct},
  "Messages": [{{"Message": "{msg}", "MessageId": "IDRAC.2.8.{mid}", "MessageArgs": []}}],
  "Oem": {{"Dell": {{"@odata.type": "#DellJob.v1_5_0.DellJob", "Id": "{id}", "JobType": "{type}",
    "JobState": "{state}", "PercentComplete": {pct}, "Message": "{msg}", "MessageId": "IDRAC.2.8.{mid}"}}}}}})",
                     fmt::arg("id", j.id), fmt::arg("name", j.name), fmt::arg("task_state", TaskState(j)),
                     fmt::arg("status", failed ? "Critical" : "OK"), fmt::arg("pct", j.percent),
                     fmt::arg("msg", j.message), fmt::arg("mid", j.message_id), fmt::arg("type", j.type),
                     fmt::arg("state", j.state));
}

std::vector<Member> JobMembers(const std::vector<SimJob>& jobs) {
  std::vector<Member> out;
  for (const auto& j : jobs) out.emplace_back(fmt::format("{}/Jobs/{}", kManager, j.id), DellJobJson(j));
  return out;
}

std::string VirtualMediaPath(bool legacy) {
  return legacy ? std::string(kManager) + "/VirtualMedia" : std::string(kSystem) + "/VirtualMedia";
}

std::vector<Member> MediaMembers(const std::vector<MediaSlot>& slots, bool legacy) {
  std::vector<Member> out;
  for (const auto& m : slots) {
    const std::string id = VirtualMediaPath(legacy) + "/" + m.id;
    std::string types;
    for (const auto& t : m.media_types) types += fmt::format("{}\"{}\"", types.empty() ? "" : ", ", t);
    out.emplace_back(id, fmt::format(R"({{"@odata.id": "{id}", "@odata.type": "#VirtualMedia.v1_4_0.VirtualMedia",
  "Id": "{mid}", "Name": "Virtual {name}", "MediaTypes": [{types}], "ConnectedVia": "{via}",
  "Inserted": {inserted}, "Image": {image}, "ImageName": {image_name}, "WriteProtected": true,
  "Actions": {{"#VirtualMedia.EjectMedia": {{"target": "{id}/Actions/VirtualMedia.EjectMedia"}},
              "#VirtualMedia.InsertMedia": {{"target": "{id}/Actions/VirtualMedia.InsertMedia"}}}}}})",
                                     fmt::arg("id", id), fmt::arg("mid", m.id),
                                     fmt::arg("name", m.media_types.front()), fmt::arg("types", types),
                                     fmt::arg("via", m.inserted ? "URI" : "NotConnected"),
                                     fmt::arg("inserted", m.inserted ? "true" : "false"),
                                     fmt::arg("image", m.inserted ? "\"" + m.image + "\"" : "null"),
                                     fmt::arg("image_name", m.inserted ? "\"" + m.image.substr(m.image.rfind('/') + 1) + "\"" : "null")));
  }
  return out;
}

std::string BiosJson(const std::map<std::string, std::string>& attributes) {
  return fmt::format(R"({{"@odata.id": "{sys}/Bios", "@odata.type": "#Bios.v1_1_0.Bios", "Id": "Bios",
  "Name": "BIOS Configuration Current Settings", "AttributeRegistry": "BiosAttributeRegistry.v1_0_3",
  "Attributes": {{{attrs}}},
  "@Redfish.Settings": {{"@odata.type": "#Settings.v1_3_0.Settings", "SettingsObject": {{"@odata.id": "{sys}/Bios/Settings"}},
    "SupportedApplyTimes": ["OnReset", "Immediate", "AtMaintenanceWindowStart", "InMaintenanceWindowOnReset"]}}}})",
                     fmt::arg("sys", kSystem), fmt::arg("attrs", Attributes(attributes)));
}

std::string BiosSettingsJson(const std::map<std::string, std::string>& pending) {
  return fmt::format(R"({{"@odata.id": "{sys}/Bios/Settings", "@odata.type": "#Bios.v1_1_0.Bios", "Id": "Settings",
  "Name": "BIOS Configuration Pending Settings", "Attributes": {{{attrs}}}}})",
                     fmt::arg("sys", kSystem), fmt::arg("attrs", Attributes(pending)));
}

std::string ManagerAttributesJson(const std::map<std::string, std::string>& attributes) {
  return fmt::format(R"({{"@odata.id": "{mgr}/Attributes", "@odata.type": "#DellAttributes.v1_0_0.DellAttributes",
  "Id": "iDRACAttributes", "Name": "iDRAC Attributes", "AttributeRegistry": "ManagerAttributeRegistry.v1_0_0",
  "Attributes": {{{attrs}}}}})",
                     fmt::arg("mgr", kManager), fmt::arg("attrs", Attributes(attributes)));
}

std::string UpdateServiceJson(bool legacy) {
  return std::string(R"({"@odata.id": "/redfish/v1/UpdateService", "@odata.type": "#UpdateService.v1_8_0.UpdateService",
  "Id": "UpdateService", "Name": "Update Service", "ServiceEnabled": true, "HttpPushUri": "/redfish/v1/UpdateService/FirmwareInventory",)") +
  (legacy ? "" : R"( "MultipartHttpPushUri": "/redfish/v1/UpdateService/MultipartUpload",)") + R"(
  "FirmwareInventory": {"@odata.id": "/redfish/v1/UpdateService/FirmwareInventory"},
  "Actions": {"#UpdateService.SimpleUpdate": {"target": "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate",
    "TransferProtocol@Redfish.AllowableValues": ["HTTP", "NFS", "CIFS", "TFTP", "HTTPS"]}},
  "Status": {"Health": "OK", "State": "Enabled"}})";
}

}  // namespace dcops::sim
