#include <catch2/catch.hpp>

#include "dcops/db/connection.hpp"

namespace dcops::db {
namespace {

TEST_CASE("Connection failures map to stable codes", "[db]") {
  auto refused = ClassifyConnectFailure(
      "connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n\tIs the server "
      "running on that host and accepting TCP/IP connections?\n",
      "127.0.0.1:1");
  CHECK(refused.code == "db.refused");
  CHECK(refused.retryable);
  CHECK(refused.message ==
        "connecting to 127.0.0.1:1: connection to server at \"127.0.0.1\", port 1 failed: "
        "Connection refused");

  auto auth = ClassifyConnectFailure(
      "connection to server at \"127.0.0.1\", port 5 failed: FATAL:  password authentication "
      "failed for user \"x\"\n",
      "127.0.0.1:5");
  CHECK(auth.code == "db.auth");
  CHECK_FALSE(auth.retryable);

  CHECK(ClassifyConnectFailure("FATAL:  database \"nope\" does not exist", "h:1").code ==
        "db.no_database");
  CHECK(ClassifyConnectFailure("FATAL:  role \"nobody\" does not exist", "h:1").code == "db.auth");
  CHECK(ClassifyConnectFailure("timeout expired\n", "h:1").code == "db.timeout");
  CHECK(ClassifyConnectFailure("something odd", "h:1").code == "db.connect");
}

TEST_CASE("SQL errors keep their SQLSTATE and a retry verdict", "[db]") {
  auto timeout = ClassifySqlError("57014", "ERROR:  canceling statement due to statement timeout\n");
  CHECK(timeout.code == "db.timeout");
  CHECK(timeout.retryable);
  CHECK(timeout.sqlstate == "57014");
  CHECK(ClassifySqlError("40P01", "deadlock detected").code == "db.conflict");
  CHECK(ClassifySqlError("57P01", "terminating connection").code == "db.connection_lost");
  CHECK(ClassifySqlError("42501", "permission denied").code == "db.permission");
  auto bad = ClassifySqlError("22023", "ERROR:  job_type: unknown job type \"x\"");
  CHECK(bad.code == "db.sql");
  CHECK_FALSE(bad.retryable);
  CHECK(bad.message == "SQLSTATE 22023: ERROR:  job_type: unknown job type \"x\"");
}

}  // namespace
}  // namespace dcops::db
