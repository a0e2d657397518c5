#include "dcops/db/migrations.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "dcops/common/config.hpp"

namespace dcops::db {
namespace {

constexpr std::string_view kBootstrap = R"sql(
CREATE SCHEMA IF NOT EXISTS dcops_meta;
CREATE TABLE IF NOT EXISTS dcops_meta.schema_migrations (
  version    text PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON SCHEMA dcops_meta FROM PUBLIC;
)sql";

// Any stable number works as long as every migrator uses the same one.
constexpr std::string_view kLockKey = "7422101";

}  // namespace

Result<Migration> MigrationFromFile(const std::string& file_name, std::string sql) {
  const auto bad = [&] {
    return MakeError("migrations.name",
                     fmt::format("{}: expected <14-digit version>_<name>.sql", file_name));
  };
  if (file_name.size() < 20 || file_name[14] != '_' ||
      file_name.substr(file_name.size() - 4) != ".sql") {
    return bad();
  }
  const std::string version = file_name.substr(0, 14);
  if (!std::all_of(version.begin(), version.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return bad();
  }
  std::string name = file_name.substr(15, file_name.size() - 19);
  if (name.empty()) return bad();
  return Migration{version, std::move(name), std::move(sql)};
}

Result<std::vector<Migration>> LoadMigrations(const std::string& dir) {
  std::error_code ec;
  std::vector<Migration> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".sql") continue;
    auto text = ReadWholeFile(entry.path().string());
    if (!text) return text.error();
    auto m = MigrationFromFile(entry.path().filename().string(), std::move(*text));
    if (!m) return m.error();
    out.push_back(std::move(*m));
  }
  if (ec) {
    return MakeError("migrations.dir", fmt::format("cannot list {}: {}", dir, ec.message()));
  }
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].version == out[i - 1].version) {
      return MakeError("migrations.duplicate",
                       fmt::format("two migrations share version {}", out[i].version));
    }
  }
  if (out.empty()) return MakeError("migrations.dir", fmt::format("no migrations in {}", dir));
  return out;
}

Result<MigrationReport> ApplyMigrations(Connection& conn, const std::vector<Migration>& set) {
  if (auto st = conn.ExecScript(kBootstrap); !st) return st.error();
  if (auto locked = conn.Exec("SELECT pg_advisory_lock($1::bigint)", {std::string(kLockKey)});
      !locked) {
    return locked.error();
  }
  MigrationReport report;
  auto unlock = [&conn] {
    (void)conn.Exec("SELECT pg_advisory_unlock($1::bigint)", {std::string(kLockKey)});
  };
  for (const auto& m : set) {
    auto recorded = conn.Exec(
        "SELECT checksum = md5($2) AS same FROM dcops_meta.schema_migrations WHERE version = $1",
        {m.version, m.sql});
    if (!recorded) { unlock(); return recorded.error(); }
    if (!recorded->empty()) {
      if (!recorded->Bool(0, "same").value()) {
        unlock();
        return MakeError("migrations.changed",
                         fmt::format("migration {}_{} changed after it was applied; migrations "
                                     "are forward-only, add a new one instead",
                                     m.version, m.name));
      }
      report.skipped.push_back(m.version);
      continue;
    }
    auto applied = InTransaction(conn, [&m](Connection& c) -> Status {
      if (auto st = c.ExecScript(m.sql); !st) {
        Error e = st.error();
        e.message = fmt::format("migration {}_{}: {}", m.version, m.name, e.message);
        return e;
      }
      auto rec = c.Exec(
          "INSERT INTO dcops_meta.schema_migrations(version, name, checksum) "
          "VALUES ($1, $2, md5($3))",
          {m.version, m.name, m.sql});
      if (!rec) return rec.error();
      return {};
    });
    if (!applied) { unlock(); return applied.error(); }
    report.applied.push_back(m.version);
  }
  unlock();
  return report;
}

}  // namespace dcops::db
