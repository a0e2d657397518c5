#pragma once
// A fleet of simulated BMCs, each an HTTPS Redfish service on its own loopback address,
// plus a plain-HTTP control endpoint that reports per-BMC counters and injects faults.
//
// Ownership: a Fleet owns its BMCs, servers and their threads; Stop() (or the destructor)
// stops them all. Thread-safety: Start/Stop from one thread.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bmc.hpp"
#include "image_fetcher.hpp"

namespace httplib {
class Server;
}

namespace dcops::sim {

struct FleetOptions {
  int count = 10;
  std::string first_address = "127.0.1.1";  // must be in 127.0.0.0/8, as every address
  int port = 8443;
  std::string control_address = "127.0.0.1";
  int control_port = 0;  // 0: any free port (see control_port())
  std::string username = "root";
  std::string password = "calvin";
  int session_cap = 8;
  Timing timing;
  int legacy_every = 0;  // every Nth BMC runs firmware without GracefulRestart/PowerCycle
  Vendor vendor = Vendor::kDell;       // every BMC's make (vendor.hpp) ...
  std::vector<VendorEvery> vendor_every;  // ... unless an entry picks it (the last match wins)
  int threads_per_bmc = 4;
  // Addresses after the BMCs that listen on the same port but are not Redfish (a switch's
  // web UI): discovery must tell them apart.
  int impostors = 0;
  std::uint64_t seed = 1;
};

// The n-th address after `first` (n = 0 is `first`), or "" when it leaves 127.0.0.0/8.
std::string NthLoopbackAddress(const std::string& first, int n);
// Identity of BMC number `index`: stable for a given seed.
Identity MakeIdentity(const std::string& address, int index, std::uint64_t seed, int legacy_every,
                      Vendor vendor = Vendor::kDell);

class Fleet {
 public:
  explicit Fleet(FleetOptions options);
  ~Fleet();
  // Binds every BMC and the control endpoint; an error names the address that failed.
  std::string Start();
  void Stop();

  int control_port() const { return control_port_; }
  std::vector<Bmc*> bmcs();
  Bmc* Find(const std::string& address);
  const std::string& FingerprintOf(const std::string& address) const;

 private:
  struct Member;
  void WatchRestarts();
  FleetOptions options_;
  std::vector<std::unique_ptr<Member>> members_;
  std::vector<std::unique_ptr<Member>> impostors_;
  std::unique_ptr<ImageFetcher> fetcher_;  // declared after the BMCs: gone before them
  std::unique_ptr<httplib::Server> control_;
  std::thread control_thread_;
  int control_port_ = 0;
  std::thread watch_thread_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool stopping_ = false;
  std::atomic<bool> restart_signal_{false};  // a BMC began a restart since the watcher looked
};

}  // namespace dcops::sim
