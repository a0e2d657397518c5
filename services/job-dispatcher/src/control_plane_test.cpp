// ControlPlane against the real migrations on the private PostgreSQL, as the dispatcher role.
#include "control_plane.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "dcops/common/clock.hpp"
#include "dcops/tls/secret_box.hpp"
#include "plan_pending.hpp"
#include "step_results.hpp"
#include "test_db.hpp"

namespace dcops::dispatcher {
namespace {

using testing::Exec;
using testing::Scalar;

struct Site {
  testing::TestDb tdb;
  db::Connection su = tdb.Connect();
  db::Connection conn = tdb.Connect();
  ControlPlane cp{conn};
  Site() { testing::BecomeDispatcher(conn); }
};

TEST_CASE("A job goes from plan to completion through the typed API", "[control_plane]") {
  Site site;
  auto box = tls::SecretBox::FromKeyBytes(tls::SecretBox::NewHexKey());
  CredentialSet cred{"", "idrac-default", "idrac", "root", *box->Seal("calvin", "idrac-default"),
                     box->KeyId()};
  auto cred_id = site.cp.PutCredentialSet(cred, "test");
  REQUIRE(cred_id.ok());
  Exec(site.su, "INSERT INTO servers(bmc_address, service_tag, tls_verify) VALUES ('127.0.1.1:8443', 'AAA1111', false)");
  const std::string job = Scalar(site.su,
      "SELECT dispatcher_v1_create_job('default', 'server.power', "
      "'{\"bmc_addresses\":[\"127.0.1.1:8443\",\"127.0.1.2:8443\"]}', '{\"action\":\"On\"}')");

  REQUIRE(*site.cp.ApiVersion() == 1);
  auto todo = site.cp.JobsToPlan("default", 10);
  REQUIRE(todo.ok());
  REQUIRE(todo->size() == 1);
  CHECK((*todo)[0].job_type == "server.power");
  DbServerDirectory dir(site.cp, site.conn);
  auto planners = MakePlanners();
  auto steps = (*planners.Find("server.power"))((*todo)[0], dir);
  REQUIRE(steps.ok());
  REQUIRE(steps->size() == 2);
  CHECK(steps->at(1).params_json.find(*cred_id) != std::string::npos);  // the default set
  CHECK(steps->at(0).params_json.find(R"("tls_verify":false)") != std::string::npos);
  CHECK(*site.cp.PlanJob(job, *steps) == 2);

  ClaimRequest req{"default", "agent-1", {"server.power"}, 10, std::chrono::seconds(30), {}, 1, {}};
  auto claimed = site.cp.ClaimSteps(req);
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 2);
  const auto& s = claimed->at(0);
  CHECK(s.mutating);
  CHECK(s.attempt == 1);
  CHECK(s.traceparent.size() == 55);
  CHECK(*site.cp.StartStep(s.task_id, s.lease_id) == "ok");
  CHECK(*site.cp.ReportProgress(s.task_id, s.lease_id, 40, "waiting for On"));
  // Many reports in one statement: the latest per step wins; a stale lease changes nothing.
  CHECK(*site.cp.ReportProgressMany({{s.task_id, s.lease_id, 50, "half way"}, {s.task_id, s.lease_id, 60, "further"}}) == 1);
  CHECK(Scalar(site.su, "SELECT progress || ' ' || progress_message FROM job_tasks WHERE id = $1", {s.task_id}) ==
        "60 further");
  CHECK(*site.cp.ReportProgressMany({{s.task_id, "00000000-0000-0000-0000-000000000000", 99, "stale"}}) == 0);
  CHECK(*site.cp.SaveCheckpoint(s.task_id, s.lease_id, R"({"phase":"sent"})"));
  CHECK(*site.cp.AppendEvents({{job, s.task_id, "info", "sending ResetType On", "", "agent-1", ""}}) == 1);
  auto leases = site.cp.ExtendLeases({s.lease_id, claimed->at(1).lease_id}, std::chrono::seconds(30));
  REQUIRE(leases.ok());
  CHECK(leases->size() == 2);
  CHECK(leases->at(0).valid);
  auto done = site.cp.CompleteSteps({{s.task_id, s.lease_id, R"({"final_state":"On"})"},
                                     {claimed->at(1).task_id, "00000000-0000-0000-0000-000000000000", ""}});
  REQUIRE(done.ok());
  CHECK(*done == std::vector<std::string>{"ok", "stale_lease"});
  CHECK(*site.cp.FailStep(claimed->at(1).task_id, claimed->at(1).lease_id,
                          MakeError("redfish.auth", "denied", false)) == "failed");
  CHECK(Scalar(site.su, "SELECT status FROM jobs WHERE id = $1", {job}) == "failed");

}

TEST_CASE("More events than append_events takes in one call are all written, in order", "[control_plane]") {
  Site site;
  const std::string job =
      Scalar(site.su, "SELECT dispatcher_v1_create_job('default', 'server.refresh', '{\"all_servers\":true}', '{}')");
  const std::size_t n = 2 * ControlPlane::kEventsPerCall + 1;  // three calls, the SQL's 10,000 cap crossed
  std::vector<EventRecord> events;
  for (std::size_t i = 0; i < n; ++i) events.push_back({job, "", "info", fmt::format("event {}", i), "", "dispatcher", ""});
  const std::string before = Scalar(site.su, "SELECT count(*) FROM job_events WHERE job_id = $1", {job});
  auto written = site.cp.AppendEvents(events);
  REQUIRE(written.ok());
  CHECK(*written == static_cast<int>(n));
  CHECK(std::stol(Scalar(site.su, "SELECT count(*) FROM job_events WHERE job_id = $1", {job})) -
            std::stol(before) == static_cast<long>(n));
  // In order: the k-th of ours written (by id) is "event k".
  CHECK(Scalar(site.su, "SELECT count(*) FROM (SELECT substr(message, 7)::int AS k, row_number() OVER (ORDER BY id) - 1 AS r "
                        "FROM job_events WHERE job_id = $1 AND message LIKE 'event %') e WHERE k <> r",
               {job}) == "0");
}

TEST_CASE("Retention deletes finished jobs past it, in batches, and keeps the rest", "[control_plane]") {
  Site site;
  for (int i = 0; i < 3; ++i) {
    Exec(site.su, "SELECT dispatcher_v1_create_job('default', 'server.refresh', '{\"all_servers\":true}', '{}')");
  }
  Exec(site.su, "UPDATE jobs SET status = 'succeeded', finished_at = now() - interval '40 days'");
  Exec(site.su, "UPDATE jobs SET finished_at = now() - interval '1 day' WHERE id = (SELECT min(id::text)::uuid FROM jobs)");
  CHECK(*site.cp.Prune(std::chrono::hours(24 * 30), 1) == 1);
  CHECK(*site.cp.Prune(std::chrono::hours(24 * 30), 1000) == 1);
  CHECK(*site.cp.Prune(std::chrono::hours(24 * 30), 1000) == 0);
  CHECK(Scalar(site.su, "SELECT count(*) FROM jobs") == "1");
  CHECK(site.cp.Prune(std::chrono::minutes(5), 1000).error().message.find("retention: must be at least 1 hour") !=
        std::string::npos);
}

TEST_CASE("Only one dispatcher per site holds the leader lock", "[control_plane]") {
  Site site;
  auto other = site.tdb.Connect();
  ControlPlane second(other);
  CHECK(*site.cp.TryLeaderLock("default"));
  CHECK_FALSE(*second.TryLeaderLock("default"));
  CHECK(*second.TryLeaderLock("lab2"));  // another site has its own leader
}

TEST_CASE("Planning errors fail the job with the reason", "[control_plane]") {
  Site site;
  const std::string job = Scalar(site.su,
      "SELECT dispatcher_v1_create_job('default', 'server.refresh', '{\"all_servers\":true}')");
  auto todo = site.cp.JobsToPlan("default", 10);
  DbServerDirectory dir(site.cp, site.conn);
  auto steps = (*MakePlanners().Find("server.refresh"))(todo->at(0), dir);
  REQUIRE_FALSE(steps.ok());
  CHECK(*site.cp.FailJob(job, steps.error()));
  CHECK(Scalar(site.su, "SELECT error_code || ': ' || error_message FROM jobs") ==
        "plan.no_targets: the target scope names no server with a BMC address");
}

TEST_CASE("Text arrays quote what needs quoting", "[control_plane]") {
  CHECK(TextArray({}) == "{}");
  CHECK(TextArray({"a", "b c", "d\"e", "f\\g", "h,i"}) == R"({"a","b c","d\"e","f\\g","h,i"})");
}

