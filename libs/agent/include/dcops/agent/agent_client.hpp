#pragma once
// The agent side of the agent protocol: connects to the dispatcher (with backoff and
// jitter), says Hello with its kind, capacity and step kinds, runs assignments on a bounded
// pool of threads, reports progress/events/checkpoints/results, heartbeats, honours Cancel,
// and drains on request (finishes running steps, takes no new ones, then returns).
//
// Ownership: borrows the StepRegistry, Logger and Clock; they must outlive Run().
// Thread-safety: Run() blocks the calling thread; RequestDrain() may be called from any
// thread (a signal-handling thread, typically).

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "dcops/agent/step.hpp"
#include "dcops/common/backoff.hpp"
#include "dcops/common/log.hpp"

namespace dcops::agent {

struct AgentOptions {
  // host:port, or a comma-separated list (leader and standbys), tried in turn.
  std::string dispatcher_address = "127.0.0.1:50051";
  std::string agent_id;
  std::string kind;
  std::string version = "0.1.0";
  int capacity = 4;
  // Bearer token presented in the "authorization" metadata. Secret.
  std::string token;
  // Plaintext gRPC, only with the explicit development flag; otherwise TLS with this CA.
  bool insecure_dev = false;
  std::string tls_ca_file;
  BackoffPolicy reconnect{std::chrono::milliseconds(200), std::chrono::milliseconds(10000), 2.0, 0.5, 0};
  // How long a draining agent waits for running steps before handing them back.
  std::chrono::milliseconds drain_timeout{60000};
};

class AgentClient {
 public:
  AgentClient(AgentOptions options, const StepRegistry& steps, const Logger& log, Clock& clock);
  ~AgentClient();

  // Serves until drained. Returns 0 when drained cleanly.
  int Run();
  void RequestDrain();
  // True while a stream to a dispatcher is open and the agent takes steps (not draining):
  // what its grpc.health.v1 service reports.
  bool Serving() const;

  struct Impl;  // opaque: keeps gRPC out of this header

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dcops::agent
