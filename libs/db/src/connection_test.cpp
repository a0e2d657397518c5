// libs/db against the private PostgreSQL of this test run.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "dcops/common/clock.hpp"
#include "dcops/db/connection.hpp"
#include "dcops/db/reconnector.hpp"
#include "test_db.hpp"

namespace dcops::db {
namespace {

using dcops::testing::Exec;
using dcops::testing::Pg;
using dcops::testing::Scalar;
using dcops::testing::TestDb;
using std::chrono::milliseconds;

// A loopback TCP socket bound (and optionally listening) on a free port, closed on exit.
class LoopbackSocket {
 public:
  explicit LoopbackSocket(bool listen_too) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    if (listen_too) REQUIRE(::listen(fd_, 16) == 0);
  }
  ~LoopbackSocket() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

DbOptions OptionsFor(std::string dsn) {
  DbOptions o;
  o.dsn = std::move(dsn);
  o.connect_timeout = milliseconds(2000);
  return o;
}

TEST_CASE("Parameters travel apart from the SQL text", "[db]") {
  TestDb tdb;
  auto conn = tdb.Connect();
  const std::string hostile = "x'); DROP TABLE jobs; --";
  auto rows = Exec(conn, "SELECT $1::text AS s, $2::int + 1 AS n, $3::text IS NULL AS isnull",
                   {hostile, std::string("41"), std::nullopt});
  REQUIRE(rows.size() == 1);
  CHECK(rows.Str(0, "s") == hostile);
  CHECK(*rows.Int(0, "n") == 42);
  CHECK(*rows.Bool(0, "isnull"));
  CHECK(Scalar(conn, "SELECT count(*) FROM pg_tables WHERE tablename = 'jobs'") == "1");
  auto missing = rows.Int(0, "nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("nope") != std::string::npos);
}

TEST_CASE("SQL errors keep the server's SQLSTATE and message", "[db]") {
  TestDb tdb;
  auto conn = tdb.Connect();
  auto e = testing::ExecError(conn, "SELECT 1 / $1::int", {std::string("0")});
  CHECK(e.code == "db.sql");
  CHECK(e.sqlstate == "22012");
  CHECK(e.message == "SQLSTATE 22012: division by zero");
  CHECK_FALSE(e.retryable);
  auto missing = testing::ExecError(conn, "SELECT * FROM no_such_table");
  CHECK(missing.sqlstate == "42P01");
  // The connection is still usable after an error.
  CHECK(Scalar(conn, "SELECT 7") == "7");
}

TEST_CASE("A statement past its timeout fails as db.timeout and may be retried", "[db]") {
  TestDb tdb;
  auto options = OptionsFor(tdb.dsn());
  options.statement_timeout = milliseconds(200);
  auto conn = Connection::Open(options);
  REQUIRE(conn.ok());
  auto slow = conn->Exec("SELECT pg_sleep(30)");
  REQUIRE_FALSE(slow.ok());
  CHECK(slow.error().code == "db.timeout");
  CHECK(slow.error().sqlstate == "57014");
  CHECK(slow.error().retryable);
}

TEST_CASE("The server lets go of a vanished client's session within seconds, not hours", "[db]") {
  TestDb tdb;
  auto admin = tdb.Connect();
  Exec(admin,
       "DO $$ BEGIN CREATE ROLE dcops_test_keepalive LOGIN PASSWORD 'keepalive-pass-1'; "
       "EXCEPTION WHEN duplicate_object THEN NULL; END $$");
  // Over TCP, where they apply (a Unix socket has no keepalives).
  auto conn = Connection::Open(OptionsFor(fmt::format("host={} port={} user=dcops_test_keepalive dbname={} "
                                                      "password=keepalive-pass-1",
                                                      Pg().tcp_host, Pg().port, tdb.name())));
  REQUIRE(conn.ok());
  REQUIRE(Scalar(*conn, "SELECT inet_server_addr() IS NOT NULL") == "t");
  // Where the session (and a leader lock it holds) would otherwise outlive a dead network by
  // the OS default of two hours.
  CHECK(Scalar(*conn, "SELECT current_setting('tcp_keepalives_idle') || ' ' || "
                      "current_setting('tcp_keepalives_interval') || ' ' || current_setting('tcp_keepalives_count')") ==
        "10 5 3");
  CHECK(Scalar(*conn, "SELECT current_setting('tcp_user_timeout')") == "25000");  // ms
  CHECK(Scalar(*conn, "SELECT current_setting('client_connection_check_interval')") == "5s");
}

TEST_CASE("Nothing listening is db.refused", "[db]") {
  LoopbackSocket closed(/*listen_too=*/false);  // bound, not listening: connects are refused
  auto conn = Connection::Open(
      OptionsFor(fmt::format("host=127.0.0.1 port={} user=x dbname=y", closed.port())));
  REQUIRE_FALSE(conn.ok());
  CHECK(conn.error().code == "db.refused");
  CHECK(conn.error().retryable);
  CHECK(conn.error().message.find(fmt::format("127.0.0.1:{}", closed.port())) != std::string::npos);
}

TEST_CASE("A server that never answers is db.timeout", "[db]") {
  LoopbackSocket silent(/*listen_too=*/true);  // the kernel accepts; nobody ever speaks
  auto conn = Connection::Open(
      OptionsFor(fmt::format("host=127.0.0.1 port={} user=x dbname=y", silent.port())));
  REQUIRE_FALSE(conn.ok());
  CHECK(conn.error().code == "db.timeout");
}

TEST_CASE("A wrong password is db.auth and the password is not echoed", "[db][secrets]") {
  TestDb tdb;
  auto admin = tdb.Connect();
  Exec(admin,
       "DO $$ BEGIN CREATE ROLE dcops_test_login LOGIN PASSWORD 'right-pass-123'; "
       "EXCEPTION WHEN duplicate_object THEN NULL; END $$");
  const std::string tcp = fmt::format("host={} port={} user=dcops_test_login dbname={}",
                                      Pg().tcp_host, Pg().port, tdb.name());
  auto bad = Connection::Open(OptionsFor(tcp + " password=wrong-pass-987"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "db.auth");
  CHECK_FALSE(bad.error().retryable);
  CHECK(bad.error().message.find("wrong-pass-987") == std::string::npos);
  auto good = Connection::Open(OptionsFor(tcp + " password=right-pass-123"));
  REQUIRE(good.ok());
  CHECK(Scalar(*good, "SELECT current_user") == "dcops_test_login");
}

TEST_CASE("A missing database is db.no_database", "[db]") {
  auto conn = Connection::Open(OptionsFor(fmt::format("host={} port={} user=postgres dbname=nope_db",
                                                      Pg().host, Pg().port)));
  REQUIRE_FALSE(conn.ok());
  CHECK(conn.error().code == "db.no_database");
}

TEST_CASE("LISTEN receives NOTIFY and a quiet wait ends at its timeout", "[db]") {
  TestDb tdb;
  auto listener = tdb.Connect();
  auto sender = tdb.Connect();
  REQUIRE(listener.Listen("dcops_test").ok());
  auto none = listener.WaitForNotifications(milliseconds(50));
  REQUIRE(none.ok());
  CHECK(none->empty());
  Exec(sender, "SELECT pg_notify('dcops_test', $1)", {std::string("hello")});
  auto got = listener.WaitForNotifications(milliseconds(10000));
  REQUIRE(got.ok());
  REQUIRE(got->size() == 1);
  CHECK((*got)[0].channel == "dcops_test");
  CHECK((*got)[0].payload == "hello");
  CHECK((*got)[0].sender_pid == sender.BackendPid());
  auto bad = listener.Listen("x; DROP TABLE jobs");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "db.invalid");
}

TEST_CASE("InTransaction commits on success and rolls back on error", "[db]") {
  TestDb tdb;
  auto conn = tdb.Connect();
  Exec(conn, "CREATE TABLE t (v int)");
  auto ok = InTransaction(conn, [](Connection& c) -> Status {
    auto r = c.Exec("INSERT INTO t VALUES (1)");
    if (!r) return r.error();
    return {};
  });
  REQUIRE(ok.ok());
  auto failed = InTransaction(conn, [](Connection& c) -> Status {
    auto r = c.Exec("INSERT INTO t VALUES (2)");
    if (!r) return r.error();
    return MakeError("test.abort", "changed my mind");
  });
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == "test.abort");
  CHECK(Scalar(conn, "SELECT string_agg(v::text, ',') FROM t") == "1");
}

TEST_CASE("A lost session is replaced and its LISTENs restored", "[db]") {
  TestDb tdb;
  auto admin = tdb.Connect();
  Reconnector reconnector(OptionsFor(tdb.dsn()), SystemClock::Instance());
  auto first = reconnector.Get(milliseconds(10000));
  REQUIRE(first.ok());
  REQUIRE((*first)->Listen("dcops_work").ok());
  const int old_pid = (*first)->BackendPid();
  Exec(admin, "SELECT pg_terminate_backend($1::int)", {std::to_string(old_pid)});
  auto lost = (*first)->Exec("SELECT 1");
  REQUIRE_FALSE(lost.ok());
  CHECK(lost.error().code == "db.connection_lost");
  CHECK(lost.error().retryable);
  reconnector.Reset();
  auto second = reconnector.Get(milliseconds(10000));
  REQUIRE(second.ok());
  CHECK((*second)->BackendPid() != old_pid);
  CHECK(reconnector.reconnects() == 1);
  Exec(admin, "SELECT pg_notify('dcops_work', 'after-reconnect')");
  auto got = (*second)->WaitForNotifications(milliseconds(10000));
  REQUIRE(got.ok());
  REQUIRE(got->size() == 1);
  CHECK((*got)[0].payload == "after-reconnect");
}

TEST_CASE("Reconnecting backs off and gives up at its deadline", "[db]") {
  LoopbackSocket closed(false);
  auto options = OptionsFor(fmt::format("host=127.0.0.1 port={} user=x dbname=y", closed.port()));
  options.reconnect = BackoffPolicy{milliseconds(100), milliseconds(800), 2.0, 0.0, 0};
  FakeClock clock;
  Reconnector reconnector(options, clock);
  auto r = reconnector.Get(milliseconds(3000));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "db.refused");
  CHECK(r.error().message.find("gave up reconnecting") != std::string::npos);
  // 100 + 200 + 400 + 800 + 800 = 2300 ms of waiting; the next 800 would pass 3000.
  CHECK(clock.slept() == milliseconds(2300));
  CHECK(reconnector.failed_attempts() == 6);
}

TEST_CASE("Reconnecting does not retry what cannot fix itself", "[db]") {
  FakeClock clock;
  Reconnector reconnector(OptionsFor(fmt::format("host={} port={} user=postgres dbname=nope_db",
                                                 Pg().host, Pg().port)),
                          clock);
  auto r = reconnector.Get(milliseconds(60000));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "db.no_database");
  CHECK(reconnector.failed_attempts() == 1);
  CHECK(clock.slept() == milliseconds(0));
}

}  // namespace
}  // namespace dcops::db
