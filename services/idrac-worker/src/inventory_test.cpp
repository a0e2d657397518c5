// Inventory parsers against documents shaped like real iDRAC9 and generic BMC answers,
// including their quirks (null health, absent slots, rollback firmware, undated components).
#include "inventory.hpp"

#include <catch2/catch.hpp>

namespace dcops::idrac {
namespace {

redfish::Document Doc(const std::string& resource, const std::string& body) {
  auto d = redfish::Document::Parse(resource, body);
  REQUIRE(d);
  return *d;
}

template <typename T>
const T& As(const Row& row, const char* key) {
  const Field* f = row.Get(key);
  REQUIRE(f != nullptr);
  REQUIRE(std::holds_alternative<T>(*f));
  return std::get<T>(*f);
}

TEST_CASE("A processor with a null health (iDRAC's answer for unknown) still parses", "[inventory]") {
  auto row = ProcessorRow(Doc("/redfish/v1/Systems/System.Embedded.1/Processors/CPU.Socket.1", R"({
    "@odata.id": "/redfish/v1/Systems/System.Embedded.1/Processors/CPU.Socket.1",
    "Id": "CPU.Socket.1", "Socket": "CPU.Socket.1", "Model": "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
    "Manufacturer": "Intel", "TotalCores": 32, "TotalThreads": 64, "MaxSpeedMHz": 4000,
    "Status": {"Health": null, "State": null}})"));
  REQUIRE(row);
  REQUIRE(*row);
  CHECK(As<std::string>(**row, "socket") == "CPU.Socket.1");
  CHECK(As<std::int64_t>(**row, "cores") == 32);
  CHECK(std::holds_alternative<std::monostate>(*(*row)->Get("health")));
}

TEST_CASE("An empty DIMM slot is left out, a populated one is kept", "[inventory]") {
  auto absent = MemoryRow(Doc("/redfish/v1/Systems/1/Memory/DIMM2", R"({
    "Id": "DIMM2", "Status": {"State": "Absent"}})"));
  REQUIRE(absent);
  CHECK_FALSE(*absent);
  auto dimm = MemoryRow(Doc("/redfish/v1/Systems/1/Memory/DIMM1", R"({
    "Id": "DIMM1", "CapacityMiB": 32768.0, "MemoryDeviceType": "DDR4", "OperatingSpeedMhz": 3200,
    "Status": {"Health": "OK", "State": "Enabled"}})"));
  REQUIRE(dimm);
  REQUIRE(*dimm);
  CHECK(As<std::int64_t>(**dimm, "capacity_mib") == 32768);
}

TEST_CASE("A drive field of the wrong type fails naming the resource and the field", "[inventory]") {
  auto row = DriveRow(Doc("/redfish/v1/Systems/System.Embedded.1/Storage/RAID.Integrated.1-1/Drives/Disk.Bay.0", R"({
    "Id": "Disk.Bay.0", "CapacityBytes": "480 GB", "FailurePredicted": false})"),
                      "RAID.Integrated.1-1");
  REQUIRE_FALSE(row);
  CHECK(row.error().code == "redfish.schema");
  CHECK(row.error().message ==
        "/redfish/v1/Systems/System.Embedded.1/Storage/RAID.Integrated.1-1/Drives/Disk.Bay.0: CapacityBytes is not an integer");
}

TEST_CASE("A drive predicting failure is reported as such, with its controller", "[inventory]") {
  auto row = DriveRow(Doc("/d", R"({"Id": "Disk.Bay.3:Enclosure.Internal.0-1:RAID.Integrated.1-1",
    "MediaType": "HDD", "Protocol": "SAS", "CapacityBytes": 1999844147200, "Revision": "CSL2",
    "FailurePredicted": true, "Status": {"Health": "Warning", "State": "Enabled"}})"),
                      "RAID.Integrated.1-1");
  REQUIRE(row);
  REQUIRE(*row);
  CHECK(As<bool>(**row, "predicted_failure"));
  CHECK(As<std::string>(**row, "controller") == "RAID.Integrated.1-1");
  CHECK(As<std::string>(**row, "firmware_version") == "CSL2");
}

TEST_CASE("A drive without an Id is refused", "[inventory]") {
  auto row = DriveRow(Doc("/d", R"({"Name": "Disk"})"), "c");
  REQUIRE_FALSE(row);
  CHECK(row.error().message == "/d: Id is missing");
}

