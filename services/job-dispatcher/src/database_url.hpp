#pragma once
// What every job-dispatcher command does with DCOPS_DATABASE_URL before it connects: the URL
// and its password are registered for redaction (libpq's messages may quote either), and a
// database on another machine that the URL does not verify is refused (db/tls_policy.hpp),
// unless `unverified_hosts` (DCOPS_DATABASE_URL_ALLOW_UNVERIFIED) names it.
//
// Returns false after logging why; the command then ends with status 2. Never connects.
// Thread-safe as SecretRegistry is.
#include <string>

#include "dcops/common/log.hpp"
#include "dcops/common/redact.hpp"

namespace dcops::dispatcher {

bool AcceptDatabaseUrl(const std::string& url, const std::string& unverified_hosts, SecretRegistry& redact,
                       const Logger& log);

}  // namespace dcops::dispatcher
