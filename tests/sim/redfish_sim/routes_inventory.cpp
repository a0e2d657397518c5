// The component collections a refresh reads, and the Dell LC status action (Dell only).
#include <fmt/format.h>

#include "route_support.hpp"

namespace dcops::sim {
namespace {

// A member list computed from the BMC's inventory at request time.
std::function<std::vector<Member>(Bmc&)> FromInventory(std::vector<Member> (*members)(const Inventory&)) {
  return [members](Bmc& bmc) { return members(bmc.inventory()); };
}

}  // namespace

void InstallInventoryRoutes(httplib::Server& server, Bmc& bmc) {
  const std::string sys = kSystem;
  const std::string storage = StoragePath(bmc.inventory());
  ServeCollection(server, bmc, sys + "/Processors", "Processor", "Processors Collection", FromInventory(ProcessorMembers));
  ServeCollection(server, bmc, sys + "/Memory", "Memory", "Memory Collection", FromInventory(MemoryMembers));
  ServeCollection(server, bmc, sys + "/Storage", "Storage", "Storage Collection", FromInventory(StorageMembers));
  ServeCollection(server, bmc, sys + "/EthernetInterfaces", "EthernetInterface",
                  "System Ethernet Interface Collection", FromInventory(EthernetMembers));
  ServeCollection(server, bmc, storage + "/Drives", "Drive", "Drive Collection", FromInventory(DriveMembers));
  ServeCollection(server, bmc, storage + "/Volumes", "Volume", "Volume Collection", FromInventory(VolumeMembers));
  ServeCollection(server, bmc, "/redfish/v1/UpdateService/FirmwareInventory", "SoftwareInventory",
                  "Firmware Inventory Collection", FromInventory(FirmwareMembers));
  if (bmc.identity().vendor != Vendor::kDell) return;  // the LC service is Dell's OEM
  server.Post("/redfish/v1/Dell/Managers/iDRAC.Embedded.1/DellLCService/Actions/"
              "DellLCService.GetRemoteServicesAPIStatus",
              [&bmc](const httplib::Request& req, httplib::Response& res) {
                InFlight in(bmc, req);
                if (!Front(bmc, req, res, true)) return;
                const std::string lc = bmc.LcStatus(Now());
                const char* ready = lc == "Ready" ? "Ready" : "NotReady";
                res.set_content(fmt::format(R"({{"@Message.ExtendedInfo": [{{"Message": "Successfully Completed Request", "MessageId": "Base.1.8.Success", "Severity": "OK"}}],
  "LCStatus": "{lc}", "RTStatus": "{rt}", "ServerStatus": "OutOfPOST", "Status": "{st}"}})",
                                            fmt::arg("lc", lc), fmt::arg("rt", ready), fmt::arg("st", ready)),
                                kJson);
              });
}

}  // namespace dcops::sim
