// redfish-tree-sim: serves one Redfish mockup tree over HTTPS, behaving as DSP0266 describes
// (see options.hpp for the command line, server.hpp for the control endpoint). Wiring only.
//
// Prints one JSON line when it listens, then runs until SIGINT/SIGTERM.
#include <fmt/format.h>
#include <signal.h>

#include <cstdio>

#include "options.hpp"
#include "server.hpp"
#include "tree_sim.hpp"

int main(int argc, char** argv) {
  using namespace dcops::sim::tree;
  auto options = ParseOptions(argc, argv);
  if (!options) {
    fmt::print(stderr, "redfish-tree-sim: {}\n", options.error().message);
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // every server thread inherits the mask

  auto sim = TreeSim::Create(*options);
  if (!sim) {
    fmt::print(stderr, "redfish-tree-sim: {}\n", sim.error().message);
    return 1;
  }
  Server server(**sim, *options);
  if (auto started = server.Start(); !started) {
    fmt::print(stderr, "redfish-tree-sim: {}\n", started.error().message);
    return 1;
  }
  fmt::print(
      "{{\"ready\": true, \"address\": \"{}\", \"port\": {}, \"certificate_sha256\": "
      "\"{}\", \"control\": \"http://127.0.0.1:{}\"}}\n",
      options->address, server.port(), server.fingerprint(), server.control_port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  server.Stop();
  return 0;
}
