// Steps through their life: leases, rescue, retries, snoozes, dependencies, cancellation,
// and the finality of terminal states.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <map>

#include "control_plane.hpp"

namespace dcops::testing {
namespace {

// Moves a step's backoff into the past, as if its wait had passed.
void BackoffPassed(db::Connection& su, const std::string& task) {
  Exec(su, "UPDATE job_tasks SET run_after = now() WHERE id = $1", {task});
}

std::string Call(db::Connection& conn, const std::string& sql, const db::Params& params) {
  return Scalar(conn, sql, params);
}

TEST_CASE("An expired lease is rescued, the step runs again with attempt+1, "
          "and the old holder's late completion is rejected", "[lease]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string job = CreatePlannedJob(su, "server.power", 1, R"({"action":"On"})");

  auto first = Claim(disp, "agent-a", "{server.power}", 1);
  REQUIRE(first.size() == 1);
  CHECK(first[0].attempt == 1);
  CHECK_FALSE(first[0].checkpoint.has_value());
  const auto& task = first[0].task_id;
  CHECK(Call(disp, "SELECT dispatcher_v1_start_step($1, $2)", {task, first[0].lease_id}) == "ok");
  CHECK(Call(disp, "SELECT dispatcher_v1_save_checkpoint($1, $2, $3)",
             {task, first[0].lease_id, std::string(R"({"phase":"reset_sent"})")}) == "t");

  ExpireLease(su, task);  // agent-a went silent past its lease
  auto rescued = Exec(disp, "SELECT * FROM dispatcher_v1_rescue_expired('default')");
  REQUIRE(rescued.size() == 1);
  CHECK(rescued.Str(0, "new_status") == "ready");
  CHECK(rescued.Str(0, "lost_owner") == "agent-a");
  CHECK(Scalar(su, "SELECT count(*) FROM job_events WHERE task_id = $1 AND message LIKE "
                   "'%lease of agent agent-a expired; will retry%'", {task}) == "1");
  // A second rescue finds nothing: the guard is state and expiry together.
  CHECK(Exec(disp, "SELECT * FROM dispatcher_v1_rescue_expired('default')").empty());

  BackoffPassed(su, task);
  auto second = Claim(disp, "agent-b", "{server.power}", 1);
  REQUIRE(second.size() == 1);
  CHECK(second[0].task_id == task);
  CHECK(second[0].attempt == 2);
  REQUIRE(second[0].checkpoint.has_value());
  CHECK(*second[0].checkpoint == R"({"phase": "reset_sent"})");  // resumes, not redoes

  // agent-a comes back from the dead and reports: nothing changes.
  CHECK(Call(disp, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object('task_id', $1::uuid, 'lease_id', $2::uuid, 'result', '{}'::jsonb))))", {task, first[0].lease_id}) ==
        "stale_lease");
  CHECK(Call(disp, "SELECT dispatcher_v1_fail_step($1, $2, 'x', 'late', true)",
             {task, first[0].lease_id}) == "stale_lease");
  CHECK(Call(disp, "SELECT dispatcher_v1_report_progress($1, $2, 50)", {task, first[0].lease_id}) ==
        "f");
  CHECK(TaskStatus(su, task) == "running");
  CHECK(Scalar(su, "SELECT lease_owner FROM job_tasks WHERE id = $1", {task}) == "agent-b");

  CHECK(Call(disp, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object('task_id', $1::uuid, 'lease_id', $2::uuid, 'result', '{\"power\":\"On\"}'::jsonb))))",
             {task, second[0].lease_id}) == "ok");
  CHECK(TaskStatus(su, task) == "succeeded");
  CHECK(JobStatus(su, job) == "succeeded");
  CHECK(Call(disp, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object('task_id', $1::uuid, 'lease_id', gen_random_uuid()::uuid, 'result', '{}'::jsonb))))",
             {std::string("00000000-0000-0000-0000-000000000000")}) == "not_found");
}

