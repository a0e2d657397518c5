// redfish-sim: a fleet of simulated BMCs (Dell iDRAC9 unless told otherwise) on loopback
// addresses. Wiring only.
//
//   redfish-sim [--count N] [--first 127.0.1.1] [--port 8443] [--control-port P]
//               [--user root] [--password-file F] [--session-cap 8] [--power-on-ms MS]
//               [--restart-ms MS] [--on-after-off-ms MS] [--job-ms MS] [--idrac-restart-ms MS]
//               [--download-ms MS] [--legacy-every N] [--impostors N] [--latency-ms MS]
//               [--mutating-latency-ms MS] [--image-dir DIR [--image-share ADDR:PORT]] [--seed S]
//               [--vendor dell|hpe|supermicro|generic] [--vendor-every N:VENDOR ...]
//
// --vendor sets every BMC's make; --vendor-every (repeatable, the last match wins) makes
// every Nth BMC (N, 2N, ...) another one (vendor.hpp says what each make serves).
//
// --latency-ms slows every request, --mutating-latency-ms every request but a GET again (real
// iDRACs take seconds over logins and actions). --image-dir serves a directory over HTTP on --image-share
// (default 127.0.0.1, any port): the site's file share that SimpleUpdate's ImageURI names.
//
// Prints one JSON line when every BMC listens (with the share's URL), then runs until
// SIGINT/SIGTERM.
#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "fleet.hpp"
#include "image_share.hpp"

int main(int argc, char** argv) {
  using namespace dcops::sim;
  FleetOptions o;
  milliseconds latency{0};  // added to every request of every BMC
  milliseconds mutating_latency{0};
  std::string image_dir, image_share = "127.0.0.1:0";
  if (const char* pw = std::getenv("REDFISH_SIM_PASSWORD")) o.password = pw;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "redfish-sim: {} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    auto ms = [&] { return milliseconds(std::stol(next())); };
    if (a == "--count") o.count = std::stoi(next());
    else if (a == "--first") o.first_address = next();
    else if (a == "--port") o.port = std::stoi(next());
    else if (a == "--control-port") o.control_port = std::stoi(next());
    else if (a == "--user") o.username = next();
    else if (a == "--password-file") {
      std::ifstream in(next());
      std::getline(in, o.password);
    } else if (a == "--session-cap") o.session_cap = std::stoi(next());
    else if (a == "--power-on-ms") o.timing.power_on = ms();
    else if (a == "--power-off-ms") o.timing.power_off = ms();
    else if (a == "--graceful-ms") o.timing.graceful_shutdown = ms();
    else if (a == "--restart-ms") o.timing.restart = ms();
    else if (a == "--on-after-off-ms") o.timing.on_after_off_guard = ms();
    else if (a == "--job-ms") o.timing.job_run = ms();
    else if (a == "--idrac-restart-ms") o.timing.idrac_restart = ms();
    else if (a == "--legacy-every") o.legacy_every = std::stoi(next());
    else if (a == "--impostors") o.impostors = std::stoi(next());
    else if (a == "--latency-ms") latency = ms();
    else if (a == "--mutating-latency-ms") mutating_latency = ms();
    else if (a == "--download-ms") o.timing.download = ms();
    else if (a == "--image-dir") image_dir = next();
    else if (a == "--image-share") image_share = next();
    else if (a == "--threads-per-bmc") o.threads_per_bmc = std::stoi(next());
    else if (a == "--seed") o.seed = std::stoull(next());
    else if (a == "--vendor") {
      const std::string name = next();
      auto v = ParseVendor(name);
      if (!v) {
        fmt::print(stderr, "redfish-sim: --vendor {}: not one of dell, hpe, supermicro, generic\n", name);
        return 2;
      }
      o.vendor = *v;
    } else if (a == "--vendor-every") {
      const std::string spec = next();
      auto e = ParseVendorEvery(spec);
      if (!e) {
        fmt::print(stderr, "redfish-sim: --vendor-every {}: expected N:VENDOR (N >= 1)\n", spec);
        return 2;
      }
      o.vendor_every.push_back(*e);
    }
    else {
      fmt::print(stderr, "redfish-sim: unknown option {}\n", a);
      return 2;
    }
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // every server thread inherits the mask

  // A big fleet holds a listener per BMC plus their connections.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  Fleet fleet(o);
  if (std::string error = fleet.Start(); !error.empty()) {
    fmt::print(stderr, "redfish-sim: {}\n", error);
    return 1;
  }
  if (latency.count() > 0 || mutating_latency.count() > 0) {
    for (Bmc* bmc : fleet.bmcs()) {
      Faults f = bmc->faults();
      f.latency = latency;
      f.mutating_latency = mutating_latency;
      bmc->SetFaults(f);
    }
  }
  ImageShare share;
  if (!image_dir.empty()) {
    const auto colon = image_share.rfind(':');
    const std::string error =
        colon == std::string::npos
            ? "--image-share " + image_share + ": expected ADDRESS:PORT"
            : share.Start(image_share.substr(0, colon), std::stoi(image_share.substr(colon + 1)), image_dir);
    if (!error.empty()) {
      fmt::print(stderr, "redfish-sim: {}\n", error);
      return 1;
    }
  }
  fmt::print("{{\"ready\": true, \"bmcs\": {}, \"first\": \"{}\", \"port\": {}, "
             "\"control\": \"http://{}:{}\", \"images\": \"{}\"}}\n",
             o.count, o.first_address, o.port, o.control_address, fleet.control_port(),
             image_dir.empty() ? "" : share.base_url());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  fleet.Stop();
  return 0;
}
