// ControlPlane against the real migrations on the private PostgreSQL, as the dispatcher role.
#include "control_plane.hpp"

#include <catch2/catch.hpp>

#include "dcops/common/clock.hpp"
#include "dcops/tls/secret_box.hpp"
#include "plan_pending.hpp"
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

  auto back = site.cp.GetCredentialSet(*cred_id);
  REQUIRE(back.ok());
  REQUIRE(back->has_value());
  CHECK(*box->Open((*back)->ciphertext, (*back)->name) == "calvin");
  CHECK((*back)->key_id == box->KeyId());
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

}  // namespace
}  // namespace dcops::dispatcher
