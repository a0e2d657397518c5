#pragma once
// The dispatcher proper: serves the agent protocol and runs the dispatch loop for one site.
//
// Threads: gRPC's server threads read agent streams and post what they read to the loop's
// inbox; the loop thread alone owns the database connection, the limits and the agents'
// bookkeeping, and writes Assign/Cancel/acks to streams; a listener thread turns NOTIFY into
// wake-ups. Nothing blocks a gRPC thread on the database.
//
// Ownership: main owns the Dispatcher; the Dispatcher owns its threads and connections.

#include <chrono>
#include <memory>
#include <string>

#include "dcops/common/log.hpp"
#include "dcops/db/connection.hpp"
#include "dcops/tls/secret_box.hpp"
#include "limits.hpp"

namespace dcops::dispatcher {

struct DispatcherOptions {
  std::string site = "default";
  std::string dispatcher_id;
  db::DbOptions db;
  std::string grpc_listen = "127.0.0.1:50051";
  // The site's agent secret (secret): agents present tokens derived from it (agent_identity.hpp).
  // Empty refuses every agent unless insecure_dev.
  std::string agent_token;
  // Also accept the secret itself from any agent id (sites from before per-agent tokens).
  bool accept_shared_agent_token = false;
  bool insecure_dev = false;
  std::string tls_cert_file, tls_key_file;
  std::string http_listen_host = "127.0.0.1";
  int http_port = 8080;
  std::chrono::seconds lease{30};
  // Finished jobs (with their steps and events), offline agents and old log entries older
  // than this are deleted by the leader, a batch at a time every few minutes; zero keeps all.
  std::chrono::milliseconds retention{std::chrono::hours(24 * 30)};
  std::chrono::milliseconds heartbeat{5000};
  std::chrono::milliseconds poll{1000};
  LimitsConfig limits;
  // Bearer token of /api/v1 (secret); empty disables the API.
  std::string api_token;
  std::string viewer_token;  // read-only API and console token; empty: none
  // Plans the benchmark-only job types (scripts/bench).
  bool bench_job_types = false;
};

class Dispatcher {
 public:
  Dispatcher(DispatcherOptions options, tls::SecretBox secrets, const Logger& log, SecretRegistry& redact);
  ~Dispatcher();
  // Blocks until Stop(). Returns a process exit code.
  int Run();
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dcops::dispatcher
