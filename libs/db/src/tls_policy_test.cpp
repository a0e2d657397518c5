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

Status Check(const std::string& dsn, const std::string& allow = "", std::map<std::string, std::string> env = {}) {
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
  CHECK(st.error().message.find("DCOPS_DATABASE_URL_ALLOW_UNVERIFIED=db.example.com") != std::string::npos);
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
  // hostaddr is where libpq goes, whatever host says, entry by entry.
  CHECK_FALSE(Check("host=localhost hostaddr=10.1.2.3 dbname=dcops").ok());
  CHECK(Check("host=db.example.com hostaddr=127.0.0.1 dbname=dcops").ok());
  auto st = Check("host=db.example.com,x hostaddr=,127.0.0.1 dbname=dcops sslmode=disable");
  REQUIRE_FALSE(st.ok());  // the first entry has no hostaddr: it goes to db.example.com
  CHECK(st.error().message.find("db.example.com") != std::string::npos);
  // IPv6 loopback in a URL.
  CHECK(Check("postgresql://u@[::1]:5432/dcops").ok());
  // A service file hides where it goes.
  CHECK_FALSE(Check("service=dcops").ok());
  CHECK_FALSE(Check("dbname=dcops", "", {{"PGSERVICE", "dcops"}}).ok());
}

TEST_CASE("libpq's environment fills what the string leaves out", "[db][tls]") {
  CHECK_FALSE(Check("dbname=dcops", "", {{"PGHOST", "db.example.com"}}).ok());
  CHECK(Check("dbname=dcops", "", {{"PGHOST", "db.example.com"}, {"PGSSLMODE", "verify-full"}}).ok());
  // The string wins over the environment.
  CHECK_FALSE(Check("dbname=dcops sslmode=require", "", {{"PGHOST", "db.example.com"}, {"PGSSLMODE", "verify-full"}}).ok());
}

TEST_CASE("An operator's opt-out admits the hosts it names and no others, and an unparsable string is an error either way",
          "[db][tls]") {
  CHECK(Check("postgresql://u@postgres:5432/dcops?sslmode=disable", "postgres").ok());
  CHECK(Check("host=postgres,db2 dbname=dcops", " postgres , db2 ").ok());
  CHECK_FALSE(Check("postgresql://u@db.example.com/dcops?sslmode=disable", "postgres").ok());
  auto bad = Check("host=db.example.com password='s3cret dbname=x", "db.example.com");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "db.bad_dsn");
  CHECK(bad.error().message.find("s3cret") == std::string::npos);  // libpq's words may quote it
  auto bad_url = Check("postgresql://u:s3cret%zz@db.example.com/dcops");
  REQUIRE_FALSE(bad_url.ok());
  CHECK(bad_url.error().message.find("s3cret") == std::string::npos);
}

TEST_CASE("The password a connection string carries is found for redaction", "[db][tls]") {
  CHECK(DsnPassword("postgresql://u:p%40ss@db.example.com/dcops") == std::optional<std::string>("p@ss"));
  CHECK(DsnPassword("host=h password=abc dbname=d") == std::optional<std::string>("abc"));
  CHECK_FALSE(DsnPassword("host=h dbname=d").has_value());
  CHECK_FALSE(DsnPassword("host=h password='unterminated").has_value());
}

}  // namespace
}  // namespace dcops::db