TEST_CASE("Heartbeats extend leases, report cancellation, and keep rescue away", "[lease]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  CreatePlannedJob(su, "server.refresh", 1);
  auto got = Claim(disp, "agent-a", "{server.refresh}", 1, 5);
  REQUIRE(got.size() == 1);
  Exec(su, "UPDATE job_tasks SET lease_expires_at = now() + interval '1 second' WHERE id = $1",
       {got[0].task_id});
  auto beat = Exec(disp,
                   "SELECT * FROM dispatcher_v1_extend_leases(ARRAY[$1::uuid, gen_random_uuid()], 60)",
                   {got[0].lease_id});
  REQUIRE(beat.size() == 2);
  CHECK(*beat.Bool(0, "valid"));
  CHECK_FALSE(*beat.Bool(0, "cancel_requested"));
  CHECK_FALSE(*beat.Bool(1, "valid"));  // a lease the dispatcher does not hold
  CHECK(Scalar(su, "SELECT lease_expires_at > now() + interval '50 seconds' FROM job_tasks "
                   "WHERE id = $1", {got[0].task_id}) == "t");
  CHECK(Exec(disp, "SELECT * FROM dispatcher_v1_rescue_expired('default')").empty());
}

TEST_CASE("A step out of attempts fails on rescue, and so does its job", "[lease]") {
  TestDb tdb;
  auto su = tdb.Connect();
  const std::string job = CreateJob(su, "server.refresh", 1);
  Exec(su, "SELECT dispatcher_v1_plan_job($1, '[{\"key\":\"a\",\"kind\":\"server.refresh\","
           "\"target\":\"idrac:127.0.0.1\",\"max_attempts\":1}]')", {job});
  BecomeDispatcher(su);
  auto got = Claim(su, "agent-a", "{server.refresh}", 1);
  BecomeSuperuser(su);
  ExpireLease(su, got.at(0).task_id);
  BecomeDispatcher(su);
  auto rescued = Exec(su, "SELECT * FROM dispatcher_v1_rescue_expired('default')");
  REQUIRE(rescued.size() == 1);
  CHECK(rescued.Str(0, "new_status") == "failed");
  BecomeSuperuser(su);
  CHECK(JobStatus(su, job) == "failed");
  CHECK(Scalar(su, "SELECT error_message FROM jobs WHERE id = $1", {job}) == "1 of 1 step(s) failed");
  CHECK(Scalar(su, "SELECT error_code FROM job_tasks WHERE id = $1", {got[0].task_id}) ==
        "lease_expired");
}

TEST_CASE("Retryable failures back off exponentially with jitter until attempts run out",
          "[retry]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string job = CreateJob(su, "server.refresh", 1);
  Exec(su, "SELECT dispatcher_v1_plan_job($1, '[{\"key\":\"a\",\"kind\":\"server.refresh\","
           "\"target\":\"idrac:127.0.0.1\",\"max_attempts\":3,\"retry_base_ms\":4000,"
           "\"retry_max_ms\":60000}]')", {job});
  // Attempt n waits a draw from [d/2, d], d = 4 s * 2^(n-1).
  const double ceilings[] = {4.0, 8.0};
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto got = Claim(disp, "agent-a", "{server.refresh}", 1);
    REQUIRE(got.size() == 1);
    CHECK(got[0].attempt == attempt);
    const std::string outcome =
        Call(disp, "SELECT dispatcher_v1_fail_step($1, $2, 'redfish.503', 'BMC busy', true)",
             {got[0].task_id, got[0].lease_id});
    if (attempt < 3) {
      CHECK(outcome == "retry_scheduled");
      CHECK(TaskStatus(su, got[0].task_id) == "ready");
      const double wait = std::stod(Scalar(
          su, "SELECT extract(epoch FROM run_after - now()) FROM job_tasks WHERE id = $1",
          {got[0].task_id}));
      const double ceiling = ceilings[attempt - 1];
      CHECK(wait >= ceiling / 2 - 0.5);  // the statement's now() is a bit earlier than ours
      CHECK(wait <= ceiling);
      CHECK(Claim(disp, "agent-a", "{server.refresh}", 1).empty());  // still backing off
      BackoffPassed(su, got[0].task_id);
    } else {
      CHECK(outcome == "failed");
      CHECK(TaskStatus(su, got[0].task_id) == "failed");
    }
  }
  CHECK(JobStatus(su, job) == "failed");
}

