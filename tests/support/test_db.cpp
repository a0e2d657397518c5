#include "test_db.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <random>

#include "dcops/common/config.hpp"

namespace dcops::testing {
namespace {

std::string WithDbname(const std::string& admin_dsn, const std::string& db) {
  std::string dsn = admin_dsn;
  const auto pos = dsn.find("dbname=postgres");
  REQUIRE(pos != std::string::npos);
  dsn.replace(pos, 15, "dbname=" + db);
  return dsn;
}

db::Connection Open(const std::string& dsn) {
  db::DbOptions options;
  options.dsn = dsn;
  options.application_name = "dcops-test";
  auto conn = db::Connection::Open(options);
  if (!conn) FAIL("cannot connect to the test database: " << conn.error().message);
  return std::move(*conn);
}

}  // namespace

const PgInfo& Pg() {
  static const PgInfo info = [] {
    const char* path = std::getenv("DCOPS_TEST_PG_INFO");
    if (path == nullptr) FAIL("DCOPS_TEST_PG_INFO is not set: run this test through ctest");
    auto text = ReadWholeFile(path);
    if (!text) FAIL("no PostgreSQL fixture: " << text.error().message);
    auto env = ParseEnvFile(*text, path);
    REQUIRE(env.ok());
    PgInfo pg{(*env)["ADMIN_DSN"], (*env)["PGHOST"], (*env)["PGPORT"], (*env)["TCP_HOST"]};
    REQUIRE_FALSE(pg.admin_dsn.empty());
    return pg;
  }();
  return info;
}

TestDb::TestDb(bool migrated) {
  static std::atomic<int> counter{0};
  std::random_device rd;
  name_ = fmt::format("t_{}_{}_{:x}", ::getpid(), counter++, rd() & 0xffffff);
  dsn_ = WithDbname(Pg().admin_dsn, name_);
  auto admin = Open(Pg().admin_dsn);
  // Identifiers cannot be parameters; the name is generated above from digits and hex.
  Exec(admin, migrated ? fmt::format("CREATE DATABASE {} TEMPLATE dcops_template", name_)
                       : fmt::format("CREATE DATABASE {}", name_));
}

TestDb::~TestDb() {
  db::DbOptions options;
  options.dsn = Pg().admin_dsn;
  if (auto admin = db::Connection::Open(options)) {
    (void)admin->Exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_));
  }
}

db::Connection TestDb::Connect() const { return Open(dsn_); }

db::Rows Exec(db::Connection& conn, std::string_view sql, const db::Params& params) {
  auto rows = conn.Exec(sql, params);
  if (!rows) FAIL("statement failed: " << rows.error().message << "\n  in: " << sql);
  return std::move(*rows);
}

Error ExecError(db::Connection& conn, std::string_view sql, const db::Params& params) {
  auto rows = conn.Exec(sql, params);
  if (rows) FAIL("statement should have failed: " << sql);
  return rows.error();
}

std::string Scalar(db::Connection& conn, std::string_view sql, const db::Params& params) {
  auto rows = Exec(conn, sql, params);
  REQUIRE(rows.size() >= 1);
  REQUIRE(rows.columns() >= 1);
  return rows.TextAt(0, 0).value_or(std::string());
}

void BecomeUser(db::Connection& conn, const std::string& user_id) {
  Exec(conn, "RESET ROLE");
  Exec(conn, "SELECT set_config('request.jwt.claims', $1, false)",
       {fmt::format(R"({{"sub":"{}","role":"authenticated"}})", user_id)});
  Exec(conn, "SET ROLE authenticated");
}

void BecomeDispatcher(db::Connection& conn) {
  Exec(conn, "RESET ROLE");
  Exec(conn, "SELECT set_config('request.jwt.claims', '', false)");
  Exec(conn, "SET ROLE dcops_dispatcher");
}

void BecomeAnon(db::Connection& conn) {
  Exec(conn, "RESET ROLE");
  Exec(conn, "SELECT set_config('request.jwt.claims', '{\"role\":\"anon\"}', false)");
  Exec(conn, "SET ROLE anon");
}

void BecomeSuperuser(db::Connection& conn) {
  Exec(conn, "RESET ROLE");
  Exec(conn, "SELECT set_config('request.jwt.claims', '', false)");
}

std::string AddUser(db::Connection& superuser, const std::string& role) {
  return Scalar(superuser,
                "INSERT INTO user_roles(user_id, role) VALUES (gen_random_uuid(), $1) "
                "RETURNING user_id",
                {role});
}

}  // namespace dcops::testing
