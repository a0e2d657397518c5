#pragma once
// Forward-only schema migrations.
//
// A migration is a file `<14-digit timestamp>_<name>.sql` in deploy/supabase/migrations/.
// ApplyMigrations() applies, in version order, each one not yet recorded in
// dcops_meta.schema_migrations, each in its own transaction, under an advisory lock so two
// processes never migrate at once. A recorded migration whose text changed is an error:
// history is never rewritten, a change is a new migration. Re-applying a set is a no-op.
//
// The files themselves are also written to be re-runnable (IF NOT EXISTS, CREATE OR
// REPLACE), so Supabase's own migration tooling can load them too.
//
// Blocking: yes, for as long as the migrations take. Thread-safety: none.

#include <string>
#include <vector>

#include "dcops/common/result.hpp"
#include "dcops/db/connection.hpp"

namespace dcops::db {

struct Migration {
  std::string version;  // "20261127000100"
  std::string name;     // "supabase_shim"
  std::string sql;
};

struct MigrationReport {
  std::vector<std::string> applied;  // versions applied by this call
  std::vector<std::string> skipped;  // versions already present
};

// Parses a file name into version and name; an error when it does not follow the pattern.
Result<Migration> MigrationFromFile(const std::string& file_name, std::string sql);
// Reads every *.sql file of `dir`, sorted by version. Other files are ignored.
Result<std::vector<Migration>> LoadMigrations(const std::string& dir);
Result<MigrationReport> ApplyMigrations(Connection& conn, const std::vector<Migration>& set);

}  // namespace dcops::db
