// Finalizers and steps a cancel lets finish (20261204000200_finalizers.sql): dependencies of
// kind 'finished', on_cancel 'finish' and 'run', what a finalizer is told when it runs.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "control_plane.hpp"

namespace dcops::testing {
namespace {

constexpr const char* kHost = "a0000000-0000-0000-0000-00000000000a";
constexpr const char* kKinds = "{cluster.settings,host.maintenance,server.firmware_update,cluster.safety_check}";

// A rolling job's shape for one host and the next host's check:
//   apply (finish) → enter:a → fw:a (finish) → exit:a → check:b
//   settle:a (run): once enter:a, fw:a and exit:a ended
//   restore (run): once every other step ended
std::string PlanJob(db::Connection& su, const std::string& extra_step = "") {
  const std::string vc = Scalar(su, "INSERT INTO vcenters (name, address) VALUES ('vc', '127.0.9.9') RETURNING id", {});
  const std::string cluster =
      Scalar(su, "INSERT INTO vcenter_clusters (vcenter_id, moref, name) VALUES ($1, 'domain-c1', 'prod') RETURNING id", {vc});
  const std::string job = Scalar(su, "SELECT dispatcher_v1_create_job('default', 'cluster.rolling_update', "
                                     "jsonb_build_object('cluster_id', $1::text), "
                                     "'{\"firmware\":{\"method\":\"simple_update\",\"image_uri\":\"http://127.0.0.1/f\"}}')",
                                 {cluster});
  const std::string rolling = fmt::format(R"("_rolling":{{"host_id":"{}","host":"esx-a"}})", kHost);
  const std::string steps = fmt::format(
      R"([{{"key":"apply","kind":"cluster.settings","target":"cluster:{c}","params":{{"action":"apply","ha_admission_control":false}},"on_cancel":"finish"}},)"
      R"({{"key":"enter:a","kind":"host.maintenance","target":"esxi:{h}","params":{{"action":"enter",{r}}},"depends_on":["apply"]}},)"
      R"({{"key":"fw:a","kind":"server.firmware_update","target":"idrac:127.0.9.1","params":{{{r}}},"depends_on":["enter:a"],"on_cancel":"finish"}},)"
      R"({{"key":"exit:a","kind":"host.maintenance","target":"esxi:{h}","params":{{"action":"exit",{r}}},"depends_on":["fw:a"]}},)"
      R"({{"key":"settle:a","kind":"host.maintenance","target":"esxi:{h}","params":{{"action":"settle",{r}}},)"
      R"("after_finished":["enter:a","fw:a","exit:a"],"on_cancel":"run"}},)"
      R"({{"key":"check:b","kind":"cluster.safety_check","target":"esxi:{h}","params":{{}},"depends_on":["exit:a"]}},)"
      R"({{"key":"restore","kind":"cluster.settings","target":"cluster:{c}","params":{{"action":"restore","ha_admission_control":false}},)"
      R"("after_finished":["apply","enter:a","fw:a","exit:a","settle:a","check:b"],"on_cancel":"run"}}{x}])",
      fmt::arg("c", cluster), fmt::arg("h", kHost), fmt::arg("r", rolling), fmt::arg("x", extra_step));
  REQUIRE(Scalar(su, "SELECT dispatcher_v1_plan_job($1, $2::jsonb)", {job, steps}) == "7");
  return job;
}

Claimed Next(db::Connection& su, db::Connection& disp, const std::string& key) {
  auto got = Claim(disp, "agent-x", kKinds, 10);
  REQUIRE(got.size() == 1);
  REQUIRE(Scalar(su, "SELECT step_key FROM job_tasks WHERE id = $1", {got[0].task_id}) == key);
  return got[0];
}

void Succeed(db::Connection& disp, const Claimed& c, const std::string& result = "{}") {
  REQUIRE(Scalar(disp, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object("
                       "'task_id', $1::uuid, 'lease_id', $2::uuid, 'result', $3::jsonb))))",
                 {c.task_id, c.lease_id, result}) == "ok");
}

std::string Fail(db::Connection& disp, const Claimed& c, bool retryable) {
  return Scalar(disp, "SELECT dispatcher_v1_fail_step($1, $2, 'redfish.task_failed', 'the update failed', $3)",
                {c.task_id, c.lease_id, retryable ? "true" : "false"});
}

std::string Status(db::Connection& su, const std::string& job, const std::string& key) {
  return Scalar(su, "SELECT status || coalesce(':' || error_code, '') FROM job_tasks WHERE job_id = $1 AND step_key = $2", {job, key});
}

TEST_CASE("A cancel lets a running firmware step finish, ends what waited, and runs the finalizers before the job ends", "[finalizer]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string job = PlanJob(su);
  Succeed(disp, Next(su, disp, "apply"), R"({"before":{"ha_admission_control":true}})");
  Succeed(disp, Next(su, disp, "enter:a"));
  const Claimed fw = Next(su, disp, "fw:a");
  // It has started something (its first checkpoint): from now on nothing cancels it.
  REQUIRE(Scalar(disp, "SELECT dispatcher_v1_save_checkpoint($1, $2, '{\"phase\":\"host\"}')", {fw.task_id, fw.lease_id}) == "t");

  CHECK(Scalar(disp, "SELECT dispatcher_v1_cancel_job($1, 'alice')", {job}) == "cancel_requested");
  // The firmware is not told to stop; what had not started is cancelled; the finalizers wait.
  CHECK(Scalar(disp, "SELECT cancel_requested FROM dispatcher_v1_extend_leases(ARRAY[$1::uuid])", {fw.lease_id}) == "f");
  CHECK(Scalar(su, "SELECT count(*) FROM dispatcher_v1_cancel_requests('default')", {}) == "0");
  CHECK(Status(su, job, "exit:a") == "cancelled:cancelled");
  CHECK(Status(su, job, "check:b") == "cancelled:cancelled");
  CHECK(Status(su, job, "settle:a") == "blocked");
  CHECK(Status(su, job, "restore") == "blocked");
  CHECK(JobStatus(su, job) == "running");

  // Its retries still count (a transient failure is retried, not turned into a cancel).
  CHECK(Fail(disp, fw, true) == "retry_scheduled");
  Exec(su, "UPDATE job_tasks SET run_after = now() WHERE id = $1", {fw.task_id});
  // A second cancel while it waits for its retry does not end it either.
  CHECK(Scalar(disp, "SELECT dispatcher_v1_cancel_job($1, 'alice')", {job}) == "cancel_requested");
  CHECK(Status(su, job, "fw:a") == "ready:redfish.task_failed");
  const Claimed again = Next(su, disp, "fw:a");
  // A lost lease goes back to ready too.
  Exec(su, "UPDATE job_tasks SET lease_expires_at = now() - interval '1 s' WHERE id = $1", {again.task_id});
  CHECK(Scalar(disp, "SELECT new_status FROM dispatcher_v1_rescue_expired('default')", {}) == "ready");
  Exec(su, "UPDATE job_tasks SET run_after = now() WHERE id = $1", {fw.task_id});
  // Its agent, draining, stops it: handed back, it runs again (no attempt used).
  const Claimed third = Next(su, disp, "fw:a");
  CHECK(Scalar(disp, "SELECT dispatcher_v1_cancel_step($1, $2, 'the agent is draining')", {third.task_id, third.lease_id}) == "ok");
  CHECK(Status(su, job, "fw:a") == "ready");
  const Claimed fourth = Next(su, disp, "fw:a");
  CHECK(fourth.attempt == third.attempt);
  Succeed(disp, fourth);

  // Then the settle, then the restore; only then is the job over.
  const Claimed settle = Next(su, disp, "settle:a");
  CHECK(JobStatus(su, job) == "running");
  Succeed(disp, settle);
  Succeed(disp, Next(su, disp, "restore"));
  CHECK(JobStatus(su, job) == "cancelled");
  CHECK(Scalar(su, "SELECT finished_at IS NOT NULL FROM jobs WHERE id = $1", {job}) == "t");
}

TEST_CASE("After a failure the finalizers run: a 'finished' dependency is met by any end, a 'succeeded' one skips", "[finalizer]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);

  SECTION("the firmware fails: the exit is skipped, the settle and the restore run, the job fails after them") {
    const std::string job = PlanJob(su);
    Succeed(disp, Next(su, disp, "apply"));
    Succeed(disp, Next(su, disp, "enter:a"));
    CHECK(Fail(disp, Next(su, disp, "fw:a"), false) == "failed");
    CHECK(Status(su, job, "exit:a") == "skipped:dependency_failed");
    CHECK(Status(su, job, "check:b") == "skipped:dependency_skipped");
    const Claimed settle = Next(su, disp, "settle:a");
    CHECK(Status(su, job, "restore") == "blocked");  // it waits for the settle too
    CHECK(JobStatus(su, job) == "running");
    // The settle is told how its host's steps ended.
    const std::string context = Scalar(disp, "SELECT dispatcher_v1_finalizer_context($1)::text", {settle.task_id});
    CHECK(Scalar(su, "SELECT string_agg((s ->> 'key') || '=' || (s ->> 'status'), ',') FROM jsonb_array_elements($1::jsonb -> 'steps') s",
                 {context}) == "enter:a=succeeded,fw:a=failed,exit:a=skipped");
    Succeed(disp, settle, R"({"outcome":"left_in_maintenance","in_maintenance":true})");
    Succeed(disp, Next(su, disp, "restore"));
    CHECK(JobStatus(su, job) == "failed");
  }
  SECTION("the entry fails: the settle still runs (the host may have entered after all), told whether the slot is the job's") {
    const std::string job = PlanJob(su);
    Succeed(disp, Next(su, disp, "apply"));
    CHECK(Fail(disp, Next(su, disp, "enter:a"), false) == "failed");
    const Claimed settle = Next(su, disp, "settle:a");
    CHECK(Scalar(disp, "SELECT dispatcher_v1_finalizer_context($1) ->> 'slot_held'", {settle.task_id}) == "false");
    Succeed(disp, settle);
    Succeed(disp, Next(su, disp, "restore"));
    CHECK(JobStatus(su, job) == "failed");
  }
  SECTION("a finalizer that fails fails the job, cancelled or not, and says which") {
    const std::string job = PlanJob(su);
    Succeed(disp, Next(su, disp, "apply"));
    CHECK(Scalar(disp, "SELECT dispatcher_v1_cancel_job($1, 'alice')", {job}) == "cancel_requested");
    Succeed(disp, Next(su, disp, "settle:a"));
    CHECK(Fail(disp, Next(su, disp, "restore"), false) == "failed");
    CHECK(JobStatus(su, job) == "failed");
    CHECK(Scalar(su, "SELECT error_code || ': ' || error_message FROM jobs WHERE id = $1", {job}) ==
          "finalizer_failed: finalizer restore failed (1 of 7 step(s) failed)");
  }
  SECTION("the apply fails after recording what it found: the restore is told, from its checkpoint") {
    const std::string job = PlanJob(su);
    const Claimed apply = Next(su, disp, "apply");
    REQUIRE(Scalar(disp, "SELECT dispatcher_v1_save_checkpoint($1, $2, '{\"before\":{\"ha_admission_control\":true}}')",
                   {apply.task_id, apply.lease_id}) == "t");
    CHECK(Fail(disp, apply, false) == "failed");
    Succeed(disp, Next(su, disp, "settle:a"));  // nothing entered: a no-op
    const Claimed restore = Next(su, disp, "restore");
    CHECK(Scalar(disp, "SELECT dispatcher_v1_finalizer_context($1) #>> '{before,ha_admission_control}'", {restore.task_id}) ==
          "true");
    Succeed(disp, restore);
    CHECK(JobStatus(su, job) == "failed");
  }
  SECTION("nothing recorded: the restore is told so (null)") {
    const std::string job = PlanJob(su);
    CHECK(Fail(disp, Next(su, disp, "apply"), false) == "failed");
    Succeed(disp, Next(su, disp, "settle:a"));
    const Claimed restore = Next(su, disp, "restore");
    CHECK(Scalar(disp, "SELECT dispatcher_v1_finalizer_context($1)::text", {restore.task_id}) == R"({"before": null})");
  }
}

TEST_CASE("A cancel before anything ran ends the job after its finalizers, and a second cancel says it ended", "[finalizer]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string job = PlanJob(su);
  // The apply is running but has started nothing yet (no checkpoint): the cancel reaches it.
  const Claimed apply = Next(su, disp, "apply");
  CHECK(Scalar(disp, "SELECT dispatcher_v1_cancel_job($1, 'alice')", {job}) == "cancel_requested");
  CHECK(Scalar(disp, "SELECT cancel_requested FROM dispatcher_v1_extend_leases(ARRAY[$1::uuid])", {apply.lease_id}) == "t");
  CHECK(Scalar(disp, "SELECT dispatcher_v1_cancel_step($1, $2, 'cancelled by request')", {apply.task_id, apply.lease_id}) == "ok");
  CHECK(Status(su, job, "apply") == "cancelled:cancelled");
  // The settle runs (a no-op: nothing entered), then the restore.
  Succeed(disp, Next(su, disp, "settle:a"));
  const Claimed restore = Next(su, disp, "restore");
  CHECK(Scalar(disp, "SELECT cancel_requested FROM dispatcher_v1_extend_leases(ARRAY[$1::uuid])", {restore.lease_id}) == "f");
  Succeed(disp, restore);
  CHECK(JobStatus(su, job) == "cancelled");
  CHECK(Scalar(disp, "SELECT dispatcher_v1_cancel_job($1, 'alice')", {job}) == "cancelled");
}

TEST_CASE("A host in maintenance through one job keeps its slot with that job whatever another job's entry says", "[finalizer]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string job = PlanJob(su);
  Exec(su, "INSERT INTO vcenter_hosts (id, vcenter_id, cluster_id, moref, name, maintenance_mode) "
           "SELECT $1::uuid, c.vcenter_id, c.id, 'host-1', 'esx-a', false FROM vcenter_clusters c", {kHost});
  Succeed(disp, Next(su, disp, "apply"));
  const Claimed enter = Next(su, disp, "enter:a");
  CHECK(Scalar(disp, "SELECT coalesce(dispatcher_v1_maintenance_slot($1), '')", {enter.task_id}).empty());
  CHECK(Scalar(disp, "SELECT dispatcher_v1_record_maintenance($1, '{\"in_maintenance\":true}')", {enter.task_id}) ==
        "the host holds its cluster's maintenance slot until it leaves maintenance");

  // Another job enters the same host (a plain host.maintenance: it will find it in maintenance).
  const std::string other = Scalar(su, "SELECT dispatcher_v1_create_job('default', 'host.maintenance', "
                                       "jsonb_build_object('vcenter_host_ids', jsonb_build_array($1::text)), '{\"action\":\"enter\"}')",
                                   {kHost});
  REQUIRE(Scalar(su, "SELECT dispatcher_v1_plan_job($1, $2::jsonb)",
                 {other, fmt::format(R"([{{"key":"enter","kind":"host.maintenance","target":"esxi:{}","params":{{"action":"enter"}}}}])",
                                     kHost)}) == "1");
  const std::string other_task = Scalar(su, "SELECT id FROM job_tasks WHERE job_id = $1", {other});
  CHECK(Scalar(disp, "SELECT coalesce(dispatcher_v1_maintenance_slot($1), '')", {other_task}).empty());
  CHECK(Scalar(su, "SELECT job_id FROM cluster_maintenance_slots WHERE host_id = $1", {kHost}) == job);
  CHECK(Scalar(disp, "SELECT dispatcher_v1_record_maintenance($1, '{\"in_maintenance\":true,\"outcome\":\"already_in_maintenance\"}')",
               {other_task}) == "the host is in maintenance through another job, which keeps its slot");
  CHECK(Scalar(su, "SELECT job_id FROM cluster_maintenance_slots WHERE host_id = $1", {kHost}) == job);
  // So this job's settle knows the host is its own to bring back.
  const std::string settle = Scalar(su, "SELECT id FROM job_tasks WHERE job_id = $1 AND step_key = 'settle:a'", {job});
  CHECK(Scalar(disp, "SELECT dispatcher_v1_finalizer_context($1) ->> 'slot_held'", {settle}) == "true");
}

TEST_CASE("Plans name only known cancel policies and earlier steps to wait for", "[finalizer]") {
  TestDb tdb;
  auto su = tdb.Connect();
  const std::string job = Scalar(su, "SELECT dispatcher_v1_create_job('default', 'server.refresh', '{\"all_servers\":true}', '{}')", {});
  auto bad_policy = ExecError(su, "SELECT dispatcher_v1_plan_job($1, $2::jsonb)",
                              {job, R"([{"key":"a","kind":"server.refresh","target":"idrac:127.0.9.1","on_cancel":"ignore"}])"});
  CHECK(bad_policy.sqlstate == "22023");
  CHECK(bad_policy.message.find("on_cancel: must be stop, finish or run") != std::string::npos);
  auto later = ExecError(su, "SELECT dispatcher_v1_plan_job($1, $2::jsonb)",
                         {job, R"([{"key":"a","kind":"server.refresh","target":"idrac:127.0.9.1","after_finished":["b"]},)"
                               R"({"key":"b","kind":"server.refresh","target":"idrac:127.0.9.2"}])"});
  CHECK(later.sqlstate == "22023");
  CHECK(later.message.find("\"b\" is not an earlier step") != std::string::npos);
  CHECK(JobStatus(su, job) == "pending");
}

}  // namespace
}  // namespace dcops::testing
