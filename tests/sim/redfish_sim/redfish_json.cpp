#include "redfish_json.hpp"

#include <fmt/format.h>

namespace dcops::sim {
namespace {

// Values we generate are plain (tags, versions, addresses); quotes and backslashes are
// escaped anyway so a message never breaks the document.
std::string Esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// `"Key": "value", ` or nothing when the value is empty (the property is left out).
std::string OptionalProperty(const char* key, const std::string& value) {
  return value.empty() ? "" : fmt::format(R"("{}": "{}", )", key, Esc(value));
}

// What the service root says about its make: Product, Vendor and the OEM block.
std::string RootMake(const Identity& id) {
  switch (id.vendor) {
    case Vendor::kDell:
      return fmt::format(R"("Product": "Integrated Dell Remote Access Controller", "Vendor": "Dell",
  "Oem": {{"Dell": {{"@odata.type": "#DellServiceRoot.v1_0_0.DellServiceRoot", "IsBranded": 0, "ManagerMACAddress": "d0:8e:79:00:00:01", "ServiceTag": "{}"}}}},)",
                         Esc(id.service_tag));
    case Vendor::kHpe:
      return fmt::format(R"("Product": "{}", "Vendor": "HPE",
  "Oem": {{"Hpe": {{"@odata.type": "#HpeiLOServiceExt.v2_3_0.HpeiLOServiceExt", "Manager": [{{"ManagerType": "iLO 5", "ManagerFirmwareVersion": "2.72"}}]}}}},)",
                         Esc(id.model));
    case Vendor::kSupermicro:
      return R"("Vendor": "Supermicro", "Oem": {},)";
    case Vendor::kGeneric:
      return R"("Oem": {},)";
  }
  return "";
}

const char* ManagerModel(Vendor v) {
  switch (v) {
    case Vendor::kDell: return "15G Monolithic";
    case Vendor::kHpe: return "iLO 5";
    case Vendor::kSupermicro: return "ASPEED";
    case Vendor::kGeneric: return "Joo Janta 200";
  }
  return "";
}

}  // namespace

std::string ServiceRootJson(const Identity& id) {
  return fmt::format(R"({{
  "@odata.context": "/redfish/v1/$metadata#ServiceRoot.ServiceRoot",
  "@odata.id": "/redfish/v1",
  "@odata.type": "#ServiceRoot.v1_6_0.ServiceRoot",
  "Id": "RootService", "Name": "Root Service", "RedfishVersion": "1.11.0",
  {make}
  "UUID": "{uuid}",
  "Systems": {{"@odata.id": "/redfish/v1/Systems"}},
  "Managers": {{"@odata.id": "/redfish/v1/Managers"}},
  "Chassis": {{"@odata.id": "/redfish/v1/Chassis"}},
  "SessionService": {{"@odata.id": "/redfish/v1/SessionService"}},
  "UpdateService": {{"@odata.id": "/redfish/v1/UpdateService"}},
  "Tasks": {{"@odata.id": "/redfish/v1/TaskService"}},
  "Links": {{"Sessions": {{"@odata.id": "/redfish/v1/SessionService/Sessions"}}}},
  "ProtocolFeaturesSupported": {{{expand}"FilterQuery": true, "SelectQuery": true}}
}})",
                     fmt::arg("uuid", id.uuid), fmt::arg("make", RootMake(id)),
                     // Old firmware predates $expand and does not advertise it.
                     fmt::arg("expand", id.legacy_reset_types ? "" :
                              R"("ExpandQuery": {"ExpandAll": true, "Levels": true, "Links": true, "MaxLevels": 1, "NoLinks": true}, )"));
}

std::string SystemsCollectionJson() {
  return R"({"@odata.id": "/redfish/v1/Systems", "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
  "Name": "Computer System Collection", "Members": [{"@odata.id": "/redfish/v1/Systems/System.Embedded.1"}],
  "Members@odata.count": 1})";
}

