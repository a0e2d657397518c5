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
};

// Binds DISPATCHER_ADDRESS, AGENT_ID, AGENT_TOKEN(_FILE), TLS_CA_FILE, INSECURE_DEV and
// CAPACITY (default: `settings.capacity` as the binary set it) into `settings`.
void AddAgentSettings(ConfigSpec& spec, AgentSettings& settings);

// Loads `spec` (the shared settings and the binary's own) from the DCOPS_ environment, then
// reads the token file, sets capacity and a default agent id ("<kind>-<host>-<pid>"), and
// registers the token with `secrets`. `argv1` "--insecure-dev" turns on plaintext gRPC.
// Fails naming the key at fault, or when the token file cannot be read.
Status LoadAgentSettings(const ConfigSpec& spec, AgentSettings& settings, const char* argv1, SecretRegistry& secrets);

// Runs `client` until it is drained (by a signal) or ends; `periodic`, when set, runs every
// `period` meanwhile (closing idle device sessions, say). Returns Run()'s code.
int ServeUntilSignalled(AgentClient& client, const Logger& log, const std::function<void()>& periodic = {},
                        std::chrono::milliseconds period = std::chrono::seconds(5));

}  // namespace dcops::agent
