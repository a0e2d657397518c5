#pragma once
// `job-dispatcher certs init DIR`: everything a site needs to run with TLS, made locally:
//   ca.pem                   the site CA (give it to agents: DCOPS_TLS_CA_FILE)
//   ca-key.pem               its key (keep offline; 0600)
//   dispatcher.pem, dispatcher-key.pem   the dispatcher's gRPC certificate (0600 key)
//   site.key                 the credential-set key (DCOPS_SECRET_KEY_FILE; 0600)
//   agent.token              the agents' bearer token (DCOPS_AGENT_TOKEN_FILE; 0600)
// Existing files are never overwritten.
#include <string>
#include <vector>

#include "dcops/common/log.hpp"

namespace dcops::dispatcher {

int RunCertsInit(const std::string& dir, const std::vector<std::string>& hosts, const Logger& log);

}  // namespace dcops::dispatcher
