// Pruning by age, and schedules that fire jobs.
#include <catch2/catch.hpp>

#include "control_plane.hpp"

namespace dcops::testing {
namespace {

TEST_CASE("Pruning deletes only finished jobs older than the retention", "[retention]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto finish = [&](const std::string& job) {
    BecomeDispatcher(su);
    for (const auto& c : Claim(su, "agent-a", "{server.refresh}", 10)) {
      Scalar(su, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object('task_id', $1::uuid, 'lease_id', $2::uuid))))", {c.task_id, c.lease_id});
    }
    BecomeSuperuser(su);
    REQUIRE(JobStatus(su, job) == "succeeded");
  };
  const std::string old_done = CreatePlannedJob(su, "server.refresh", 2);
  finish(old_done);
  const std::string recent_done = CreatePlannedJob(su, "server.refresh", 1);
  finish(recent_done);
  const std::string old_failed = CreateJob(su, "server.refresh", 1);
  Scalar(su, "SELECT dispatcher_v1_fail_job($1, 'x', 'y')", {old_failed});
  const std::string old_running = CreatePlannedJob(su, "server.refresh", 1);
  Exec(su, "UPDATE jobs SET finished_at = now() - interval '10 days' WHERE id IN ($1, $2)",
       {old_done, old_failed});
  Exec(su, "UPDATE jobs SET created_at = now() - interval '30 days' WHERE id = $1", {old_running});

  BecomeDispatcher(su);
  CHECK(Scalar(su, "SELECT dispatcher_v1_prune(interval '7 days')") == "2");
  CHECK(Scalar(su, "SELECT dispatcher_v1_prune(interval '7 days')") == "0");
  CHECK(ExecError(su, "SELECT dispatcher_v1_prune(interval '1 minute')").message ==
        "SQLSTATE 22023: retention: must be at least 1 hour");
  BecomeSuperuser(su);
  CHECK(Scalar(su, "SELECT string_agg(id::text, ',' ORDER BY created_at) FROM jobs") ==
        old_running + "," + recent_done);
  CHECK(Scalar(su, "SELECT count(*) FROM job_tasks WHERE job_id IN ($1, $2)", {old_done, old_failed}) == "0");
  CHECK(Scalar(su, "SELECT count(*) FROM job_events WHERE job_id IN ($1, $2)", {old_done, old_failed}) == "0");
  CHECK(Scalar(su, "SELECT count(*) FROM job_events WHERE job_id = $1", {recent_done}) != "0");
}

TEST_CASE("Pruning deletes log entries older than the retention and keeps backups", "[retention]") {
  TestDb tdb;
  auto su = tdb.Connect();
  const std::string server = Scalar(su, "INSERT INTO servers(bmc_address) VALUES ('127.0.9.9') RETURNING id");
  Exec(su, "INSERT INTO server_log_entries(server_id, log, entry_id, created) VALUES "
           "($1, 'sel', '1', now() - interval '40 days'), ($1, 'sel', '2', now() - interval '2 days'), "
           "($1, 'lifecycle', '9', now() - interval '31 days')", {server});
  Exec(su, "INSERT INTO server_config_backups(server_id, format, content, sha256, size_bytes, created_at) "
           "VALUES ($1, 'XML', '<SystemConfiguration/>', 'x', 22, now() - interval '400 days')", {server});
  BecomeDispatcher(su);
  CHECK(Scalar(su, "SELECT dispatcher_v1_prune(interval '30 days')") == "0");
  BecomeSuperuser(su);
  CHECK(Scalar(su, "SELECT string_agg(log || ':' || entry_id, ',') FROM server_log_entries") == "sel:2");
  CHECK(Scalar(su, "SELECT count(*) FROM server_config_backups") == "1");
}

TEST_CASE("A due schedule fires one job and never piles runs up", "[schedules]") {
  TestDb tdb;
  auto su = tdb.Connect();
  const std::string vc = Scalar(su, "INSERT INTO vcenters(name, address) VALUES ('vc', '127.0.2.1') RETURNING id");
  const std::string schedule = Scalar(
      su, "INSERT INTO schedules(name, job_type, target_scope, interval_seconds) VALUES "
          "('vc sync', 'inventory.vcenter_sync', jsonb_build_object('vcenter_id', $1::text), 900) "
          "RETURNING id", {vc});
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  auto fired = Exec(disp, "SELECT * FROM dispatcher_v1_fire_due_schedules('default')");
  REQUIRE(fired.size() == 1);
  const std::string job = fired.Str(0, "job_id");
  CHECK(Scalar(su, "SELECT created_via || '/' || schedule_id FROM jobs WHERE id = $1", {job}) ==
        "schedule/" + schedule);
  CHECK(Exec(disp, "SELECT * FROM dispatcher_v1_fire_due_schedules('default')").empty());  // not due
  Exec(su, "UPDATE schedules SET next_run_at = now() - interval '1 second'");
  CHECK(Exec(disp, "SELECT * FROM dispatcher_v1_fire_due_schedules('default')").empty());  // still running
  CHECK(Scalar(su, "SELECT next_run_at > now() FROM schedules") == "t");
  CHECK(Scalar(su, "SELECT count(*) FROM jobs") == "1");
  // Its target vanishes: the schedule is disabled with the reason, not retried forever.
  Scalar(su, "SELECT dispatcher_v1_cancel_job($1, 'test')", {job});  // the sync is over
  Exec(su, "DELETE FROM vcenters");
  Exec(su, "UPDATE schedules SET next_run_at = now() - interval '1 second'");
  CHECK(Exec(disp, "SELECT * FROM dispatcher_v1_fire_due_schedules('default')").empty());
  CHECK(Scalar(su, "SELECT enabled FROM schedules") == "f");
  CHECK(Scalar(su, "SELECT details ->> 'reason' FROM audit_log WHERE action = 'schedule.disable'")
            .find("target_scope.vcenter_id: nothing with id") != std::string::npos);
}

}  // namespace
}  // namespace dcops::testing