TEST_CASE("A non-retryable failure fails at once, a snooze waits without using an attempt",
          "[retry]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string job = CreatePlannedJob(su, "server.refresh", 2);
  auto got = Claim(disp, "agent-a", "{server.refresh}", 2);
  REQUIRE(got.size() == 2);
  CHECK(Call(disp, "SELECT dispatcher_v1_fail_step($1, $2, 'redfish.400', 'bad request', false)",
             {got[0].task_id, got[0].lease_id}) == "failed");
  CHECK(Call(disp, "SELECT dispatcher_v1_snooze_step($1, $2, 30, 'SYS518: not ready')",
             {got[1].task_id, got[1].lease_id}) == "snoozed");
  CHECK(Scalar(su, "SELECT attempt FROM job_tasks WHERE id = $1", {got[1].task_id}) == "0");
  CHECK(Claim(disp, "agent-a", "{server.refresh}", 2).empty());  // snoozed for 30 s
  BackoffPassed(su, got[1].task_id);
  auto again = Claim(disp, "agent-a", "{server.refresh}", 2);
  REQUIRE(again.size() == 1);
  CHECK(again[0].attempt == 1);  // the snooze did not count
  CHECK(Call(disp, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object('task_id', $1::uuid, 'lease_id', $2::uuid))))", {again[0].task_id,
                                                                   again[0].lease_id}) == "ok");
  CHECK(JobStatus(su, job) == "failed");
  CHECK(Scalar(su, "SELECT steps_succeeded || '/' || steps_failed || '/' || steps_total || '/' || "
                   "progress FROM jobs WHERE id = $1", {job}) == "1/1/2/100");
}

TEST_CASE("Dependencies release steps on success and skip them on failure", "[plan]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string job = CreateJob(su, "server.refresh", 1);
  CHECK(Call(su, "SELECT dispatcher_v1_plan_job($1, '["
                 "{\"key\":\"a\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.0.1\"},"
                 "{\"key\":\"b\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.0.1\",\"depends_on\":[\"a\"]},"
                 "{\"key\":\"c\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.0.1\",\"depends_on\":[\"b\"]},"
                 "{\"key\":\"d\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.0.2\"}]')",
             {job}) == "4");
  auto key_of = [&](const std::string& task) {
    return Scalar(su, "SELECT step_key FROM job_tasks WHERE id = $1", {task});
  };
  auto first = Claim(disp, "agent-a", "{server.refresh}", 10);
  REQUIRE(first.size() == 2);
  CHECK(key_of(first[0].task_id) == "a");
  CHECK(key_of(first[1].task_id) == "d");
  CHECK(Call(disp, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object('task_id', $1::uuid, 'lease_id', $2::uuid))))", {first[0].task_id,
                                                                   first[0].lease_id}) == "ok");
  auto second = Claim(disp, "agent-a", "{server.refresh}", 10);
  REQUIRE(second.size() == 1);
  CHECK(key_of(second[0].task_id) == "b");
  CHECK(Call(disp, "SELECT dispatcher_v1_fail_step($1, $2, 'x', 'broken', false)",
             {second[0].task_id, second[0].lease_id}) == "failed");
  CHECK(Scalar(su, "SELECT status || ':' || error_code FROM job_tasks WHERE job_id = $1 AND "
                   "step_key = 'c'", {job}) == "skipped:dependency_failed");
  CHECK(JobStatus(su, job) == "running");  // d is still out
  CHECK(Call(disp, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object('task_id', $1::uuid, 'lease_id', $2::uuid))))", {first[1].task_id,
                                                                   first[1].lease_id}) == "ok");
  CHECK(JobStatus(su, job) == "failed");
  CHECK(Scalar(su, "SELECT steps_finished FROM jobs WHERE id = $1", {job}) == "4");
}

