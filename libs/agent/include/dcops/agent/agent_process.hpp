#pragma once
// What every agent binary does around its steps: the DCOPS_ settings all agents share, the
// bearer token read from its file (and registered for redaction), a default agent id, and
// serving until SIGINT/SIGTERM asks it to drain. Each main.cpp adds its own settings and
// its step registry; nothing else.
//
// Thread-safety: ServeUntilSignalled blocks the calling thread and must be called from the
// main thread before any other thread is started (it blocks SIGINT/SIGTERM for the process).
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "dcops/agent/agent_client.hpp"
#include "dcops/common/config.hpp"
#include "dcops/common/redact.hpp"

namespace dcops::agent {

struct AgentSettings {
  AgentOptions options;    // kind and version set by the binary
  std::string token_file;
  std::int64_t capacity;   // the binary's default until the environment says otherwise
  // grpc.health.v1 on this unix socket (DCOPS_HEALTH_SOCKET); empty: none.
  std::string health_socket;
};

// Binds DISPATCHER_ADDRESS, AGENT_ID, AGENT_TOKEN(_FILE), TLS_CA_FILE, INSECURE_DEV,
// HEALTH_SOCKET and CAPACITY (default: `settings.capacity` as the binary set it) into `settings`.
void AddAgentSettings(ConfigSpec& spec, AgentSettings& settings);

// Loads `spec` (the shared settings and the binary's own) from the DCOPS_ environment, then
// reads the token file, sets capacity and a default agent id ("<kind>-<host>-<pid>"), and
// registers the token with `secrets`. `argv1` "--insecure-dev" turns on plaintext gRPC.
// Fails naming the key at fault, or when the token file cannot be read.
Status LoadAgentSettings(const ConfigSpec& spec, AgentSettings& settings, const char* argv1, SecretRegistry& secrets);

// Runs `client` until it is drained (by a signal) or ends; `periodic`, when set, runs every
// `period` meanwhile (closing idle device sessions, say). With `settings.health_socket`, serves
// grpc.health.v1 there meanwhile: SERVING while the client is connected and not draining (a
// container's healthcheck asks it with --health). Returns Run()'s code, or 2 when the health
// socket cannot be served.
int ServeUntilSignalled(AgentClient& client, const AgentSettings& settings, const Logger& log,
                        const std::function<void()>& periodic = {},
                        std::chrono::milliseconds period = std::chrono::seconds(5));

// `<agent> --health`: asks the grpc.health.v1 service on DCOPS_HEALTH_SOCKET (of the running
// agent beside it) and returns 0 when it is SERVING, 1 otherwise, saying why on stderr.
// Blocks for at most three seconds.
int ProbeHealth();

}  // namespace dcops::agent
