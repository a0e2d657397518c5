#pragma once
// Test access to the private PostgreSQL of this test run (the `postgres` CTest fixture).
// Every TestDb is a fresh database cloned from the migrated template, so tests never share
// rows. Helpers REQUIRE success, so a failing statement fails the test at its line.

#include <string>
#include <string_view>

#include "dcops/db/connection.hpp"

namespace dcops::testing {

struct PgInfo {
  std::string admin_dsn;  // superuser over the private socket (trust)
  std::string host;       // socket directory
  std::string port;
  std::string tcp_host;   // 127.0.0.1, password authentication
};
const PgInfo& Pg();

class TestDb {
 public:
  // A fresh database: a clone of the migrated template, or empty when `migrated` is false.
  explicit TestDb(bool migrated = true);
  ~TestDb();
  TestDb(const TestDb&) = delete;
  TestDb& operator=(const TestDb&) = delete;

  const std::string& name() const { return name_; }
  const std::string& dsn() const { return dsn_; }
  // A superuser connection to this database.
  db::Connection Connect() const;

 private:
  std::string name_;
  std::string dsn_;
};

db::Rows Exec(db::Connection& conn, std::string_view sql, const db::Params& params = {});
// The error of a statement that must fail.
Error ExecError(db::Connection& conn, std::string_view sql, const db::Params& params = {});
// First column of the first row.
std::string Scalar(db::Connection& conn, std::string_view sql, const db::Params& params = {});

// Act as a UI user (role authenticated with JWT claims for `user_id`), as the dispatcher's
// role, as anon, or as the superuser again.
void BecomeUser(db::Connection& conn, const std::string& user_id);
void BecomeDispatcher(db::Connection& conn);
void BecomeAnon(db::Connection& conn);
void BecomeSuperuser(db::Connection& conn);
// Adds a UI user with `role` (viewer, operator, admin) and returns its id.
std::string AddUser(db::Connection& superuser, const std::string& role);

}  // namespace dcops::testing