TEST_CASE("Planning checks the whole plan first and happens once", "[plan]") {
  TestDb tdb;
  auto su = tdb.Connect();
  const std::string job = CreateJob(su, "server.refresh", 1);
  auto bad_dep = ExecError(su, "SELECT dispatcher_v1_plan_job($1, '["
                               "{\"key\":\"a\",\"kind\":\"server.refresh\",\"target\":\"idrac:h\"},"
                               "{\"key\":\"b\",\"kind\":\"server.refresh\",\"target\":\"idrac:h\","
                               "\"depends_on\":[\"z\"]}]')", {job});
  CHECK(bad_dep.sqlstate == "22023");
  CHECK(bad_dep.message.find("steps[1].depends_on: \"z\" is not an earlier step") != std::string::npos);
  auto dup = ExecError(su, "SELECT dispatcher_v1_plan_job($1, '["
                           "{\"key\":\"a\",\"kind\":\"server.refresh\",\"target\":\"idrac:h\"},"
                           "{\"key\":\"a\",\"kind\":\"server.refresh\",\"target\":\"idrac:h\"}]')", {job});
  CHECK(dup.message.find("steps[1].key: \"a\" is used twice") != std::string::npos);
  auto bad_target = ExecError(su, "SELECT dispatcher_v1_plan_job($1, '["
                                  "{\"key\":\"a\",\"kind\":\"server.refresh\",\"target\":\"h\"}]')", {job});
  CHECK(bad_target.message.find("steps[0].target") != std::string::npos);
  CHECK(Scalar(su, "SELECT count(*) FROM job_tasks WHERE job_id = $1", {job}) == "0");
  CHECK(JobStatus(su, job) == "pending");

  CHECK(PlanOneStepPerTarget(su, job, "server.refresh") == 1);
  CHECK(PlanOneStepPerTarget(su, job, "server.refresh") == 1);  // a repeat changes nothing
  CHECK(Scalar(su, "SELECT count(*) FROM job_tasks WHERE job_id = $1", {job}) == "1");

  const std::string empty = CreateJob(su, "server.refresh", 1);
  CHECK(Call(su, "SELECT dispatcher_v1_plan_job($1, '[]')", {empty}) == "0");
  CHECK(JobStatus(su, empty) == "succeeded");

  const std::string unplannable = CreateJob(su, "server.refresh", 1);
  CHECK(Call(su, "SELECT dispatcher_v1_fail_job($1, 'plan.no_target', 'no server at 127.0.0.1')",
             {unplannable}) == "t");
  CHECK(JobStatus(su, unplannable) == "failed");
  CHECK(Call(su, "SELECT dispatcher_v1_fail_job($1, 'x', 'again')", {unplannable}) == "f");
}

