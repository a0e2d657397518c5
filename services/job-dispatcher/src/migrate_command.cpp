#include "migrate_command.hpp"

#include <fmt/format.h>

#include "dcops/db/migrations.hpp"
#include "dcops/db/reconnector.hpp"
#include "database_url.hpp"

namespace dcops::dispatcher {

ConfigSpec MigrateConfig(MigrateOptions* o) {
  ConfigSpec spec("DCOPS_");
  spec.String("DATABASE_URL", &o->database_url, "control-plane PostgreSQL DSN", true)
      .String("DATABASE_URL_ALLOW_UNVERIFIED", &o->database_unverified_hosts,
              "hosts (comma-separated) reached without sslmode=verify-full: a private network's own database")
      .String("MIGRATIONS_DIR", &o->migrations_dir, "directory of *.sql migrations")
      .Duration("DB_CONNECT_TIMEOUT", &o->connect_timeout, "bound on one connection attempt")
      .Duration("DB_WAIT", &o->wait_for_database, "how long to wait for the database to come up");
  return spec;
}

int RunMigrate(const MigrateOptions& options, const Logger& log, SecretRegistry& redact, Clock& clock) {
  if (!AcceptDatabaseUrl(options.database_url, options.database_unverified_hosts, redact, log)) return 2;
  auto set = db::LoadMigrations(options.migrations_dir);
  if (!set) {
    log.Error(set.error().message, {}, {{"code", set.error().code}});
    return 1;
  }
  db::DbOptions db_options;
  db_options.dsn = options.database_url;
  db_options.connect_timeout = options.connect_timeout;
  db_options.application_name = "dcops-migrate";
  // DDL on a big table may take long; migrations are bounded by the operator, not by us.
  db_options.statement_timeout = std::chrono::milliseconds(0);
  db::Reconnector reconnector(db_options, clock);
  auto conn = reconnector.Get(options.wait_for_database);
  if (!conn) {
    log.Error(conn.error().message, {}, {{"code", conn.error().code}});
    return 1;
  }
  auto report = db::ApplyMigrations(**conn, *set);
  if (!report) {
    log.Error(report.error().message, {},
              {{"code", report.error().code}, {"sqlstate", report.error().sqlstate}});
    return 1;
  }
  log.Info(fmt::format("migrations: {} applied, {} already present", report->applied.size(),
                       report->skipped.size()),
           {}, {{"applied", fmt::format("{}", fmt::join(report->applied, ","))}});
  return 0;
}

}  // namespace dcops::dispatcher