std::string SystemJson(const Identity& id, Power power, const std::vector<std::string>& reset_types,
                       const std::string& last_reset_time, const std::string& bios_version,
                       const BootState& boot, const std::vector<std::string>& boot_targets) {
  auto list = [](const std::vector<std::string>& items) {
    std::string out;
    for (const auto& t : items) out += fmt::format("{}\"{}\"", out.empty() ? "" : ", ", t);
    return out;
  };
  const std::string allowed = list(reset_types);
  const bool on = power == Power::kOn;
  return fmt::format(R"({{
  "@odata.context": "/redfish/v1/$metadata#ComputerSystem.ComputerSystem",
  "@odata.id": "/redfish/v1/Systems/System.Embedded.1",
  "@odata.type": "#ComputerSystem.v1_12_0.ComputerSystem",
  "Id": "System.Embedded.1", "Name": "System", "SystemType": "Physical",
  "Manufacturer": "{mfr}", {model}{sku}"SerialNumber": "{serial}",
  "PartNumber": "0JP31PA00", "AssetTag": "", "HostName": "{host}", "UUID": "{uuid}",
  "BiosVersion": "{bios}", "PowerState": "{power}", "LastResetTime": "{last_reset}",
  "Status": {{"Health": "OK", "HealthRollup": "OK", "State": "{state}"}},
  "ProcessorSummary": {{"Count": {cpus}, "LogicalProcessorCount": {threads}, "Model": "{cpu}", "Status": {{"Health": "OK", "HealthRollup": "OK", "State": "Enabled"}}}},
  "MemorySummary": {{"TotalSystemMemoryGiB": {mem}, "MemoryMirroring": "System", "Status": {{"Health": "OK", "HealthRollup": "OK", "State": "Enabled"}}}},
  "Boot": {{"BootSourceOverrideEnabled": "{boot_enabled}", "BootSourceOverrideTarget": "{boot_target}", "BootSourceOverrideMode": "UEFI",
    "BootSourceOverrideTarget@Redfish.AllowableValues": [{boot_targets}], "BootOrder": [{boot_order}],
    "BootOptions": {{"@odata.id": "/redfish/v1/Systems/System.Embedded.1/BootOptions"}}}},
  "Processors": {{"@odata.id": "/redfish/v1/Systems/System.Embedded.1/Processors"}},
  "Memory": {{"@odata.id": "/redfish/v1/Systems/System.Embedded.1/Memory"}},
  "Storage": {{"@odata.id": "/redfish/v1/Systems/System.Embedded.1/Storage"}},
  "EthernetInterfaces": {{"@odata.id": "/redfish/v1/Systems/System.Embedded.1/EthernetInterfaces"}},
  "Bios": {{"@odata.id": "/redfish/v1/Systems/System.Embedded.1/Bios"}},{vmedia}
  "Links": {{"ManagedBy": [{{"@odata.id": "/redfish/v1/Managers/iDRAC.Embedded.1"}}], "Chassis": [{{"@odata.id": "/redfish/v1/Chassis/System.Embedded.1"}}]}},
  "Actions": {{"#ComputerSystem.Reset": {{"target": "/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset", "ResetType@Redfish.AllowableValues": [{allowed}]}}}}
}})",
                     fmt::arg("mfr", Esc(id.manufacturer)), fmt::arg("model", OptionalProperty("Model", id.model)),
                     fmt::arg("sku", OptionalProperty("SKU", id.vendor == Vendor::kDell ? id.service_tag : id.sku)),
                     fmt::arg("serial", Esc(id.serial)), fmt::arg("host", Esc(id.hostname)),
                     fmt::arg("uuid", id.uuid), fmt::arg("bios", Esc(bios_version)),
                     fmt::arg("boot_enabled", boot.override_enabled), fmt::arg("boot_target", boot.override_target),
                     fmt::arg("boot_targets", list(boot_targets)), fmt::arg("boot_order", list(boot.order)),
                     // iDRAC9 6.x links virtual media from the system; older firmware only from the manager.
                     fmt::arg("vmedia", id.legacy_reset_types ? "" :
                              R"(
  "VirtualMedia": {"@odata.id": "/redfish/v1/Systems/System.Embedded.1/VirtualMedia"},)"),
                     fmt::arg("power", PowerName(power)),
                     fmt::arg("state", on ? "Enabled" : "StandbyOffline"),
                     fmt::arg("cpus", id.cpu_count), fmt::arg("threads", id.cpu_count * 64),
                     fmt::arg("cpu", Esc(id.cpu_model)), fmt::arg("mem", id.memory_gib),
                     fmt::arg("allowed", allowed), fmt::arg("last_reset", last_reset_time));
}

