#pragma once
// `job-dispatcher certs init DIR`: everything a site needs to run with TLS, made locally:
//   ca.pem                   the site CA (give it to agents: DCOPS_TLS_CA_FILE)
//   ca-key.pem               its key (keep offline; 0600)
//   dispatcher.pem, dispatcher-key.pem   the dispatcher's gRPC certificate (0600 key)
//   site.key                 the credential-set key (DCOPS_SECRET_KEY_FILE; 0600)
//   agent.token              the site's agent secret: the dispatcher's DCOPS_AGENT_TOKEN_FILE only (0600)
//   agents/KIND.token        a token for the replicas of each agent kind ("idrac-worker-*", …):
//                            the agents' DCOPS_AGENT_TOKEN_FILE (0600)
// Existing files are never overwritten.
// `job-dispatcher certs agent-token DIR SCOPE` prints a token for one agent id (or a prefix
// ending in '*') from DIR/agent.token.
#include <string>
#include <vector>

#include "dcops/common/log.hpp"

namespace dcops::dispatcher {

int RunCertsInit(const std::string& dir, const std::vector<std::string>& hosts, const Logger& log);
int RunCertsAgentToken(const std::string& dir, const std::string& scope, const Logger& log);

// The agent kinds `certs init` issues tokens for, one file each.
inline constexpr const char* kAgentKinds[] = {"idrac-worker", "ome-sync", "vcenter-sync", "esxi-worker", "zfs-worker"};

}  // namespace dcops::dispatcher