TEST_CASE("Cancelling pending, running and finished jobs", "[cancel]") {
  TestDb tdb;
  auto su = tdb.Connect();
  const std::string operator_id = AddUser(su, "operator");
  auto ui = tdb.Connect();
  BecomeUser(ui, operator_id);
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);

  SECTION("a pending job is cancelled at once") {
    const std::string job = CreateJob(su, "server.refresh", 3);
    CHECK(Call(ui, "SELECT cancel_job($1)", {job}) == "cancelled");
    CHECK(JobStatus(su, job) == "cancelled");
    CHECK(PlanOneStepPerTarget(su, job, "server.refresh") == 0);  // never planned now
    CHECK(Scalar(su, "SELECT count(*) FROM audit_log WHERE action = 'job.cancel' AND "
                     "object_id = $1 AND actor = $2", {job, operator_id}) == "1");
  }
  SECTION("a running job stops its waiting steps and waits for its running ones") {
    const std::string job = CreatePlannedJob(su, "server.refresh", 3);
    auto got = Claim(disp, "agent-a", "{server.refresh}", 1);
    REQUIRE(got.size() == 1);
    CHECK(Call(ui, "SELECT cancel_job($1)", {job}) == "cancel_requested");
    CHECK(JobStatus(su, job) == "running");
    CHECK(Scalar(su, "SELECT count(*) FROM job_tasks WHERE job_id = $1 AND status = 'cancelled'",
                 {job}) == "2");
    // The agent holding the step learns of it from its next heartbeat.
    auto beat = Exec(disp, "SELECT * FROM dispatcher_v1_extend_leases(ARRAY[$1::uuid])",
                     {got[0].lease_id});
    CHECK(*beat.Bool(0, "cancel_requested"));
    CHECK(Call(disp, "SELECT dispatcher_v1_cancel_step($1, $2, 'stopped at a safe point')",
               {got[0].task_id, got[0].lease_id}) == "ok");
    CHECK(JobStatus(su, job) == "cancelled");
  }
  SECTION("a failing step of a job being cancelled ends cancelled, not retried") {
    const std::string job = CreatePlannedJob(su, "server.refresh", 1);
    auto got = Claim(disp, "agent-a", "{server.refresh}", 1);
    CHECK(Call(ui, "SELECT cancel_job($1)", {job}) == "cancel_requested");
    CHECK(Call(disp, "SELECT dispatcher_v1_fail_step($1, $2, 'x', 'y', true)",
               {got.at(0).task_id, got.at(0).lease_id}) == "cancelled");
    CHECK(JobStatus(su, job) == "cancelled");
  }
  SECTION("a finished job stays as it was") {
    const std::string job = CreatePlannedJob(su, "server.refresh", 1);
    auto got = Claim(disp, "agent-a", "{server.refresh}", 1);
    Call(disp, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object('task_id', $1::uuid, 'lease_id', $2::uuid))))", {got.at(0).task_id, got.at(0).lease_id});
    CHECK(Call(ui, "SELECT cancel_job($1)", {job}) == "succeeded");
    CHECK(JobStatus(su, job) == "succeeded");
    CHECK(Scalar(su, "SELECT cancel_requested_at IS NULL FROM jobs WHERE id = $1", {job}) == "t");
  }
  SECTION("an unknown job is an error") {
    auto e = ExecError(ui, "SELECT cancel_job(gen_random_uuid())");
    CHECK(e.sqlstate == "P0002");
    CHECK(e.message.find("job_id: no job with id") != std::string::npos);
  }
}

TEST_CASE("Terminal states are final", "[lease]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string job = CreatePlannedJob(su, "server.refresh", 1);
  auto got = Claim(disp, "agent-a", "{server.refresh}", 1);
  Call(disp, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object('task_id', $1::uuid, 'lease_id', $2::uuid))))", {got.at(0).task_id, got.at(0).lease_id});
  CHECK(Call(disp, "SELECT dispatcher_v1_fail_step($1, $2, 'x', 'y', true)",
             {got[0].task_id, got[0].lease_id}) == "stale_lease");
  CHECK(Call(disp, "SELECT dispatcher_v1_snooze_step($1, $2, 0)",
             {got[0].task_id, got[0].lease_id}) == "stale_lease");
  // Not even the owner of the tables can move it back.
  auto e = ExecError(su, "UPDATE job_tasks SET status = 'ready' WHERE id = $1", {got[0].task_id});
  CHECK(e.sqlstate == "55000");
  CHECK(e.message.find("succeeded (final)") != std::string::npos);
  auto ej = ExecError(su, "UPDATE jobs SET status = 'running' WHERE id = $1", {job});
  CHECK(ej.sqlstate == "55000");
  CHECK(JobStatus(su, job) == "succeeded");
}