std::string ManagersCollectionJson() {
  return R"({"@odata.id": "/redfish/v1/Managers", "@odata.type": "#ManagerCollection.ManagerCollection",
  "Name": "Manager Collection", "Members": [{"@odata.id": "/redfish/v1/Managers/iDRAC.Embedded.1"}],
  "Members@odata.count": 1})";
}

std::string ManagerJson(const Identity& id, const std::string& firmware, const std::string& last_reset_time) {
  return fmt::format(R"({{
  "@odata.id": "/redfish/v1/Managers/iDRAC.Embedded.1",
  "@odata.type": "#Manager.v1_9_0.Manager",
  "Id": "iDRAC.Embedded.1", "Name": "Manager", "ManagerType": "BMC",
  "Model": "{model}", "FirmwareVersion": "{fw}", "LastResetTime": "{last_reset}",
  "LogServices": {{"@odata.id": "/redfish/v1/Managers/iDRAC.Embedded.1/LogServices"}},
{vmedia}{links}
  "Status": {{"Health": "OK", "State": "Enabled"}},
  "Actions": {{"#Manager.Reset": {{"target": "/redfish/v1/Managers/iDRAC.Embedded.1/Actions/Manager.Reset", "ResetType@Redfish.AllowableValues": ["GracefulRestart"]}}}}
}})",
                     fmt::arg("fw", Esc(firmware)), fmt::arg("last_reset", last_reset_time),
                     fmt::arg("model", ManagerModel(id.vendor)),
                     fmt::arg("links", id.vendor != Vendor::kDell ? "" :
                              R"(
  "Links": {"Oem": {"Dell": {"Jobs": {"@odata.id": "/redfish/v1/Managers/iDRAC.Embedded.1/Jobs"}}}},)"),
                     fmt::arg("vmedia", id.legacy_reset_types
                                            ? R"(  "VirtualMedia": {"@odata.id": "/redfish/v1/Managers/iDRAC.Embedded.1/VirtualMedia"},)"
                                            : ""));
}

std::string SessionServiceJson() {
  return R"({"@odata.id": "/redfish/v1/SessionService", "@odata.type": "#SessionService.v1_1_8.SessionService",
  "Id": "SessionService", "Name": "Session Service", "ServiceEnabled": true, "SessionTimeout": 1800,
  "Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}})";
}

std::string SessionJson(const std::string& id, const std::string& user) {
  return fmt::format(R"({{"@odata.id": "/redfish/v1/SessionService/Sessions/{id}",
  "@odata.type": "#Session.v1_3_0.Session", "Id": "{id}", "Name": "User Session", "UserName": "{user}"}})",
                     fmt::arg("id", id), fmt::arg("user", Esc(user)));
}

std::string ErrorJson(const std::string& message_id, const std::string& message) {
  return fmt::format(R"({{"error": {{"code": "Base.1.8.GeneralError",
  "message": "A general error has occurred. See ExtendedInfo for more information",
  "@Message.ExtendedInfo": [{{"MessageId": "{id}", "Message": "{msg}", "MessageArgs": [],
  "MessageArgs@odata.count": 0, "RelatedProperties": [], "RelatedProperties@odata.count": 0,
  "Severity": "Warning", "Resolution": "Retry the operation or contact your service provider."}}]}}}})",
                     fmt::arg("id", Esc(message_id)), fmt::arg("msg", Esc(message)));
}

}  // namespace dcops::sim
