// create_job: the UI's one way to ask for work. Bad input gets an answer that names the
// field; nothing is written for it.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "control_plane.hpp"

namespace dcops::testing {
namespace {

struct Ui {
  TestDb tdb;
  db::Connection su = tdb.Connect();
  db::Connection conn = tdb.Connect();
  std::string user;
  explicit Ui(const std::string& role = "operator") {
    user = AddUser(su, role);
    BecomeUser(conn, user);
  }
  Error Rejected(const std::string& type, const std::string& scope, const std::string& params) {
    auto e = ExecError(conn, "SELECT create_job($1, $2::jsonb, $3::jsonb)", {type, scope, params});
    CHECK(Scalar(su, "SELECT count(*) FROM jobs") == "0");  // nothing written
    return e;
  }
};

const std::string kTwoBmcs = R"({"bmc_addresses":["127.0.1.1","127.0.1.2"]})";

TEST_CASE("create_job stores a valid job, audits it and notifies the dispatcher", "[create_job]") {
  Ui ui;
  auto listener = ui.tdb.Connect();
  REQUIRE(listener.Listen("dcops_work").ok());
  const std::string id = Scalar(ui.conn, "SELECT create_job('server.power', $1, $2)",
                                {kTwoBmcs, std::string(R"({"action":"PowerCycle"})")});
  auto job = Exec(ui.su, "SELECT status, site, created_by, created_via, traceparent FROM jobs "
                         "WHERE id = $1", {id});
  REQUIRE(job.size() == 1);
  CHECK(job.Str(0, "status") == "pending");
  CHECK(job.Str(0, "site") == "default");
  CHECK(job.Str(0, "created_by") == ui.user);
  CHECK(job.Str(0, "created_via") == "ui");
  const std::string tp = job.Str(0, "traceparent");
  CHECK(tp.size() == 55);
  CHECK(tp.rfind("00-", 0) == 0);
  CHECK(Scalar(ui.su, "SELECT count(*) FROM audit_log WHERE action = 'job.create' AND "
                      "object_id = $1 AND actor = $2 AND actor_role = 'operator'",
               {id, ui.user}) == "1");
  auto note = listener.WaitForNotifications(std::chrono::milliseconds(10000));
  REQUIRE(note.ok());
  REQUIRE(note->size() == 1);
  CHECK((*note)[0].payload.find(id) != std::string::npos);
  CHECK((*note)[0].payload.find("job_created") != std::string::npos);
}

TEST_CASE("create_job keeps the caller's W3C traceparent", "[create_job]") {
  Ui ui;
  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  Exec(ui.conn, "SELECT set_config('request.headers', $1, false)",
       {fmt::format(R"({{"traceparent":"{}"}})", tp)});
  const std::string id = Scalar(ui.conn, "SELECT create_job('server.refresh', $1)", {kTwoBmcs});
  CHECK(Scalar(ui.su, "SELECT traceparent FROM jobs WHERE id = $1", {id}) == tp);
}

TEST_CASE("An unknown job type is named in the error", "[create_job]") {
  Ui ui;
  auto e = ui.Rejected("server.explode", kTwoBmcs, "{}");
  CHECK(e.sqlstate == "22023");
  CHECK(e.message == "SQLSTATE 22023: job_type: unknown job type \"server.explode\"");
}

TEST_CASE("Malformed scopes are named in the error", "[create_job]") {
  Ui ui;
  const std::string on = R"({"action":"On"})";
  struct Case { std::string scope, expected; };
  const Case cases[] = {
      {"[1,2]", "target_scope: must be a JSON object"},
      {"{}", "target_scope: needs exactly one of: server_ids, bmc_addresses"},
      {R"({"bmc_addresses":["127.0.1.1"],"server_ids":[]})", "target_scope: needs exactly one of"},
      {R"({"cluster_id":"x"})", "target_scope.cluster_id: not a target for this job type"},
      {R"({"server_ids":["8b9c0a30-1c4e-4e55-9a43-5b1f9d3c6d01","nope"]})",
       "target_scope.server_ids[1]: \"nope\" is not valid here"},
      {R"({"server_ids":["8b9c0a30-1c4e-4e55-9a43-5b1f9d3c6d01"]})",
       "target_scope.server_ids: no server with id 8b9c0a30-1c4e-4e55-9a43-5b1f9d3c6d01"},
      {R"({"bmc_addresses":[]})", "target_scope.bmc_addresses: needs at least 1 item(s)"},
      {R"({"bmc_addresses":["bad host;rm -rf /"]})", "target_scope.bmc_addresses[0]:"},
      {R"({"bmc_addresses":"127.0.1.1"})", "target_scope.bmc_addresses: must be an array, got string"},
      {R"({"site":"Not A Site","bmc_addresses":["127.0.1.1"]})", "target_scope.site:"},
  };
  for (const auto& c : cases) {
    INFO(c.scope);
    auto e = ui.Rejected("server.power", c.scope, on);
    CHECK(e.sqlstate == "22023");
    CHECK(e.message.find(c.expected) != std::string::npos);
  }
  // Discovery is an admin's job (it tries credential sets on addresses not yet known).
  auto operator_scan = ui.Rejected("discovery.scan", R"({"ranges":["127.0.1.0/24"]})", "{}");
  CHECK(operator_scan.sqlstate == "42501");
  CHECK(operator_scan.message.find("discovery.scan: requires the admin role") != std::string::npos);
  Ui admin("admin");
  auto ranges = admin.Rejected("discovery.scan", R"({"ranges":["127.0.0.0/33"]})", "{}");
  CHECK(ranges.message.find("target_scope.ranges: 127.0.0.0/33 is not an IPv4 address") != std::string::npos);
  auto huge = admin.Rejected("discovery.scan", R"({"ranges":["127.0.0.0/8"]})", "{}");
  CHECK(huge.message.find("covers 16777214 addresses, at most 65536") != std::string::npos);
  auto backwards = admin.Rejected("discovery.scan", R"({"ranges":["127.0.1.9-127.0.1.1"]})", "{}");
  CHECK(backwards.message.find("ends before it starts") != std::string::npos);
  // And a good scan scope passes.
  CHECK_FALSE(Scalar(admin.conn, "SELECT create_job('discovery.scan', $1)",
                     {std::string(R"({"ranges":["127.0.1.0/24","127.0.2.1-127.0.2.50"]})")})
                  .empty());
}

TEST_CASE("A job for a site no dispatcher has led is refused, naming the sites there are", "[create_job][attack]") {
  Ui ui("admin");
  auto typo = ui.Rejected("server.refresh", R"({"all_servers":true,"site":"defualt"})", "{}");
  CHECK(typo.sqlstate == "22023");
  CHECK(typo.message == "SQLSTATE 22023: target_scope.site: no dispatcher serves site \"defualt\" (sites: default)");
  // Once a dispatcher leads it, the site takes jobs.
  Exec(ui.su, "SET ROLE dcops_dispatcher");
  Exec(ui.su, "SELECT dispatcher_v1_site_led('lab', 'dispatcher-lab-1')");
  Exec(ui.su, "RESET ROLE");
  CHECK_FALSE(Scalar(ui.conn, "SELECT create_job('server.refresh', $1)", {std::string(R"({"all_servers":true,"site":"lab"})")})
                  .empty());
}

TEST_CASE("Malformed parameters are named in the error", "[create_job]") {
  Ui ui;
  struct Case { std::string type, params, expected; };
  const Case cases[] = {
      {"server.power", "{}", "params.action: is required"},
      {"server.power", R"({"action":"Explode"})",
       "params.action: must be one of On, ForceOff, GracefulShutdown, GracefulRestart, "
       "ForceRestart, PowerCycle, got Explode"},
      {"server.power", R"({"action":"On","colour":"red"})", "params.colour: unknown parameter"},
      {"server.power", R"({"action":"On","graceful_timeout_seconds":"soon"})",
       "params.graceful_timeout_seconds: must be an integer"},
      {"server.power", R"({"action":"On","graceful_timeout_seconds":2})",
       "params.graceful_timeout_seconds: must be at least 10, got 2"},
      {"server.power", R"({"action":"On","force_after_timeout":"yes"})",
       "params.force_after_timeout: must be a boolean, got string"},
      {"server.power", "[]", "params: must be a JSON object"},
      {"server.virtual_media", R"({"action":"insert","image_url":"file:///etc/shadow"})",
       "params.image_url:"},
      {"server.logs", R"({"logs":["sel","kernel"]})", "params.logs[1]: must be one of sel, lifecycle"},
  };
  for (const auto& c : cases) {
    INFO(c.type << " " << c.params);
    auto e = ui.Rejected(c.type, kTwoBmcs, c.params);
    CHECK(e.sqlstate == "22023");
    CHECK(e.message.find(c.expected) != std::string::npos);
  }
}

TEST_CASE("Names that will reach a shell are checked against their grammar", "[create_job]") {
  Ui ui;
  const std::string host = Scalar(ui.su, "INSERT INTO zfs_hosts(name, address) VALUES "
                                         "('zfs1', '127.0.3.1') RETURNING id");
  const std::string scope = fmt::format(R"({{"zfs_host_id":"{}"}})", host);
  for (const char* dataset : {"tank/data; rm -rf /", "tank/$(reboot)", "-o evil", "tank//x",
                              "tank/data@snap"}) {
    INFO(dataset);
    auto e = ui.Rejected("zfs.prune", scope, fmt::format(R"({{"dataset":"{}","source_grid":"24x1h"}})", dataset));
    CHECK(e.message.find("params.dataset:") != std::string::npos);
  }
  CHECK_FALSE(Scalar(ui.conn, "SELECT create_job('zfs.prune', $1, $2)",
                     {scope, std::string(R"({"dataset":"tank/vm-disks/db_01","source_grid":"24x1h | 7x1d","keep_last":7})")})
                  .empty());
}

TEST_CASE("Oversized parameters are refused with their size", "[create_job]") {
  Ui ui;
  auto e = ExecError(ui.conn,
                     "SELECT create_job('server.bios', $1::jsonb, jsonb_build_object('attributes', "
                     "jsonb_build_object('Blob', repeat('x', 70000))))",
                     {kTwoBmcs});
  CHECK(e.sqlstate == "22023");
  CHECK(e.message.find("params: ") != std::string::npos);
  CHECK(e.message.find(" bytes, at most 65536 allowed") != std::string::npos);
  CHECK(Scalar(ui.su, "SELECT count(*) FROM jobs") == "0");
}

TEST_CASE("A repeated idempotency key returns the first job", "[create_job]") {
  Ui ui;
  const std::string sql = "SELECT create_job('server.power', $1, '{\"action\":\"On\"}', 'ui-req-42')";
  const std::string first = Scalar(ui.conn, sql, {kTwoBmcs});
  const std::string again = Scalar(ui.conn, sql, {kTwoBmcs});
  CHECK(first == again);
  CHECK(Scalar(ui.su, "SELECT count(*) FROM jobs") == "1");
  CHECK(Scalar(ui.su, "SELECT count(*) FROM audit_log WHERE action = 'job.create'") == "1");
}

TEST_CASE("An idempotency key is the caller's and its job type's, and a repeat must be the same request", "[create_job][attack]") {
  Ui ui;
  const std::string refresh = Scalar(ui.conn, "SELECT create_job('server.refresh', $1, '{}', 'shared-key')", {kTwoBmcs});
  // Another operator's PowerCycle with the same key is their own job, not the refresh.
  auto other = ui.tdb.Connect();
  BecomeUser(other, AddUser(ui.su, "operator"));
  const std::string cycle =
      Scalar(other, "SELECT create_job('server.power', $1, '{\"action\":\"PowerCycle\"}', 'shared-key')", {kTwoBmcs});
  CHECK(cycle != refresh);
  CHECK(Scalar(ui.su, "SELECT job_type FROM jobs WHERE id = $1", {cycle}) == "server.power");
  // The same caller and type, another request: refused, naming the job that holds the key.
  auto e = ExecError(other, "SELECT create_job('server.power', $1, '{\"action\":\"ForceOff\"}', 'shared-key')", {kTwoBmcs});
  CHECK(e.sqlstate == "22023");
  CHECK(e.message.find("idempotency_key: \"shared-key\" already names job " + cycle + " (server.power)") != std::string::npos);
  // The same key for another job type of the same caller is another key.
  const std::string logs = Scalar(other, "SELECT create_job('server.logs', $1, '{}', 'shared-key')", {kTwoBmcs});
  CHECK(logs != cycle);
  CHECK(Scalar(ui.su, "SELECT count(*) FROM jobs") == "3");
}

TEST_CASE("A job scheduled for later waits until it is due", "[create_job]") {
  Ui ui;
  const std::string id = Scalar(ui.conn,
                                "SELECT create_job('server.refresh', $1, '{}', NULL, "
                                "now() + interval '1 hour')",
                                {kTwoBmcs});
  CHECK(JobStatus(ui.su, id) == "scheduled");
  auto disp = ui.tdb.Connect();
  BecomeDispatcher(disp);
  CHECK(Exec(disp, "SELECT * FROM dispatcher_v1_jobs_to_plan('default')").empty());
  Exec(ui.su, "UPDATE jobs SET schedule_at = now() - interval '1 second' WHERE id = $1", {id});
  auto due = Exec(disp, "SELECT job_id FROM dispatcher_v1_jobs_to_plan('default')");
  REQUIRE(due.size() == 1);
  CHECK(due.Str(0, "job_id") == id);
  CHECK(JobStatus(ui.su, id) == "pending");
}

TEST_CASE("Priorities outside the allowed range are refused", "[create_job]") {
  Ui ui;
  auto e = ExecError(ui.conn, "SELECT create_job('server.refresh', $1, '{}', NULL, NULL, 1000)",
                     {kTwoBmcs});
  CHECK(e.message.find("priority: must be between -100 and 100, got 1000") != std::string::npos);
}

}  // namespace
}  // namespace dcops::testing
