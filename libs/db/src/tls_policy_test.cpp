#include "dcops/db/tls_policy.hpp"

#include <catch2/catch.hpp>
#include <map>

namespace dcops::db {
namespace {

EnvironmentLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    if (auto it = vars.find(name); it != vars.end()) return it->second;
    return std::nullopt;
  };
}

Status Check(const std::string& dsn, bool allow = false, std::map<std::string, std::string> env = {}) {
  return RequireVerifiedTls(dsn, "DCOPS_DATABASE_URL", allow, Env(std::move(env)));
}

TEST_CASE("A database on another machine must be verified: verify-full passes, anything weaker is refused", "[db][tls]") {
  CHECK(Check("postgresql://u:pw@db.example.com:5432/dcops?sslmode=verify-full&sslrootcert=/run/ca.pem").ok());
  CHECK(Check("host=10.0.0.5 dbname=dcops sslmode=verify-full").ok());
  for (const char* weak : {"require", "verify-ca", "prefer", "disable", "allow"}) {
    auto st = Check(std::string("postgresql://u:s3cret@db.example.com/dcops?sslmode=") + weak);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == "db.tls_unverified");
    CHECK(st.error().message.find(std::string("sslmode=") + weak) != std::string::npos);
    CHECK(st.error().message.find("db.example.com") != std::string::npos);
    CHECK(st.error().message.find("s3cret") == std::string::npos);
  }
  // No sslmode at all is libpq's "prefer": TLS if offered, unverified.
  auto st = Check("postgresql://u@db.example.com/dcops");
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("sslmode=prefer") != std::string::npos);
  CHECK(st.error().message.find("DCOPS_DATABASE_URL_ALLOW_UNVERIFIED=true") != std::string::npos);
}

TEST_CASE("Sockets and loopback are this machine: no TLS needed", "[db][tls]") {
  CHECK(Check("host=/tmp/pg dbname=dcops").ok());
  CHECK(Check("dbname=dcops").ok());  // the default socket
  CHECK(Check("postgresql://u@127.0.0.1:5432/dcops?sslmode=disable").ok());
  CHECK(Check("postgresql://u@localhost/dcops").ok());
  CHECK(Check("host=::1 dbname=dcops").ok());
  // Every host of a list must be local; a name that merely starts like one is not.
  CHECK_FALSE(Check("host=127.0.0.1,db.example.com dbname=dcops").ok());
  CHECK_FALSE(Check("host=127.example.com dbname=dcops").ok());
  // hostaddr is where libpq goes, whatever host says.
  CHECK_FALSE(Check("host=localhost hostaddr=10.1.2.3 dbname=dcops").ok());
}

TEST_CASE("libpq's environment fills what the string leaves out", "[db][tls]") {
  CHECK_FALSE(Check("dbname=dcops", false, {{"PGHOST", "db.example.com"}}).ok());
  CHECK(Check("dbname=dcops", false, {{"PGHOST", "db.example.com"}, {"PGSSLMODE", "verify-full"}}).ok());
  // The string wins over the environment.
  CHECK_FALSE(Check("dbname=dcops sslmode=require", false, {{"PGHOST", "db.example.com"}, {"PGSSLMODE", "verify-full"}}).ok());
}

TEST_CASE("An operator's opt-out admits an unverified database; an unparsable string is an error either way", "[db][tls]") {
  CHECK(Check("postgresql://u@postgres:5432/dcops?sslmode=disable", true).ok());
  auto bad = Check("host=db.example.com dbname='unterminated", true);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "db.bad_dsn");
}

}  // namespace
}  // namespace dcops::db
