// Jobs that pause (cluster.rolling_update, issue 18): a step's failure its params name pauses
// the job; an operator resumes it (retry, evacuate, skip_host) or cancels it. And what
// planning a rolling update reads of a cluster.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>

#include "control_plane.hpp"

namespace dcops::testing {
namespace {

constexpr const char* kHostA = "a0000000-0000-0000-0000-00000000000a";
constexpr const char* kHostB = "a0000000-0000-0000-0000-00000000000b";

// A rolling job over hosts a and b as the planner lays it out: check → enter → exit per host,
// b's check after a's exit. Entries pause on blockers, checks on anything.
std::string PlanRollingJob(db::Connection& su) {
  const std::string vc = Scalar(su, "INSERT INTO vcenters (name, address) VALUES ('vc', '127.0.9.9') RETURNING id", {});
  const std::string cluster = Scalar(su, "INSERT INTO vcenter_clusters (vcenter_id, moref, name) VALUES ($1, 'domain-c1', 'prod') RETURNING id", {vc});
  const std::string job = Scalar(su, "SELECT dispatcher_v1_create_job('default', 'cluster.rolling_update', "
                                     "jsonb_build_object('cluster_id', $1::text), "
                                     "'{\"firmware\":{\"method\":\"simple_update\",\"image_uri\":\"http://127.0.0.1/f\"}}')",
                                 {cluster});
  auto step = [](const char* key, const char* kind, const char* host, const char* name, const char* params,
                 const char* after) {
    return fmt::format(R"({{"key":"{}","kind":"{}","target":"esxi:{}","params":{{{}"_rolling":{{"host_id":"{}","host":"{}"}}}},"depends_on":[{}]}})",
                       key, kind, host, params, host, name, after);
  };
  const std::string steps =
      "[" + step("check:a", "cluster.safety_check", kHostA, "esx-a", R"("_pause_on":["*"],)", "") + "," +
      step("enter:a", "host.maintenance", kHostA, "esx-a", R"("action":"enter","_pause_on":["esxi.blocked","esxi.maintenance_timeout"],)", R"("check:a")") + "," +
      step("exit:a", "host.maintenance", kHostA, "esx-a", R"("action":"exit",)", R"("enter:a")") + "," +
      step("check:b", "cluster.safety_check", kHostB, "esx-b", R"("_pause_on":["*"],)", R"("exit:a")") + "," +
      step("enter:b", "host.maintenance", kHostB, "esx-b", R"("action":"enter","_pause_on":["esxi.blocked","esxi.maintenance_timeout"],)", R"("check:b")") + "," +
      step("exit:b", "host.maintenance", kHostB, "esx-b", R"("action":"exit",)", R"("enter:b")") + "]";
  REQUIRE(Scalar(su, "SELECT dispatcher_v1_plan_job($1, $2::jsonb)", {job, steps}) == "6");
  return job;
}

const char* kKinds = "{cluster.safety_check,host.maintenance}";

std::string KeyOf(db::Connection& su, const Claimed& c) {
  return Scalar(su, "SELECT step_key FROM job_tasks WHERE id = $1", {c.task_id});
}

// Claims the one ready step, which must be `key`.
Claimed Next(db::Connection& su, db::Connection& disp, const std::string& key) {
  auto got = Claim(disp, "agent-e", kKinds, 10);
  REQUIRE(got.size() == 1);
  REQUIRE(KeyOf(su, got[0]) == key);
  return got[0];
}

void Succeed(db::Connection& disp, const Claimed& c, const std::string& result = "{}") {
  REQUIRE(Scalar(disp, "SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object("
                       "'task_id', $1::uuid, 'lease_id', $2::uuid, 'result', $3::jsonb))))",
                 {c.task_id, c.lease_id, result}) == "ok");
}

std::string Fail(db::Connection& disp, const Claimed& c, const std::string& code, bool retryable = false) {
  return Scalar(disp, "SELECT dispatcher_v1_fail_step($1, $2, $3, $4, $5)",
                {c.task_id, c.lease_id, code, "esx-a cannot enter maintenance: vm_local_storage (db-01)",
                 retryable ? "true" : "false"});
}

std::string StepStatus(db::Connection& su, const std::string& job, const std::string& key) {
  return Scalar(su, "SELECT status || coalesce(':' || error_code, '') FROM job_tasks WHERE job_id = $1 AND step_key = $2",
                {job, key});
}

TEST_CASE("A blocked entry pauses its job with the blockers and an operator resumes it (a viewer may not)", "[pause]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  auto op = tdb.Connect();
  BecomeUser(op, AddUser(su, "operator"));
  auto viewer = tdb.Connect();
  BecomeUser(viewer, AddUser(su, "viewer"));
  const std::string job = PlanRollingJob(su);

  Succeed(disp, Next(su, disp, "check:a"), R"({"verdicts":[{"name":"esx-a","blockers":[{"kind":"local_storage","vm_name":"db-01"}]}]})");
  const Claimed enter = Next(su, disp, "enter:a");
  REQUIRE(Scalar(disp, "SELECT dispatcher_v1_save_checkpoint($1, $2, '{\"phase\":\"sending\"}')", {enter.task_id, enter.lease_id}) == "t");
  CHECK(Fail(disp, enter, "esxi.blocked") == "paused");
  CHECK(JobStatus(su, job) == "paused");
  CHECK(StepStatus(su, job, "enter:a") == "paused:esxi.blocked");
  CHECK(Scalar(su, "SELECT pause ->> 'step' FROM jobs WHERE id = $1", {job}) == "enter:a");
  CHECK(Scalar(su, "SELECT pause ->> 'host' FROM jobs WHERE id = $1", {job}) == "esx-a");
  CHECK(Scalar(su, "SELECT pause #>> '{safety_report,verdicts,0,blockers,0,vm_name}' FROM jobs WHERE id = $1", {job}) == "db-01");
  CHECK(Scalar(su, "SELECT count(*) FROM job_events WHERE job_id = $1 AND level = 'warn' AND data ->> 'paused' = 'true' "
                   "AND message LIKE 'job paused at step enter:a: esx-a cannot enter maintenance%' "
                   "AND data #>> '{blockers,0,kind}' = 'local_storage'", {job}) == "1");
  CHECK(Claim(disp, "agent-e", kKinds, 10).empty());  // nothing else runs while it is paused

  auto refused = ExecError(viewer, "SELECT resume_job($1, 'retry')", {job});
  CHECK(refused.sqlstate == "42501");
  auto unknown = ExecError(op, "SELECT resume_job($1, 'ignore')", {job});
  CHECK(unknown.sqlstate == "22023");
  CHECK(unknown.message.find("resolution: must be one of retry, evacuate, skip_host") != std::string::npos);
  CHECK(JobStatus(su, job) == "paused");

  CHECK(Scalar(op, "SELECT resume_job($1, 'evacuate')", {job}) == "running");
  CHECK(Scalar(su, "SELECT pause IS NULL FROM jobs WHERE id = $1", {job}) == "t");
  // Powered-off VMs move now; the step starts afresh (no checkpoint of the paused attempt to follow).
  CHECK(Scalar(su, "SELECT (params ->> 'evacuate_powered_off') || ':' || attempt || ':' || (checkpoint IS NULL) FROM job_tasks "
                   "WHERE job_id = $1 AND step_key = 'enter:a'",
               {job}) == "true:0:true");
  CHECK(Scalar(su, "SELECT count(*) FROM audit_log WHERE action = 'job.resume' AND object_id = $1 AND actor_role = 'operator' "
                   "AND details ->> 'resolution' = 'evacuate'", {job}) == "1");
  auto again = ExecError(op, "SELECT resume_job($1, 'retry')", {job});
  CHECK(again.sqlstate == "22023");
  CHECK(again.message.find("is running, not paused") != std::string::npos);

  const Claimed retried = Next(su, disp, "enter:a");
  CHECK(retried.attempt == 1);
  Succeed(disp, retried);
  Succeed(disp, Next(su, disp, "exit:a"));
  for (const char* key : {"check:b", "enter:b", "exit:b"}) Succeed(disp, Next(su, disp, key));
  CHECK(JobStatus(su, job) == "succeeded");
}

TEST_CASE("Skipping a paused host skips its remaining steps and goes on with the next host", "[pause]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string job = PlanRollingJob(su);
  Succeed(disp, Next(su, disp, "check:a"));
  CHECK(Fail(disp, Next(su, disp, "enter:a"), "esxi.blocked") == "paused");

  CHECK(Scalar(disp, "SELECT dispatcher_v1_resume_job($1, 'skip_host', 'alice')", {job}) == "running");
  CHECK(StepStatus(su, job, "enter:a") == "skipped:operator_skipped");
  CHECK(StepStatus(su, job, "exit:a") == "skipped:operator_skipped");
  // Nothing was sent for esx-a: its exit is skipped too, and check:b waits on what the skipped
  // steps waited on (check:a, done): it is released.
  CHECK(StepStatus(su, job, "check:b") == "ready");
  CHECK(Scalar(su, "SELECT string_agg(p.step_key, ',') FROM job_task_deps d JOIN job_tasks c ON c.id = d.task_id "
                   "JOIN job_tasks p ON p.id = d.depends_on WHERE c.job_id = $1 AND c.step_key = 'check:b'", {job}) == "check:a");
  CHECK(Scalar(su, "SELECT count(*) FROM job_events WHERE job_id = $1 AND message LIKE '%host esx-a skipped (2 step(s) not run)%'",
               {job}) == "1");
  CHECK(Scalar(su, "SELECT actor_role FROM audit_log WHERE action = 'job.resume' AND object_id = $1", {job}) == "dispatcher:alice");
  for (const char* key : {"check:b", "enter:b", "exit:b"}) Succeed(disp, Next(su, disp, key));
  // The operator chose to skip: the job did what it was told.
  CHECK(JobStatus(su, job) == "succeeded");
  CHECK(Scalar(su, "SELECT steps_succeeded || '/' || steps_finished || '/' || steps_total FROM jobs WHERE id = $1", {job}) == "4/6/6");
}

TEST_CASE("Skipping a host whose entry had reached vCenter still runs its exit before the next host", "[pause]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string job = PlanRollingJob(su);
  Succeed(disp, Next(su, disp, "check:a"));
  const Claimed enter = Next(su, disp, "enter:a");
  REQUIRE(Scalar(disp, "SELECT dispatcher_v1_save_checkpoint($1, $2, '{\"phase\":\"sent\",\"task\":\"task-7\"}')",
                 {enter.task_id, enter.lease_id}) == "t");
  CHECK(Fail(disp, enter, "esxi.maintenance_timeout") == "paused");
  CHECK(Scalar(disp, "SELECT dispatcher_v1_resume_job($1, 'skip_host', 'alice')", {job}) == "running");
  CHECK(StepStatus(su, job, "enter:a") == "skipped:operator_skipped");
  // The host may have entered after all: its exit runs (a no-op if it is out), then host b.
  CHECK(StepStatus(su, job, "exit:a") == "ready");
  CHECK(StepStatus(su, job, "check:b") == "blocked");
  Succeed(disp, Next(su, disp, "exit:a"));
  for (const char* key : {"check:b", "enter:b", "exit:b"}) Succeed(disp, Next(su, disp, key));
  CHECK(JobStatus(su, job) == "succeeded");
  CHECK(Scalar(su, "SELECT steps_succeeded || '/' || steps_total FROM jobs WHERE id = $1", {job}) == "5/6");
}

TEST_CASE("Retries come before a pause, a paused job cancels at once, a failure that does not pause fails the job", "[pause]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);

  SECTION("a check that keeps failing pauses once its attempts are spent") {
    const std::string job = PlanRollingJob(su);
    const Claimed first = Next(su, disp, "check:a");
    CHECK(Fail(disp, first, "vsphere.unreachable", true) == "retry_scheduled");
    CHECK(JobStatus(su, job) == "running");
    Exec(su, "UPDATE job_tasks SET run_after = now() WHERE id = $1", {first.task_id});
    const Claimed last = Next(su, disp, "check:a");
    REQUIRE(last.attempt == 2);  // cluster.safety_check has two attempts
    CHECK(Fail(disp, last, "vsphere.unreachable", true) == "paused");
    CHECK(JobStatus(su, job) == "paused");

    CHECK(Scalar(disp, "SELECT dispatcher_v1_cancel_job($1, 'alice')", {job}) == "cancelled");
    CHECK(JobStatus(su, job) == "cancelled");
    CHECK(StepStatus(su, job, "check:a") == "cancelled:cancelled");
    CHECK(Scalar(su, "SELECT count(*) FROM job_tasks WHERE job_id = $1 AND status = 'cancelled'", {job}) == "6");
  }
  SECTION("a check whose agent keeps dying pauses once its attempts are spent, as a failure would") {
    const std::string job = PlanRollingJob(su);
    for (int attempt = 1; attempt <= 2; ++attempt) {
      const Claimed c = Next(su, disp, "check:a");
      REQUIRE(c.attempt == attempt);
      Exec(su, "UPDATE job_tasks SET lease_expires_at = now() - interval '1 s' WHERE id = $1", {c.task_id});
      CHECK(Scalar(disp, "SELECT new_status FROM dispatcher_v1_rescue_expired('default')", {}) ==
            (attempt == 1 ? "ready" : "paused"));
      Exec(su, "UPDATE job_tasks SET run_after = now() WHERE job_id = $1 AND status = 'ready'", {job});
    }
    CHECK(JobStatus(su, job) == "paused");
    CHECK(StepStatus(su, job, "check:a") == "paused:lease_expired");
    CHECK(Scalar(su, "SELECT pause ->> 'error_code' FROM jobs WHERE id = $1", {job}) == "lease_expired");
    CHECK(Scalar(su, "SELECT count(*) FROM job_events WHERE job_id = $1 AND data ->> 'paused' = 'true' "
                     "AND message LIKE 'job paused at step check:a: lease of agent agent-e expired%'", {job}) == "1");
    CHECK(Scalar(disp, "SELECT dispatcher_v1_resume_job($1, 'retry', 'alice')", {job}) == "running");
    Succeed(disp, Next(su, disp, "check:a"));
  }
  SECTION("an entry that failed unsafely fails the job; the next host is never touched") {
    const std::string job = PlanRollingJob(su);
    Succeed(disp, Next(su, disp, "check:a"));
    CHECK(Fail(disp, Next(su, disp, "enter:a"), "esxi.undo_failed") == "failed");
    CHECK(JobStatus(su, job) == "failed");
    CHECK(StepStatus(su, job, "check:b") == "skipped:dependency_skipped");
    auto not_paused = ExecError(disp, "SELECT dispatcher_v1_resume_job($1, 'retry', 'alice')", {job});
    CHECK(not_paused.sqlstate == "22023");
    CHECK(not_paused.message.find("is failed, not paused") != std::string::npos);
  }
}

TEST_CASE("Two hosts of a wave paused at once: the job stays paused until each is resolved", "[pause]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string vc = Scalar(su, "INSERT INTO vcenters (name, address) VALUES ('vc', '127.0.9.9') RETURNING id", {});
  const std::string cluster = Scalar(su, "INSERT INTO vcenter_clusters (vcenter_id, moref, name) VALUES ($1, 'domain-c1', 'prod') RETURNING id", {vc});
  const std::string job = Scalar(su, "SELECT dispatcher_v1_create_job('default', 'cluster.rolling_update', "
                                     "jsonb_build_object('cluster_id', $1::text), "
                                     "'{\"firmware\":{\"method\":\"simple_update\",\"image_uri\":\"http://127.0.0.1/f\"}}')",
                                 {cluster});
  const std::string steps = fmt::format(
      R"([{{"key":"check:a","kind":"cluster.safety_check","target":"esxi:{a}","params":{{"_pause_on":["*"],"_rolling":{{"host_id":"{a}","host":"esx-a"}}}}}},)"
      R"({{"key":"check:b","kind":"cluster.safety_check","target":"esxi:{b}","params":{{"_pause_on":["*"],"_rolling":{{"host_id":"{b}","host":"esx-b"}}}}}}])",
      fmt::arg("a", kHostA), fmt::arg("b", kHostB));
  REQUIRE(Scalar(su, "SELECT dispatcher_v1_plan_job($1, $2::jsonb)", {job, steps}) == "2");
  auto both = Claim(disp, "agent-e", kKinds, 10);
  REQUIRE(both.size() == 2);
  std::sort(both.begin(), both.end(), [&](const Claimed& x, const Claimed& y) { return KeyOf(su, x) > KeyOf(su, y); });
  for (const auto& c : both) {  // b's check pauses first, then a's
    Exec(su, "UPDATE job_tasks SET attempt = max_attempts WHERE id = $1", {c.task_id});  // the last attempt
    CHECK(Scalar(disp, "SELECT dispatcher_v1_fail_step($1, $2, 'vsphere.unreachable', 'vCenter did not answer', false)",
                 {c.task_id, c.lease_id}) == "paused");
  }
  CHECK(JobStatus(su, job) == "paused");
  CHECK(Scalar(su, "SELECT pause ->> 'step' FROM jobs WHERE id = $1", {job}) == "check:b");
  // The resolution applies to the step the pause names (what the operator read), and the job
  // stays paused at the other one, said so.
  CHECK(Scalar(disp, "SELECT dispatcher_v1_resume_job($1, 'skip_host', 'alice')", {job}) == "paused");
  CHECK(StepStatus(su, job, "check:b") == "skipped:operator_skipped");
  CHECK(StepStatus(su, job, "check:a") == "paused:vsphere.unreachable");
  CHECK(Scalar(su, "SELECT pause ->> 'step' FROM jobs WHERE id = $1", {job}) == "check:a");
  CHECK(Scalar(su, "SELECT count(*) FROM job_events WHERE job_id = $1 AND message LIKE 'job still paused, at step check:a:%'", {job}) == "1");
  CHECK(Scalar(disp, "SELECT dispatcher_v1_resume_job($1, 'retry', 'alice')", {job}) == "running");
  Succeed(disp, Next(su, disp, "check:a"));
  CHECK(JobStatus(su, job) == "succeeded");
}

TEST_CASE("A rolling update is created with firmware, ESXi or both to apply, each checked as its own step's params", "[pause][rolling]") {
  TestDb tdb;
  auto su = tdb.Connect();
  const std::string vc = Scalar(su, "INSERT INTO vcenters (name, address) VALUES ('vc', '127.0.9.9') RETURNING id", {});
  const std::string cluster = Scalar(su, "INSERT INTO vcenter_clusters (vcenter_id, moref, name) VALUES ($1, 'domain-c1', 'prod') RETURNING id", {vc});
  auto create = [&](const std::string& params) {
    return ExecError(su, "SELECT dispatcher_v1_create_job('default', 'cluster.rolling_update', jsonb_build_object('cluster_id', $1::text), $2::jsonb)",
                     {cluster, params});
  };
  auto nothing = create(R"({"backup":true})");
  CHECK(nothing.sqlstate == "22023");
  CHECK(nothing.message.find("params.firmware: is required, or params.esxi: is required") != std::string::npos);
  auto bad_fw = create(R"({"firmware":{"method":"carrier_pigeon"}})");
  CHECK(bad_fw.message.find("params.firmware.method: must be one of") != std::string::npos);
  auto bad_esxi = create(R"({"esxi":{"depot":"/vmfs/volumes/ds/d.zip"}})");
  CHECK(bad_esxi.message.find("params.esxi.profile: is required") != std::string::npos);
  CHECK(Scalar(su, "SELECT dispatcher_v1_create_job('default', 'cluster.rolling_update', jsonb_build_object('cluster_id', $1::text), "
                   "'{\"esxi\":{\"depot\":\"/vmfs/volumes/ds/d.zip\",\"profile\":\"P\"},\"quiet_seconds\":0}') IS NOT NULL",
               {cluster}) == "t");
}

TEST_CASE("Planning a rolling update reads the cluster's hosts, vCenter's own host last, with their links", "[pause][rolling]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string vc = Scalar(su, "INSERT INTO vcenters (site, name, address) VALUES ('default', 'vc', 'vcsa.lab.local') RETURNING id", {});
  const std::string cluster = Scalar(su, "INSERT INTO vcenter_clusters (vcenter_id, moref, name, vsan_enabled) "
                                         "VALUES ($1, 'domain-c1', 'prod', true) RETURNING id", {vc});
  const std::string s1 = Scalar(su, "INSERT INTO servers (bmc_address, service_tag) VALUES ('127.0.9.1', 'AAA1111') RETURNING id", {});
  const std::string s2 = Scalar(su, "INSERT INTO servers (bmc_address, service_tag) VALUES ('127.0.9.2', 'BBB2222') RETURNING id", {});
  auto host = [&](const char* moref, const char* name, const std::string& server) {
    return Scalar(su, "INSERT INTO vcenter_hosts (vcenter_id, cluster_id, moref, name, connection_state, server_id) "
                      "VALUES ($1, $2, $3, $4, 'connected', nullif($5, '')::uuid) RETURNING id",
                  {vc, cluster, moref, name, server});
  };
  const std::string h1 = host("host-1", "esx-1", s1);
  const std::string h2 = host("host-2", "esx-2", s2);
  const std::string h3 = host("host-3", "esx-3", "");
  const std::string h4 = host("host-4", "esx-4", s2);
  // esx-1 runs vCenter's own VM; esx-4's link is disputed.
  Exec(su, "INSERT INTO vcenter_vms (vcenter_id, host_id, moref, name, guest_hostname) VALUES ($1, $2, 'vm-1', 'vcsa', 'VCSA.lab.local')",
       {vc, h1});
  Exec(su, "INSERT INTO server_identity_conflicts (kind, subject, message, host_id) VALUES "
           "('host_link', 'host:x/host-4', 'two servers answer to tag BBB2222', $1)", {h4});

  const std::string hosts = Scalar(disp, "SELECT jsonb_path_query_array(dispatcher_v1_rolling_hosts('default', $1), '$.hosts[*].name')::text",
                                   {cluster});
  CHECK(hosts == R"(["esx-2", "esx-3", "esx-4", "esx-1"])");
  CHECK(Scalar(disp, "SELECT dispatcher_v1_rolling_hosts('default', $1) ->> 'vsan_enabled'", {cluster}) == "true");
  auto field = [&](int i, const char* path) {
    return Scalar(disp, fmt::format("SELECT dispatcher_v1_rolling_hosts('default', $1) #>> '{{hosts,{},{}}}'", i, path), {cluster});
  };
  CHECK(field(0, "server,bmc_address") == "127.0.9.2");
  CHECK(field(0, "link_problem") == "");
  CHECK(field(1, "link_problem") == "it is linked to no server (no BMC to update)");
  CHECK(field(2, "link_problem") == "its server link is in conflict: two servers answer to tag BBB2222");
  CHECK(field(3, "runs_vcenter") == "true");
  CHECK(field(3, "host_id") == h1);
  // Another site's dispatcher, or a cluster that is not there, reads nothing.
  CHECK(Scalar(disp, "SELECT dispatcher_v1_rolling_hosts('other', $1) IS NULL", {cluster}) == "t");
  CHECK(Scalar(disp, "SELECT dispatcher_v1_rolling_hosts('default', gen_random_uuid()) IS NULL", {}) == "t");
  (void)h2;
  (void)h3;
}

}  // namespace
}  // namespace dcops::testing