TEST_CASE("Events are appended in batches, in order, and never for unknown jobs", "[events]") {
  TestDb tdb;
  auto su = tdb.Connect();
  const std::string job = CreatePlannedJob(su, "server.refresh", 1);
  BecomeDispatcher(su);
  CHECK(Call(su, "SELECT dispatcher_v1_append_events(jsonb_build_array("
                 "jsonb_build_object('job_id', $1::text, 'level', 'info', 'message', 'one'),"
                 "jsonb_build_object('job_id', $1::text, 'level', 'loud', 'message', 'two'),"
                 "jsonb_build_object('job_id', gen_random_uuid(), 'level', 'info', 'message', 'lost'),"
                 "jsonb_build_object('job_id', $1::text, 'level', 'error', 'message', repeat('x', 5000))))",
             {job}) == "3");
  BecomeSuperuser(su);
  auto rows = Exec(su, "SELECT level, left(message, 3) AS m, length(message) AS n FROM job_events "
                       "WHERE job_id = $1 AND source IS NULL ORDER BY id", {job});
  REQUIRE(rows.size() == 3);
  CHECK(rows.Str(0, "m") == "one");
  CHECK(rows.Str(1, "level") == "info");  // an unknown level is stored as info, not lost
  CHECK(rows.Str(2, "n") == "4000");
  auto e = ExecError(su, "SELECT dispatcher_v1_append_events('{}')");
  CHECK(e.message == "SQLSTATE 22023: events: must be a JSON array");
}

}  // namespace
}  // namespace dcops::testing

namespace dcops::testing {
namespace {

TEST_CASE("A batch of completions answers per step and finishes jobs once", "[lease]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string a = CreatePlannedJob(su, "server.refresh", 3);
  const std::string b = CreatePlannedJob(su, "server.refresh", 2);
  auto got = Claim(disp, "agent-a", "{server.refresh}", 10);
  REQUIRE(got.size() == 5);
  std::string items = "[";
  for (const auto& c : got) {
    items += fmt::format(R"({{"task_id":"{}","lease_id":"{}","result":{{"ok":true}}}},)", c.task_id,
                         c.lease_id);
  }
  items += fmt::format(R"({{"task_id":"{}","lease_id":"{}"}},)", got[0].task_id, got[1].lease_id);
  items += R"({"task_id":"00000000-0000-0000-0000-000000000000","lease_id":"00000000-0000-0000-0000-000000000000"}])";
  auto rows = Exec(disp, "SELECT outcome, count(*) AS n FROM dispatcher_v1_complete_steps($1::jsonb) "
                         "GROUP BY outcome ORDER BY outcome", {items});
  REQUIRE(rows.size() == 3);
  CHECK(rows.Str(0, "outcome") + "=" + rows.Str(0, "n") == "not_found=1");
  CHECK(rows.Str(1, "outcome") + "=" + rows.Str(1, "n") == "ok=5");
  CHECK(rows.Str(2, "outcome") + "=" + rows.Str(2, "n") == "stale_lease=1");
  CHECK(JobStatus(su, a) == "succeeded");
  CHECK(JobStatus(su, b) == "succeeded");
  CHECK(Scalar(su, "SELECT count(*) FROM job_events WHERE message LIKE 'job succeeded%'") == "2");
  CHECK(Scalar(su, "SELECT steps_succeeded FROM jobs WHERE id = $1", {a}) == "3");
}

TEST_CASE("Every job that ends is heard on dcops_work once, however it ended", "[events]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  auto listener = tdb.Connect();
  REQUIRE(listener.Listen("dcops_work").ok());
  const std::string nothing_to_do = CreateJob(su, "server.refresh", 1);
  const std::string unplannable = CreateJob(su, "server.refresh", 1);
  const std::string ran = CreatePlannedJob(su, "server.refresh", 1);
  CHECK(Call(su, "SELECT dispatcher_v1_plan_job($1, '[]')", {nothing_to_do}) == "0");
  CHECK(Call(disp, "SELECT dispatcher_v1_fail_job($1, 'plan.no_target', 'no server at 127.0.0.1')", {unplannable}) == "t");
  auto got = Claim(disp, "agent-a", "{server.refresh}", 1);
  REQUIRE(got.size() == 1);
  Exec(disp, "SELECT * FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object("
             "'task_id', $1::uuid, 'lease_id', $2::uuid)))", {got[0].task_id, got[0].lease_id});
  // A job that failed ends by its verdict (finish_jobs), not by its step's count.
  const std::string failed = CreatePlannedJob(su, "server.refresh", 1);
  auto failing = Claim(disp, "agent-a", "{server.refresh}", 1);
  REQUIRE(failing.size() == 1);
  CHECK(Call(disp, "SELECT dispatcher_v1_fail_step($1, $2, 'x', 'broken', false, NULL)",
             {failing[0].task_id, failing[0].lease_id}) == "failed");
  CHECK(JobStatus(su, failed) == "failed");
  CHECK(JobStatus(su, nothing_to_do) == "succeeded");
  CHECK(JobStatus(su, unplannable) == "failed");
  CHECK(JobStatus(su, ran) == "succeeded");
  CHECK(Call(su, "SELECT dispatcher_v1_fail_job($1, 'x', 'again')", {unplannable}) == "f");  // ends once

  // Notifications arrive in commit order: everything sent before this one is read by its end.
  Exec(su, "NOTIFY dcops_work, 'end of test'");
  std::map<std::string, int> finished;  // job id -> job_finished heard
  bool end = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!end && std::chrono::steady_clock::now() < deadline) {
    auto notes = listener.WaitForNotifications(std::chrono::milliseconds(1000));
    REQUIRE(notes.ok());
    for (const auto& n : *notes) {
      if (n.payload == "end of test") end = true;
      if (n.payload.find("job_finished") == std::string::npos) continue;
      for (const auto& id : {nothing_to_do, unplannable, ran, failed}) {
        if (n.payload.find(id) != std::string::npos) ++finished[id];
      }
    }
  }
  REQUIRE(end);
  CHECK(finished[nothing_to_do] == 1);
  CHECK(finished[unplannable] == 1);
  CHECK(finished[ran] == 1);  // ended with its last step's count, announced by the trigger alone
  CHECK(finished[failed] == 1);
}

}  // namespace
}  // namespace dcops::testing