TEST_CASE("A volume lists the drives it spans by their ids", "[inventory]") {
  auto row = VolumeRow(Doc("/v", R"({"Id": "Disk.Virtual.0:RAID.Integrated.1-1", "RAIDType": "RAID1",
    "CapacityBytes": 479559942144, "Links": {"Drives": [
      {"@odata.id": "/redfish/v1/Systems/System.Embedded.1/Storage/RAID.Integrated.1-1/Drives/Disk.Bay.0:Enclosure.Internal.0-1:RAID.Integrated.1-1"},
      {"@odata.id": "/redfish/v1/Systems/System.Embedded.1/Storage/RAID.Integrated.1-1/Drives/Disk.Bay.1:Enclosure.Internal.0-1:RAID.Integrated.1-1"}]}})"),
                       "RAID.Integrated.1-1");
  REQUIRE(row);
  const auto& drives = As<std::vector<std::string>>(*row, "drives");
  REQUIRE(drives.size() == 2);
  CHECK(drives[1] == "Disk.Bay.1:Enclosure.Internal.0-1:RAID.Integrated.1-1");
}

TEST_CASE("A NIC port belongs to the adapter its FQDD names, a missing MAC falls back to the permanent one", "[inventory]") {
  auto row = NicRow(Doc("/n", R"({"Id": "NIC.Slot.3-2-1", "MACAddress": "", "PermanentMACAddress": "B0:26:28:AA:BB:CC",
    "LinkStatus": "LinkUp", "SpeedMbps": 25000})"));
  REQUIRE(row);
  CHECK(As<std::string>(*row, "adapter") == "NIC.Slot.3");
  CHECK(As<std::string>(*row, "mac_address") == "B0:26:28:AA:BB:CC");
}

TEST_CASE("Firmware: installed entries keep a version-free id, rollback images are left out", "[inventory]") {
  CHECK(FirmwareComponentId("Installed-25227-7.00.00.171", "7.00.00.171") == "Installed-25227");
  CHECK(FirmwareComponentId("Installed-0-22.31.6__NIC.Integrated.1-1-1", "22.31.6") ==
        "Installed-0__NIC.Integrated.1-1-1");
  CHECK(FirmwareComponentId("BMC", "1.45.455b66-rev4") == "BMC");  // generic BMCs: ids carry no version
  const std::string inventory = "/redfish/v1/UpdateService/FirmwareInventory/";
  auto previous = FirmwareRow(Doc(inventory + "Previous-25227-6.10.30.00", R"({"Id": "Previous-25227-6.10.30.00", "Version": "6.10.30.00"})"));
  REQUIRE(previous);
  CHECK_FALSE(*previous);
  auto undated = FirmwareRow(Doc(inventory + "Installed-159-1.10.2", R"({"Id": "Installed-159-1.10.2", "Name": "BIOS", "Version": "1.10.2",
    "Updateable": true, "Oem": {"Dell": {"DellSoftwareInventory": {"InstallationDate": "0000-00-00T00:00:00Z"}}}})"));
  REQUIRE(undated);
  REQUIRE(*undated);
  CHECK(std::holds_alternative<std::monostate>(*(*undated)->Get("install_date")));
  CHECK(As<std::string>(**undated, "component_id") == "Installed-159");
  auto versionless = FirmwareRow(Doc("/f", R"({"Id": "Installed-159-1.10.2", "Version": null})"));
  REQUIRE_FALSE(versionless);
  CHECK(versionless.error().message == "/f: Version is not a string");
}

TEST_CASE("Firmware members are told apart by their URI, not by an Id every member shares", "[inventory]") {
  // One vendor gives every FirmwareInventory member "Id": "FW"; their URIs differ.
  auto bmc = FirmwareRow(Doc("/redfish/v1/UpdateService/FirmwareInventory/bmc", R"({"Id": "FW", "Name": "BMC", "Version": "1.2"})"));
  auto bios = FirmwareRow(Doc("/redfish/v1/UpdateService/FirmwareInventory/bios", R"({"Id": "FW", "Name": "BIOS", "Version": "2.0"})"));
  REQUIRE(bmc);
  REQUIRE(bios);
  REQUIRE(*bmc);
  REQUIRE(*bios);
  CHECK(As<std::string>(**bmc, "component_id") == "bmc");
  CHECK(As<std::string>(**bios, "component_id") == "bios");
}

TEST_CASE("The inventory JSON carries the server's columns and each list read", "[inventory]") {
  ServerInventory inv;
  inv.server.Set("service_tag", std::string("7XK2QF3"));
  inv.server.Set("cpu_count", std::int64_t{2});
  inv.server.Set("hostname", std::monostate{});
  Row vol;
  vol.Set("volume_id", std::string("V0"));
  vol.Set("drives", std::vector<std::string>{"D0", "D1"});
  inv.lists["volumes"].push_back(vol);
  inv.lists["memory"];
  CHECK(InventoryJson(inv) ==
        R"({"service_tag":"7XK2QF3","cpu_count":2,"hostname":null,"memory":[],"volumes":[{"volume_id":"V0","drives":["D0","D1"]}]})");
}

}  // namespace
}  // namespace dcops::idrac
