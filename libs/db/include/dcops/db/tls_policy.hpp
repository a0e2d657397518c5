#pragma once
// Whether a control-plane connection string verifies the server it reaches.
//
// A connection to another machine must say sslmode=verify-full (libpq then refuses a server
// without TLS, a certificate from a CA other than sslrootcert's, and a certificate for another
// name); anything weaker is refused unless the operator opted out for that database (a
// compose network's own PostgreSQL, say). Unix sockets and loopback addresses are this
// machine and need no TLS.
//
// Pure: parses with libpq (PQconninfoParse: URLs and keyword strings), reads PGHOST,
// PGHOSTADDR and PGSSLMODE from `environment` when the string leaves them out, and never
// connects. Errors name host and sslmode, never the password. Thread-safe.
#include <functional>
#include <optional>
#include <string>

#include "dcops/common/result.hpp"

namespace dcops::db {

// `environment(name)`: the process's value of a libpq variable, or nullopt.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string&)>;

// Ok when `dsn` reaches only this machine or says sslmode=verify-full, or when every other
// host it names is in `unverified_hosts` ("postgres,db2": the operator's opt-out, host by
// host); otherwise
// "db.tls_unverified" naming `setting` (the key the DSN came from), the host and the way out.
// A `service` (pg_service.conf) hides where it goes: it counts as another machine.
// "db.bad_dsn" when libpq cannot parse it (libpq's own words are left out: they may quote
// the password).
Status RequireVerifiedTls(const std::string& dsn, const std::string& setting,
                          const std::string& unverified_hosts, const EnvironmentLookup& environment);

// The password the DSN carries, if any, so that it can be registered for redaction.
std::optional<std::string> DsnPassword(const std::string& dsn);

// The lookup of the real process environment.
std::optional<std::string> ProcessLibpqEnvironment(const std::string& name);

}  // namespace dcops::db