namespace dcops::testing {
namespace {

TEST_CASE("Many jobs are planned in one call, checked whole before anything is written", "[plan]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto conn = tdb.Connect();
  const std::string a = CreateJob(su, "server.refresh", 1), b = CreateJob(su, "server.refresh", 1),
                    done = CreatePlannedJob(su, "server.refresh", 2);
  BecomeDispatcher(conn);
  const std::string step = R"({"key":"%s","kind":"server.refresh","target":"idrac:127.0.0.%s"%s})";
  auto plan = [](const std::string& job, const std::string& steps) {
    return "{\"job_id\":\"" + job + "\",\"steps\":[" + steps + "]}";
  };
  auto s = [&step](const char* key, const char* host, const char* extra = "") {
    char buf[256];
    std::snprintf(buf, sizeof buf, step.c_str(), key, host, extra);
    return std::string(buf);
  };

  // One bad plan in the batch: nothing is written, and the message names it.
  auto bad = ExecError(conn, "SELECT * FROM dispatcher_v1_plan_jobs($1::jsonb)",
                       {"[" + plan(a, s("x", "1")) + "," + plan(b, s("y", "2", R"(,"depends_on":["nope"])")) + "]"});
  CHECK(bad.message == "SQLSTATE 22023: plans[1].steps[0].depends_on: \"nope\" is not an earlier step");
  CHECK(JobStatus(su, a) == "pending");
  CHECK(ExecError(conn, "SELECT * FROM dispatcher_v1_plan_jobs($1::jsonb)",
                  {"[" + plan(a, s("x", "1") + "," + s("x", "2")) + "]"}).message ==
        "SQLSTATE 22023: plans[0].steps[1].key: \"x\" is used twice");
  CHECK(ExecError(conn, "SELECT * FROM dispatcher_v1_plan_jobs($1::jsonb)",
                  {"[" + plan(a, R"({"key":"x","kind":"server.refresh","target":"ftp:host"})") + "]"}).message ==
        "SQLSTATE 22023: plans[0].steps[0].target: \"ftp:host\" is not a target (kind:address)");

  // A good batch: a chain of two steps, a single step, and a job planned before (left alone).
  auto rows = Exec(conn, "SELECT job_id, steps FROM dispatcher_v1_plan_jobs($1::jsonb)",
                   {"[" + plan(a, s("first", "1") + "," + s("second", "1", R"(,"depends_on":["first"])")) + "," +
                    plan(b, s("only", "2")) + "," + plan(done, s("again", "9")) + "]"});
  REQUIRE(rows.size() == 3);
  CHECK(rows.Str(0, "steps") == "2");
  CHECK(rows.Str(1, "steps") == "1");
  CHECK(rows.Str(2, "steps") == "2");  // its own plan, unchanged
  CHECK(JobStatus(su, a) == "running");
  CHECK(Scalar(su, "SELECT string_agg(step_key || '=' || status || '@' || seq, ',' ORDER BY seq) FROM job_tasks "
                   "WHERE job_id = $1", {a}) == "first=ready@1,second=blocked@2");
  CHECK(Scalar(su, "SELECT count(*) FROM job_task_deps d JOIN job_tasks t ON t.id = d.task_id "
                   "WHERE t.job_id = $1", {a}) == "1");
  CHECK(Scalar(su, "SELECT count(*) FROM job_tasks WHERE job_id = $1", {done}) == "2");
  CHECK(Scalar(su, "SELECT count(*) FROM job_events WHERE message = 'planned 2 step(s)' AND job_id = $1", {a}) == "1");

  // Finishing: the chain releases its second step, and both jobs end with their events.
  auto claimed = Claim(conn, "agent-1", "{server.refresh}", 10);
  REQUIRE(claimed.size() == 4);  // a.first, b.only, and the two steps of `done`
  for (const auto& c : claimed) {
    Exec(conn, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object('task_id', $1::uuid, 'lease_id', $2::uuid))))", {c.task_id, c.lease_id});
  }
  CHECK(JobStatus(su, b) == "succeeded");
  CHECK(JobStatus(su, done) == "succeeded");
  CHECK(JobStatus(su, a) == "running");
  auto second = Claim(conn, "agent-1", "{server.refresh}", 10);
  REQUIRE(second.size() == 1);
  Exec(conn, "SELECT dispatcher_v1_fail_step($1::uuid, $2::uuid, 'x', 'broken', false, NULL)",
       {second[0].task_id, second[0].lease_id});
  CHECK(JobStatus(su, a) == "failed");
  CHECK(Scalar(su, "SELECT error_message FROM jobs WHERE id = $1", {a}) == "1 of 2 step(s) failed");
  CHECK(Scalar(su, "SELECT message FROM job_events WHERE job_id = $1 AND source = 'control-plane'", {a}) ==
        "job failed: 1 of 2 step(s) succeeded");
}

}  // namespace
}  // namespace dcops::testing

