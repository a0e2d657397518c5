#pragma once
// discovery.scan: find Redfish BMCs among the addresses of one part of a scan.
//
// Per address: a TCP connect (bounded by probe_timeout); an unauthenticated GET /redfish/v1
// that must answer a Redfish service root (anything else is "not Redfish"); the certificate
// seen there is recorded and pinned for everything after (trust on first use: credentials
// only ever go to that certificate); then the assigned credential sets in order, one login
// each at most, stopping at the first that works: a refused login is never repeated, so a
// scan cannot lock an account out. Addresses are worked on by `concurrency` threads; the
// step's thread reports probed / found / authenticated as they grow.
//
// The result lists every service found, with the set that opened it (or none); the
// dispatcher adds them to the inventory and refreshes the authenticated ones.
#include <chrono>

#include "dcops/agent/step.hpp"
#include "dcops/http/client.hpp"

namespace dcops::idrac {

struct DiscoveryOptions {
  std::chrono::milliseconds probe_timeout{1500};  // TCP connect, and the service root GET x2
  int default_concurrency = 32;
  std::chrono::milliseconds progress_every{500};
};

agent::StepOutcome RunDiscovery(agent::StepContext& ctx, http::Client& http, const DiscoveryOptions& options);

}  // namespace dcops::idrac
