#pragma once
// Redfish over HTTP for one simulated BMC: authentication (sessions with a cap, basic auth),
// the resource tree, ComputerSystem.Reset, and injected faults.
namespace httplib {
class Server;
}

namespace dcops::sim {
class Bmc;
void InstallRedfishRoutes(httplib::Server& server, Bmc& bmc);
}  // namespace dcops::sim
