#include "inventory_json.hpp"

#include <fmt/format.h>

namespace dcops::sim {
namespace {

constexpr const char* kOk = R"("Status": {"Health": "OK", "HealthRollup": "OK", "State": "Enabled"})";

std::string Status(const std::string& health) {
  return fmt::format(R"("Status": {{"Health": "{}", "HealthRollup": "{}", "State": "Enabled"}})", health, health);
}

}  // namespace

std::string StoragePath(const Inventory& inv) {
  return fmt::format("{}/Storage/{}", kSystem, inv.controller_id);
}

std::string CollectionJson(const std::string& path, const std::string& type, const std::string& name,
                           const std::vector<Member>& members, bool expand) {
  std::string list;
  for (const auto& [id, doc] : members) {
    if (!list.empty()) list += ", ";
    list += expand ? doc : fmt::format(R"({{"@odata.id": "{}"}})", id);
  }
  return fmt::format(R"({{"@odata.context": "/redfish/v1/$metadata#{type}Collection.{type}Collection",
  "@odata.id": "{path}", "@odata.type": "#{type}Collection.{type}Collection", "Name": "{name}",
  "Members": [{list}], "Members@odata.count": {count}}})",
                     fmt::arg("type", type), fmt::arg("path", path), fmt::arg("name", name),
                     fmt::arg("list", list), fmt::arg("count", members.size()));
}

std::vector<Member> ProcessorMembers(const Inventory& inv) {
  std::vector<Member> out;
  for (const auto& p : inv.processors) {
    const std::string id = fmt::format("{}/Processors/{}", kSystem, p.id);
    out.emplace_back(id, fmt::format(R"({{"@odata.id": "{id}", "@odata.type": "#Processor.v1_13_0.Processor",
  "Id": "{pid}", "Name": "CPU {n}", "Socket": "{pid}", "ProcessorType": "CPU", "ProcessorArchitecture": "x86",
  "Model": "{model}", "Manufacturer": "{mfr}", "TotalCores": {cores}, "TotalEnabledCores": {cores},
  "TotalThreads": {threads}, "MaxSpeedMHz": {speed}, {ok}}})",
                                     fmt::arg("id", id), fmt::arg("pid", p.id), fmt::arg("n", p.id.back()),
                                     fmt::arg("model", p.model), fmt::arg("mfr", p.manufacturer),
                                     fmt::arg("cores", p.cores), fmt::arg("threads", p.threads),
                                     fmt::arg("speed", p.max_speed_mhz), fmt::arg("ok", kOk)));
  }
  return out;
}

std::vector<Member> MemoryMembers(const Inventory& inv) {
  std::vector<Member> out;
  for (const auto& d : inv.dimms) {
    const std::string id = fmt::format("{}/Memory/{}", kSystem, d.id);
    out.emplace_back(id, fmt::format(R"({{"@odata.id": "{id}", "@odata.type": "#Memory.v1_11_0.Memory",
  "Id": "{did}", "Name": "DIMM {short}", "DeviceLocator": "DIMM {short}", "CapacityMiB": {cap},
  "MemoryDeviceType": "{type}", "OperatingSpeedMhz": {speed}, "Manufacturer": "{mfr}",
  "PartNumber": "{part}", "SerialNumber": "{serial}", "ErrorCorrection": "MultiBitECC", {ok}}})",
                                     fmt::arg("id", id), fmt::arg("did", d.id),
                                     fmt::arg("short", d.id.substr(d.id.rfind('.') + 1)),
                                     fmt::arg("cap", d.capacity_mib), fmt::arg("type", d.type),
                                     fmt::arg("speed", d.speed_mhz), fmt::arg("mfr", d.manufacturer),
                                     fmt::arg("part", d.part_number), fmt::arg("serial", d.serial),
                                     fmt::arg("ok", kOk)));
  }
  return out;
}

std::vector<Member> DriveMembers(const Inventory& inv) {
  std::vector<Member> out;
  for (const auto& d : inv.drives) {
    const std::string id = fmt::format("{}/Drives/{}", StoragePath(inv), d.id);
    out.emplace_back(id, fmt::format(R"({{"@odata.id": "{id}", "@odata.type": "#Drive.v1_9_0.Drive",
  "Id": "{did}", "Name": "{kind} {slot}", "Model": "{model}", "SerialNumber": "{serial}",
  "MediaType": "{media}", "Protocol": "{proto}", "CapacityBytes": {cap}, "Revision": "{rev}",
  "FailurePredicted": {pred}, "PredictedMediaLifeLeftPercent": 100,
  "PhysicalLocation": {{"PartLocation": {{"LocationOrdinalValue": {slot}, "LocationType": "Slot"}}}},
  {status}}})",
                                     fmt::arg("id", id), fmt::arg("did", d.id),
                                     fmt::arg("kind", d.media == "SSD" ? "Solid State Disk" : "Physical Disk"),
                                     fmt::arg("slot", out.size()), fmt::arg("model", d.model),
                                     fmt::arg("serial", d.serial), fmt::arg("media", d.media),
                                     fmt::arg("proto", d.protocol), fmt::arg("cap", d.capacity_bytes),
                                     fmt::arg("rev", d.revision),
                                     fmt::arg("pred", d.predicted_failure ? "true" : "false"),
                                     fmt::arg("status", Status(d.health))));
  }
  return out;
}

