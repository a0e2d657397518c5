#pragma once
// `job-dispatcher migrate`: applies the control-plane migrations to DCOPS_DATABASE_URL.
// For a self-contained site (plain PostgreSQL) and for tests; a Supabase project can load
// the same files with its own tooling instead.
//
// Blocking: runs to completion. Not thread-safe (a command, run once from main).

#include <string>
#include <vector>

#include "dcops/common/config.hpp"
#include "dcops/common/log.hpp"
#include "dcops/common/redact.hpp"

namespace dcops::dispatcher {

struct MigrateOptions {
  std::string database_url;
  std::string database_unverified_hosts;  // DCOPS_DATABASE_URL_ALLOW_UNVERIFIED: "host,host"
  std::string migrations_dir = "/usr/share/dcops/migrations";
  std::chrono::milliseconds connect_timeout{10000};
  // How long to wait for the database to come up (a compose stack starts it alongside).
  std::chrono::milliseconds wait_for_database{60000};
};

// Declares the keys `migrate` reads.
ConfigSpec MigrateConfig(MigrateOptions* options);

// Exit code: 0 applied or nothing to do, 1 failure, 2 a database URL refused (database_url.hpp;
// `redact` learns the URL and its password); every failure is logged with its reason.
int RunMigrate(const MigrateOptions& options, const Logger& log, SecretRegistry& redact, Clock& clock);

}  // namespace dcops::dispatcher
