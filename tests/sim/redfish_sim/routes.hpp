#pragma once
// Redfish over HTTP for one simulated BMC: authentication (sessions with a cap, basic auth),
// the resource tree, ComputerSystem.Reset, and injected faults.
namespace httplib {
class Server;
}

namespace dcops::sim {
class Bmc;
class ImageFetcher;
// `fetcher` downloads SimpleUpdate packages (it outlives the server's requests).
void InstallRedfishRoutes(httplib::Server& server, Bmc& bmc, ImageFetcher& fetcher);
}  // namespace dcops::sim