std::vector<Member> VolumeMembers(const Inventory& inv) {
  std::vector<Member> out;
  for (const auto& v : inv.volumes) {
    std::string drives;
    for (const auto& d : v.drive_ids) {
      drives += fmt::format(R"({}{{"@odata.id": "{}/Drives/{}"}})", drives.empty() ? "" : ", ", StoragePath(inv), d);
    }
    const std::string id = fmt::format("{}/Volumes/{}", StoragePath(inv), v.id);
    out.emplace_back(id, fmt::format(R"({{"@odata.id": "{id}", "@odata.type": "#Volume.v1_6_2.Volume",
  "Id": "{vid}", "Name": "{name}", "RAIDType": "{raid}", "CapacityBytes": {cap}, "VolumeType": "Mirrored",
  "Links": {{"Drives": [{drives}], "Drives@odata.count": {n}}}, {ok}}})",
                                     fmt::arg("id", id), fmt::arg("vid", v.id), fmt::arg("name", v.name),
                                     fmt::arg("raid", v.raid_type), fmt::arg("cap", v.capacity_bytes),
                                     fmt::arg("drives", drives), fmt::arg("n", v.drive_ids.size()),
                                     fmt::arg("ok", kOk)));
  }
  return out;
}

std::vector<Member> StorageMembers(const Inventory& inv) {
  std::string drives;
  for (const auto& d : DriveMembers(inv)) {
    drives += fmt::format(R"({}{{"@odata.id": "{}"}})", drives.empty() ? "" : ", ", d.first);
  }
  const std::string id = StoragePath(inv);
  return {{id, fmt::format(R"({{"@odata.id": "{id}", "@odata.type": "#Storage.v1_12_0.Storage",
  "Id": "{cid}", "Name": "{model}", "Description": "RAID Controller in SL 3",
  "Drives": [{drives}], "Drives@odata.count": {n},
  "Volumes": {{"@odata.id": "{id}/Volumes"}},
  "StorageControllers": [{{"@odata.id": "{id}#/StorageControllers/0", "MemberId": "0", "Model": "{model}",
    "FirmwareVersion": "{fw}", "SupportedRAIDTypes": ["RAID0", "RAID1", "RAID5", "RAID6", "RAID10"], {ok}}}],
  {ok}}})",
                           fmt::arg("id", id), fmt::arg("cid", inv.controller_id),
                           fmt::arg("model", inv.controller_model), fmt::arg("drives", drives),
                           fmt::arg("n", inv.drives.size()), fmt::arg("fw", inv.controller_firmware),
                           fmt::arg("ok", kOk))}};
}

std::vector<Member> EthernetMembers(const Inventory& inv) {
  std::vector<Member> out;
  for (const auto& n : inv.nics) {
    const std::string id = fmt::format("{}/EthernetInterfaces/{}", kSystem, n.id);
    out.emplace_back(id, fmt::format(R"({{"@odata.id": "{id}", "@odata.type": "#EthernetInterface.v1_6_0.EthernetInterface",
  "Id": "{nid}", "Name": "System Ethernet Interface", "MACAddress": "{mac}", "PermanentMACAddress": "{mac}",
  "LinkStatus": "{link}", "SpeedMbps": {speed}, "AutoNeg": true, "FullDuplex": true,
  "Status": {{"Health": "OK", "State": "{state}"}}}})",
                                     fmt::arg("id", id), fmt::arg("nid", n.id), fmt::arg("mac", n.mac),
                                     fmt::arg("link", n.link_status), fmt::arg("speed", n.speed_mbps),
                                     fmt::arg("state", n.link_status == "LinkUp" ? "Enabled" : "StandbyOffline")));
  }
  return out;
}

std::vector<Member> FirmwareMembers(const Inventory& inv) {
  std::vector<Member> out;
  for (const auto& f : inv.firmware) {
    const std::string id = "/redfish/v1/UpdateService/FirmwareInventory/" + f.Id();
    out.emplace_back(id, fmt::format(R"({{"@odata.id": "{id}", "@odata.type": "#SoftwareInventory.v1_1_1.SoftwareInventory",
  "Id": "{fid}", "Name": "{name}", "Description": "Represents Firmware Inventory", "SoftwareId": "{sw}",
  "Version": "{version}", "Updateable": {upd}, "Status": {{"Health": "OK", "State": "Enabled"}},
  "Oem": {{"Dell": {{"DellSoftwareInventory": {{"ComponentID": "{sw}", "ComponentType": "FRMW",
    "ElementName": "{name}", "InstallationDate": "{date}", "Status": "Installed"}}}}}}}})",
                                     fmt::arg("id", id), fmt::arg("fid", f.Id()), fmt::arg("name", f.name),
                                     fmt::arg("sw", f.software_id), fmt::arg("version", f.version),
                                     fmt::arg("upd", f.updateable ? "true" : "false"),
                                     fmt::arg("date", f.install_date)));
  }
  return out;
}

}  // namespace dcops::sim