TEST_CASE("A planning pass plans what it can and fails what no planner knows, with the reason", "[control_plane]") {
  Site site;
  const std::string power = Scalar(site.su,
      "SELECT dispatcher_v1_create_job('default', 'server.power', '{\"bmc_addresses\":[\"127.0.1.1:443\",\"127.0.1.2:443\"]}', "
      "'{\"action\":\"On\"}')");
  const std::string boot = Scalar(site.su,  // a type of the catalog the registry below lacks
      "SELECT dispatcher_v1_create_job('default', 'server.boot', '{\"bmc_addresses\":[\"127.0.1.1:443\"]}', "
      "'{\"mode\":\"once\",\"target\":\"Pxe\"}')");
  MemorySink sink;
  FakeClock clock;
  Logger log("test", sink, clock);
  DbServerDirectory dir(site.cp, site.conn);
  // A dispatcher older than the catalog: it knows server.power only.
  PlannerRegistry power_only;
  power_only.Add("server.power", *MakePlanners().Find("server.power"));
  CHECK(PlanPendingJobs(site.cp, site.conn, dir, power_only, "default", log) == 2);
  CHECK(Scalar(site.su, "SELECT status || ' ' || steps_total FROM jobs WHERE id = $1", {power}) == "running 2");
  CHECK(Scalar(site.su, "SELECT status || ': ' || error_message FROM jobs WHERE id = $1", {boot}) ==
        "failed: this dispatcher cannot plan job type server.boot");
  CHECK(PlanPendingJobs(site.cp, site.conn, dir, power_only, "default", log) == 0);  // nothing left
}

