#pragma once
// `job-dispatcher serve` and `job-dispatcher credentials set`: configuration into options.
#include "dcops/common/config.hpp"
#include "dcops/common/log.hpp"

namespace dcops::dispatcher {

// Runs the dispatcher until SIGINT/SIGTERM. `insecure_flag`: --insecure-dev was given.
int RunServe(const Environment& env, bool insecure_flag, const Logger& log, SecretRegistry& redact);
// Reads a password from stdin, seals it with the site key and stores the credential set.
// `redact` learns the database URL and its password.
int RunCredentialsSet(const Environment& env, const std::string& name, const std::string& kind,
                      const std::string& user, const Logger& log, SecretRegistry& redact);

}  // namespace dcops::dispatcher
