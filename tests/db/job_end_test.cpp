// How a job ends when its last step does: a job whose every step succeeded is ended by the
// count of that step (20261205000400_one_write_job_end.sql), any other by its verdict
// (finish_jobs). Both must leave the same job row and the same event; lifecycle_test hears
// each end announced once on dcops_work.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "control_plane.hpp"

namespace dcops::testing {
namespace {

std::string Complete(db::Connection& disp, const Claimed& c) {
  return Scalar(disp, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array("
                      "jsonb_build_object('task_id', $1::uuid, 'lease_id', $2::uuid))))",
                {c.task_id, c.lease_id});
}

// The job row and its end events, as one line an assertion can compare whole.
std::string EndOf(db::Connection& su, const std::string& job) {
  return Scalar(su,
                "SELECT format('%s progress=%s finished_at=%s error=%s/%s events=[%s]', j.status, j.progress, "
                "(j.finished_at IS NOT NULL)::text, coalesce(j.error_code, '-'), coalesce(j.error_message, '-'), "
                "(SELECT string_agg(format('%s %s %s trace=%s', e.level, e.message, e.data, "
                "(e.trace_id = split_part(j.traceparent, '-', 2))::text), '; ' ORDER BY e.id) "
                "FROM job_events e WHERE e.job_id = j.id AND e.source = 'control-plane' AND e.message LIKE 'job %')) "
                "FROM jobs j WHERE j.id = $1",
                {job});
}

// How often finish_jobs (the verdict) ran in this database, as PostgreSQL counts it for a
// session with track_functions = 'all' (the superuser's: the setting is a superuser's).
long VerdictsAsked(db::Connection& su) {
  Exec(su, "SELECT pg_stat_force_next_flush()");
  return std::stol(Scalar(su, "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions "
                              "WHERE schemaname = 'dcops_internal' AND funcname = 'finish_jobs'"));
}

TEST_CASE("The verdict is asked only for a job that did not succeed in every step", "[job_end]") {
  TestDb tdb;
  auto su = tdb.Connect();
  Exec(su, "SET track_functions = 'all'");
  const std::string good = CreatePlannedJob(su, "server.refresh", 1);
  const std::string bad = CreatePlannedJob(su, "server.refresh", 1);
  auto got = Claim(su, "agent-a", "{server.refresh}", 10);
  REQUIRE(got.size() == 2);
  const Claimed& good_step = got[0].job_id == good ? got[0] : got[1];
  const Claimed& bad_step = got[0].job_id == good ? got[1] : got[0];
  CHECK(Complete(su, good_step) == "ok");
  CHECK(JobStatus(su, good) == "succeeded");
  CHECK(VerdictsAsked(su) == 0);
  CHECK(Scalar(su, "SELECT dispatcher_v1_fail_step($1, $2, 'x', 'broken', false, NULL)",
               {bad_step.task_id, bad_step.lease_id}) == "failed");
  CHECK(JobStatus(su, bad) == "failed");
  CHECK(VerdictsAsked(su) == 1);
}

TEST_CASE("A job whose every step succeeded ends with its last step, as its verdict would end it", "[job_end]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);

  SECTION("the last of its steps ends it, the others only count") {
    const std::string job = CreatePlannedJob(su, "server.refresh", 2);
    auto got = Claim(disp, "agent-a", "{server.refresh}", 10);
    REQUIRE(got.size() == 2);
    CHECK(Complete(disp, got[0]) == "ok");
    CHECK(EndOf(su, job) == "running progress=50 finished_at=false error=-/- events=[]");
    CHECK(Complete(disp, got[1]) == "ok");
    CHECK(EndOf(su, job) ==
          "succeeded progress=100 finished_at=true error=-/- events=[info job succeeded: 2 of 2 step(s) succeeded "
          "{\"total\": 2, \"failed\": 0, \"status\": \"succeeded\", \"succeeded\": 2} trace=true]");
  }
  SECTION("a job asked to cancel still ends cancelled when its running step succeeds") {
    auto ui = tdb.Connect();
    BecomeUser(ui, AddUser(su, "operator"));
    const std::string job = CreatePlannedJob(su, "server.refresh", 1);
    auto got = Claim(disp, "agent-a", "{server.refresh}", 1);
    REQUIRE(got.size() == 1);
    CHECK(Scalar(ui, "SELECT cancel_job($1)", {job}) == "cancel_requested");
    CHECK(Complete(disp, got[0]) == "ok");
    CHECK(EndOf(su, job) ==
          "cancelled progress=100 finished_at=true error=-/- events=[warn job cancelled: 1 of 1 step(s) succeeded "
          "{\"total\": 1, \"failed\": 0, \"status\": \"cancelled\", \"succeeded\": 1} trace=true]");
  }
  SECTION("in one batch, a job that succeeded and a job with a failed step each end as they should") {
    const std::string good = CreatePlannedJob(su, "server.refresh", 1);
    const std::string bad = CreatePlannedJob(su, "server.refresh", 2);
    auto got = Claim(disp, "agent-a", "{server.refresh}", 10);
    REQUIRE(got.size() == 3);
    // One step of `bad` fails first; the batch then ends `bad`'s other step and `good`'s only one.
    const Claimed* failing = nullptr;
    for (const auto& c : got) {
      if (c.job_id == bad) failing = &c;
    }
    REQUIRE(failing != nullptr);
    CHECK(Scalar(disp, "SELECT dispatcher_v1_fail_step($1, $2, 'x', 'broken', false, NULL)",
                 {failing->task_id, failing->lease_id}) == "failed");
    std::string items = "[";
    for (const auto& c : got) {
      if (&c == failing) continue;
      items += fmt::format(R"({{"task_id":"{}","lease_id":"{}"}})", c.task_id, c.lease_id) + ",";
    }
    items.back() = ']';
    CHECK(Scalar(disp, "SELECT string_agg(outcome, ',') FROM dispatcher_v1_complete_steps($1::jsonb)", {items}) ==
          "ok,ok");
    CHECK(EndOf(su, good) ==
          "succeeded progress=100 finished_at=true error=-/- events=[info job succeeded: 1 of 1 step(s) succeeded "
          "{\"total\": 1, \"failed\": 0, \"status\": \"succeeded\", \"succeeded\": 1} trace=true]");
    CHECK(EndOf(su, bad) ==
          "failed progress=100 finished_at=true error=steps_failed/1 of 2 step(s) failed events=[error job failed: "
          "1 of 2 step(s) succeeded {\"total\": 2, \"failed\": 1, \"status\": \"failed\", \"succeeded\": 1} trace=true]");
  }
}

}  // namespace
}  // namespace dcops::testing

namespace dcops::testing {
namespace {

// What the commit of `conn`'s open transaction will do: SET CONSTRAINTS ... IMMEDIATE runs the
// deferred job-end triggers now, as COMMIT runs them before writing its record. (A statement
// after it that sets synchronous_commit off again would win; COMMIT leaves no such gap.)
std::string CommitWillWaitForFlush(db::Connection& conn) {
  Exec(conn, "SET CONSTRAINTS public.jobs_end_durable IMMEDIATE");
  return Scalar(conn, "SHOW synchronous_commit");
}

TEST_CASE("A transaction that ends a job commits durably, whatever its statements set", "[job_end]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string failed = CreateJob(su, "server.refresh", 1);
  const std::string later = CreateJob(su, "server.refresh", 1);

  SECTION("a job failed in an asynchronous transaction") {
    Exec(disp, "BEGIN");
    Exec(disp, "SET LOCAL synchronous_commit = off");
    CHECK(Scalar(disp, "SELECT dispatcher_v1_fail_job($1, 'plan.no_target', 'no server')", {failed}) == "t");
    CHECK(Scalar(disp, "SHOW synchronous_commit") == "off");  // until commit
    CHECK(CommitWillWaitForFlush(disp) == "on");
    Exec(disp, "COMMIT");
    CHECK(JobStatus(su, failed) == "failed");
  }
  SECTION("a job failed before planning statements turn it off again") {
    Exec(disp, "BEGIN");
    CHECK(Scalar(disp, "SELECT dispatcher_v1_fail_job($1, 'plan.no_target', 'no server')", {failed}) == "t");
    Exec(disp, "SELECT count(*) FROM dispatcher_v1_jobs_to_plan('default', 10)");
    CHECK(Scalar(disp, "SHOW synchronous_commit") == "off");
    CHECK(CommitWillWaitForFlush(disp) == "on");
    Exec(disp, "COMMIT");
  }
  SECTION("a job ended by its last step's count in an asynchronous transaction") {
    const std::string ran = CreatePlannedJob(su, "server.refresh", 1);
    auto got = Claim(disp, "agent-a", "{server.refresh}", 1);
    REQUIRE(got.size() == 1);
    Exec(disp, "BEGIN");
    Exec(disp, "SET LOCAL synchronous_commit = off");
    CHECK(Complete(disp, got[0]) == "ok");
    CHECK(CommitWillWaitForFlush(disp) == "on");
    Exec(disp, "COMMIT");
    CHECK(JobStatus(su, ran) == "succeeded");
  }
  SECTION("a transaction that ends no job stays as its statements set it") {
    Exec(disp, "BEGIN");
    CHECK(Scalar(disp, "SELECT count(*) FROM dispatcher_v1_jobs_to_plan('default', 10)") == "2");
    CHECK(CommitWillWaitForFlush(disp) == "off");
    Exec(disp, "COMMIT");
    CHECK(JobStatus(su, later) == "pending");
  }
}

}  // namespace
}  // namespace dcops::testing