TEST_CASE("Planning does not wait for its WAL flush, and the statements after it do", "[control_plane]") {
  // A lost plan is planned again; a claim is not redone, so it must keep waiting for the flush
  // (which takes the plan's WAL with it). The setting lives as long as planning's transaction.
  Site site;
  const std::string power = Scalar(site.su,
      "SELECT dispatcher_v1_create_job('default', 'server.power', '{\"bmc_addresses\":[\"127.0.1.1:443\"]}', "
      "'{\"action\":\"On\"}')");
  MemorySink sink;
  FakeClock clock;
  Logger log("test", sink, clock);
  DbServerDirectory dir(site.cp, site.conn);
  CHECK(PlanPendingJobs(site.cp, site.conn, dir, MakePlanners(), "default", log) == 1);
  CHECK(Scalar(site.su, "SELECT status || ' ' || steps_total FROM jobs WHERE id = $1", {power}) == "running 1");
  CHECK(Scalar(site.conn, "SHOW synchronous_commit") == "on");
  // Inside a caller's transaction the setting holds to its end, and no further.
  REQUIRE(site.conn.Exec("BEGIN"));
  REQUIRE(site.cp.JobsToPlan("default", 10));
  CHECK(Scalar(site.conn, "SHOW synchronous_commit") == "off");
  REQUIRE(site.conn.Exec("COMMIT"));
  CHECK(Scalar(site.conn, "SHOW synchronous_commit") == "on");
  // A plan with no step ends its job, which is announced at commit: that commit waits.
  const std::string empty = Scalar(site.su,
      "SELECT dispatcher_v1_create_job('default', 'server.power', '{\"bmc_addresses\":[\"127.0.1.2:443\"]}', "
      "'{\"action\":\"On\"}')");
  REQUIRE(site.conn.Exec("BEGIN"));
  REQUIRE(site.cp.JobsToPlan("default", 10));
  REQUIRE(site.cp.PlanJobs({{empty, {}}}));
  CHECK(Scalar(site.conn, "SHOW synchronous_commit") == "on");
  REQUIRE(site.conn.Exec("COMMIT"));
  CHECK(Scalar(site.su, "SELECT status FROM jobs WHERE id = $1", {empty}) == "succeeded");
}