namespace dcops::testing {
namespace {

TEST_CASE("Queue-table statistics are refreshed after a burst, from a small sample, and not again without one", "[plan]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto conn = tdb.Connect();
  Exec(su, "SELECT dispatcher_v1_create_job('default', 'server.refresh', "
           "jsonb_build_object('bmc_addresses', jsonb_build_array('127.0.9.' || (g % 250 + 1))), '{}') "
           "FROM generate_series(1, 1500) g");
  Exec(su, "SELECT pg_stat_force_next_flush()");  // this session's counts, now (PostgreSQL 15)
  BecomeDispatcher(conn);
  const std::string first = Scalar(conn, "SELECT dispatcher_v1_refresh_statistics()::text");
  CHECK(first.find("jobs") != std::string::npos);
  CHECK(std::stol(Scalar(su, "SELECT reltuples::bigint FROM pg_class WHERE oid = 'public.jobs'::regclass")) == 1500);
  // From a small sample (statistics target 10, not the server's 100): a histogram of at most
  // 11 bounds, where the default would keep 101 for 1,500 distinct ids.
  CHECK(Scalar(su, "SELECT coalesce((SELECT cardinality(histogram_bounds::text::text[]) FROM pg_stats "
                  "WHERE schemaname = 'public' AND tablename = 'jobs' AND attname = 'id'), -1) BETWEEN 2 AND 11") == "t");
  CHECK(Scalar(conn, "SELECT dispatcher_v1_refresh_statistics()::text") == "{}");
}

}  // namespace
}  // namespace dcops::testing
