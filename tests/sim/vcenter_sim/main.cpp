// vcenter-sim: a simulated vCenter (vim25 SOAP over HTTPS) on one loopback address. Wiring only.
//
//   vcenter-sim [--address 127.0.0.1] [--port 8989] [--hosts N] [--vms-per-host N]
//               [--hosts-per-cluster N] [--datacenters N] [--datastores N] [--networks N]
//               [--tag-prefix VC] [--service-tags FILE] [--user U] [--password-file F] [--xsi-prefix xsi]
//               [--shared-service-tag TAG [--shared-tag-hosts N]]
//               [--migration-ms N] [--exit-ms N] [--reboot-down-ms N] [--reboot-up-ms N]
//
// --service-tags: one tag per line, optionally followed by the server's SMBIOS UUID; host n
// reports the n-th (the servers the hosts run on).
// --shared-service-tag: the first N hosts (every host without --shared-tag-hosts) report TAG
// as their ServiceTag; their UUIDs and serial numbers stay distinct.
//
// --migration-ms etc.: how long host tasks take (one VM's vMotion while a host enters
// maintenance mode, leaving maintenance mode, a rebooting host until it stops answering, and
// until it is back), in milliseconds.
//
// Prints one JSON line ({"ready": true, "fingerprint": …}) when it listens, then serves until
// SIGINT/SIGTERM.
#include <fmt/format.h>
#include <sstream>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "vc_server.hpp"

int main(int argc, char** argv) {
  using namespace dcops::sim::vcenter;
  Estate e;
  ServerOptions so;
  Timings timings;
  std::string address = "127.0.0.1", user = "sync@vsphere.local", password = "vc-pass";
  int port = 8989;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "vcenter-sim: {} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--address") address = next();
    else if (a == "--port") port = std::stoi(next());
    else if (a == "--hosts") e.hosts = std::stoi(next());
    else if (a == "--vms-per-host") e.vms_per_host = std::stoi(next());
    else if (a == "--hosts-per-cluster") e.hosts_per_cluster = std::stoi(next());
    else if (a == "--datacenters") e.datacenters = std::stoi(next());
    else if (a == "--datastores") e.datastores = std::stoi(next());
    else if (a == "--networks") e.networks = std::stoi(next());
    else if (a == "--tag-prefix") e.service_tag_prefix = next();
    else if (a == "--service-tags") {
      // "TAG" or "TAG UUID" per line: the server's SMBIOS UUID too, as ESXi on it reports it.
      std::ifstream in(next());
      for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string tag, uuid;
        words >> tag >> uuid;
        if (tag.empty()) continue;
        e.service_tags.push_back(tag);
        e.hardware.push_back({"", "", "", uuid});
      }
    }
    else if (a == "--shared-service-tag") e.shared_service_tag = next();
    else if (a == "--shared-tag-hosts") e.shared_tag_hosts = std::stoi(next());
    else if (a == "--user") user = next();
    else if (a == "--migration-ms") timings.migration = std::chrono::milliseconds(std::stoi(next()));
    else if (a == "--exit-ms") timings.exit = std::chrono::milliseconds(std::stoi(next()));
    else if (a == "--reboot-down-ms") timings.reboot_down = std::chrono::milliseconds(std::stoi(next()));
    else if (a == "--reboot-up-ms") timings.reboot_up = std::chrono::milliseconds(std::stoi(next()));
    else if (a == "--password-file") {
      std::ifstream in(next());
      std::getline(in, password);
    } else if (a == "--xsi-prefix") so.xsi_prefix = next();
    else {
      fmt::print(stderr, "vcenter-sim: unknown option {}\n", a);
      return 2;
    }
  }
  if (address.rfind("127.", 0) != 0) {
    fmt::print(stderr, "vcenter-sim: {} is not a loopback address\n", address);
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Model model(e, user, password);
  model.SetTimings(timings);
  Server server(model, address, port, so);
  if (std::string error = server.Start(); !error.empty()) {
    fmt::print(stderr, "vcenter-sim: {}\n", error);
    return 1;
  }
  fmt::print("{{\"ready\": true, \"address\": \"{}:{}\", \"fingerprint\": \"{}\", \"hosts\": {}, \"vms\": {}}}\n", address, port,
             server.fingerprint(), e.hosts, e.hosts * e.vms_per_host);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  server.Stop();
  return 0;
}