TEST_CASE("Discovery results add new servers with their pin and set, and one refresh job for them", "[control_plane]") {
  Site site;
  auto box = tls::SecretBox::FromKeyBytes(tls::SecretBox::NewHexKey());
  auto set = site.cp.PutCredentialSet({"", "site", "idrac", "root", *box->Seal("calvin", "site"), box->KeyId()}, "test");
  REQUIRE(set.ok());
  // Known already: by tag, with an operator's pin that discovery must not replace.
  Exec(site.su, "INSERT INTO servers(bmc_address, service_tag, source, tls_pin_sha256) "
                "VALUES ('127.0.80.2:18443', 'KNOWN01', 'ome', 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee')");
  const std::string result = R"({"refresh": true, "found": [
      {"bmc_address": "127.0.80.1:18443", "service_tag": "NEW0001", "tls_pin_sha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "credential_set_id": ")" +
                             *set + R"(", "login": "ok"},
      {"bmc_address": "127.0.80.2:18443", "service_tag": "KNOWN01", "tls_pin_sha256": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "credential_set_id": ")" +
                             *set + R"(", "login": "ok"},
      {"bmc_address": "127.0.80.3:18443", "service_tag": null, "tls_pin_sha256": "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", "credential_set_id": null, "login": "refused"}]})";
  auto effects = RecordStepResult(site.cp, "default", "discovery.scan", "00000000-0000-0000-0000-0000000000d1", "", result);
  REQUIRE(effects.ok());
  CHECK(effects->servers_added == 2);
  REQUIRE_FALSE(effects->refresh_job_id.empty());
  CHECK(Scalar(site.su, "SELECT count(*) FROM servers") == "3");
  CHECK(Scalar(site.su, "SELECT source || ' ' || tls_pin_sha256 || ' ' || (credential_set_id IS NOT NULL) FROM servers "
                        "WHERE service_tag = 'NEW0001'") == "discovery aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa true");
  CHECK(Scalar(site.su, "SELECT source || ' ' || tls_pin_sha256 FROM servers WHERE service_tag = 'KNOWN01'") ==
        "ome eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
  CHECK(Scalar(site.su, "SELECT (credential_set_id IS NULL)::text FROM servers WHERE bmc_address = '127.0.80.3:18443'") == "true");
  // The refresh covers the servers that became reachable with a set: the new one and the
  // known one that had none; not the one whose login was refused.
  CHECK(Scalar(site.su, "SELECT job_type || ' ' || (target_scope -> 'bmc_addresses')::text FROM jobs WHERE id = $1",
               {effects->refresh_job_id}) == R"(server.refresh ["127.0.80.1:18443", "127.0.80.2:18443"])");
  // The same result again (a replay): nothing new, and still one refresh job.
  auto again = RecordStepResult(site.cp, "default", "discovery.scan", "00000000-0000-0000-0000-0000000000d1", "", result);
  REQUIRE(again.ok());
  CHECK(again->servers_added == 0);
  CHECK(Scalar(site.su, "SELECT count(*) FROM jobs WHERE job_type = 'server.refresh'") == "1");
  auto bad = RecordStepResult(site.cp, "default", "discovery.scan", "t", "", R"({"probed": 3})");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "discovery.scan: the result has no \"found\" list");
}


TEST_CASE("A refresh whose identity contradicts the inventory is kept in its result, counted and not written",
          "[control_plane][identity]") {
  Site site;
  Exec(site.su, "INSERT INTO servers(bmc_address, service_tag, manufacturer, system_uuid) "
                "VALUES ('127.0.81.1', 'IDC0001', 'Dell Inc.', '4c4c4544-0000-0000-0000-000000000001')");
  const std::string refresh = R"({"bmc_address":"127.0.81.1","service_tag":"IDC0001","manufacturer":"Dell Inc.",)"
                              R"("system_uuid":"4c4c4544-0000-0000-0000-0000000000ff","model":"R750"})";
  auto effects = RecordStepResult(site.cp, "default", "server.refresh", "00000000-0000-0000-0000-0000000000e1", "", refresh);
  REQUIRE(effects.ok());
  CHECK(effects->identity_conflicts == 1);
  CHECK(effects->summary == "refresh NOT written: its identity evidence contradicts the inventory (dcops conflicts)");
  CHECK(effects->stored_result.find(R"("identity_conflicts":1,"inventory_written":false)") != std::string::npos);
  CHECK(effects->stored_result.find(R"("model":"R750")") != std::string::npos);  // nothing lost
  CHECK(Scalar(site.su, "SELECT coalesce(model, 'none') FROM servers") == "none");
  // A refresh that agrees is written, with nothing to report.
  auto clean = RecordStepResult(site.cp, "default", "server.refresh", "00000000-0000-0000-0000-0000000000e2", "",
                                R"({"bmc_address":"127.0.81.1","service_tag":"IDC0001","model":"R650"})");
  REQUIRE(clean.ok());
  CHECK(clean->identity_conflicts == 0);
  CHECK(clean->stored_result.empty());
  CHECK(Scalar(site.su, "SELECT model FROM servers") == "R650");
}


TEST_CASE("An agent's result nested deeper than any inventory is refused before it is parsed", "[control_plane][secrets][attack]") {
  Site site;
  const std::string deep = R"({"found":)" + std::string(50000, '[') + std::string(50000, ']') + "}";
  auto effects = RecordStepResult(site.cp, "default", "discovery.scan", "00000000-0000-0000-0000-0000000000f1", "", deep);
  REQUIRE_FALSE(effects.ok());
  CHECK(effects.error().code == "step.result");
  CHECK(effects.error().message == "discovery.scan: the result is nested deeper than 64 levels");
}

}  // namespace
}  // namespace dcops::dispatcher
