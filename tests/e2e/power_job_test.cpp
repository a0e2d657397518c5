// End to end: real PostgreSQL with the real migrations, the real job-dispatcher and
// idrac-worker processes talking gRPC, and the Redfish fleet simulator.
#include <rapidjson/document.h>
#include <signal.h>

#include <catch2/catch.hpp>

#include "site.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;

const std::string kAllServers = R"({"all_servers":true})";
// Power jobs take explicit servers (no "all servers" by accident).
const std::string kEveryServerId =
    "SELECT jsonb_build_object('server_ids', jsonb_agg(id))::text FROM servers";

rapidjson::Document Fleet(Site& site) {
  rapidjson::Document d;
  d.Parse(site.FleetJson().c_str());
  REQUIRE(d.IsArray());
  return d;
}

TEST_CASE("A power job on 20 BMCs: one effective reset each, limits and session caps held, "
          "no secret anywhere", "[e2e]") {
  Site site({20, "127.0.60.1", 400, 30, "1s"});
  site.StartWorker("worker-a");
  site.StartWorker("worker-b");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "2"; },
                    seconds(20)));
  const std::string job = site.CreateJob("server.power", site.Sql(kEveryServerId), R"({"action":"ForceRestart"})");
  REQUIRE(site.WaitForJob(job, seconds(60)) == "succeeded");
  CHECK(site.Sql("SELECT count(*) FROM job_tasks WHERE job_id = $1 AND status = 'succeeded' AND attempt = 1",
                 {job}) == "20");
  auto fleet = Fleet(site);
  REQUIRE(fleet.Size() == 20);
  for (const auto& b : fleet.GetArray()) {
    INFO(b["address"].GetString());
    CHECK(b["counters"]["effective_resets"].GetInt() == 1);
    CHECK(b["counters"]["concurrent_high"].GetInt() <= 2);  // the per-target limit
    CHECK(b["counters"]["mutating_concurrent_high"].GetInt() == 1);  // the reset, alone
    CHECK(b["counters"]["sessions_high"].GetInt() <= 2);    // one per agent at most, never the cap
    CHECK(b["counters"]["sessions_refused"].GetInt() == 0);
  }
  // The job's live log, and a refresh that fills the inventory.
  CHECK(site.Sql("SELECT count(*) FROM job_events WHERE job_id = $1 AND message LIKE 'sending ResetType%'",
                 {job}) == "20");
  const std::string refresh = site.CreateJob("server.refresh", kAllServers, "{}");
  REQUIRE(site.WaitForJob(refresh, seconds(60)) == "succeeded");
  CHECK(site.Sql("SELECT count(*) FROM servers WHERE service_tag IS NOT NULL AND model LIKE 'PowerEdge%'") == "20");

  const std::string logs = site.AllLogs() + site.Sql("SELECT string_agg(message || coalesce(data::text, ''), ' ') FROM job_events");
  CHECK(logs.find(site.bmc_password()) == std::string::npos);
  CHECK(logs.find(site.token()) == std::string::npos);
}

TEST_CASE("Two mutating jobs on the same BMCs at once: one mutating action per BMC at a time, as its limit says",
          "[e2e]") {
  Site site({5, "127.0.136.1", 400, 30, "1s"});
  site.StartWorker("worker-a");
  site.StartWorker("worker-b");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "2"; },
                    seconds(20)));
  // Requests take time, as on a real iDRAC: two mutating steps let run at once on one BMC would
  // have their writes in flight together, which the simulator counts.
  for (int i = 1; i <= 5; ++i) REQUIRE(site.SetFaults("127.0.136." + std::to_string(i), R"({"latency_ms":150})"));
  const std::string ids = site.Sql(kEveryServerId);
  const std::string power = site.CreateJob("server.power", ids, R"({"action":"ForceRestart"})");
  const std::string boot = site.CreateJob("server.boot", ids, R"({"mode":"once","target":"Pxe"})");
  REQUIRE(site.WaitForJob(power, seconds(90)) == "succeeded");
  REQUIRE(site.WaitForJob(boot, seconds(90)) == "succeeded");
  auto fleet = Fleet(site);
  REQUIRE(fleet.Size() == 5);
  for (const auto& b : fleet.GetArray()) {
    INFO(b["address"].GetString());
    CHECK(b["counters"]["mutating_concurrent_high"].GetInt() == 1);  // limit: 1 mutating step per iDRAC
    // Both took effect, in whichever order: the one-time PXE boot is pending, or the reset
    // that came after it has used it.
    CHECK((std::string(b["boot"]["override"].GetString()) == "Pxe" ||
           std::string(b["boot"]["last_boot_source"].GetString()) == "Pxe"));
    CHECK(b["counters"]["effective_resets"].GetInt() == 1);
  }
}

TEST_CASE("An agent killed mid-step: the step is rescued and resumes without a second reset", "[e2e]") {
  Site site({1, "127.0.61.1", 6000, 5, "1s"});
  auto& doomed = site.StartWorker("worker-doomed");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; },
                    seconds(20)));
  const std::string job = site.CreateJob("server.power", site.Sql(kEveryServerId), R"({"action":"ForceRestart"})");
  // The reset was accepted and checkpointed: now the agent dies without a word.
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM job_tasks WHERE checkpoint ->> 'phase' = 'sent'") == "1"; },
                    seconds(30)));
  doomed.Signal(SIGKILL);
  site.StartWorker("worker-rescuer");
  REQUIRE(site.WaitForJob(job, seconds(60)) == "succeeded");
  CHECK(site.Sql("SELECT attempt FROM job_tasks WHERE job_id = $1", {job}) == "2");
  CHECK(site.Sql("SELECT count(*) FROM job_events WHERE job_id = $1 AND message LIKE '%lease of agent worker-doomed expired%'",
                 {job}) == "1");
  auto fleet = Fleet(site);
  CHECK(fleet[0]["counters"]["effective_resets"].GetInt() == 1);
}

// Issue 13's chaos finding: each kill -9 left a session on every BMC the worker had used, until
// the BMCs' caps were full and logins were refused (RAC0218). A worker restarted under its id
// now logs out what its predecessor journaled before it serves.
TEST_CASE("A worker killed again and again leaves at most its in-flight sessions, and later jobs still succeed",
          "[e2e][attack]") {
  Site site({4, "127.0.93.1", 400, 30, "1s"});
  for (int trial = 0; trial < 8; ++trial) {
    INFO("trial " << trial);
    auto& worker = site.StartWorker("worker-chaos");
    REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; },
                      seconds(20)));
    // Reclaiming happens before the worker connects: what the last one left is gone already.
    auto fleet = Fleet(site);
    for (const auto& b : fleet.GetArray()) CHECK(b["sessions"].GetInt() <= 2);
    const std::string job = site.CreateJob("server.refresh", kAllServers, "{}");
    REQUIRE(site.WaitForJob(job, seconds(60)) == "succeeded");
    fleet = Fleet(site);
    for (const auto& b : fleet.GetArray()) CHECK(b["sessions"].GetInt() <= 2);
    worker.Signal(SIGKILL);
    REQUIRE(WaitUntil([&] { return !worker.Running(); }, seconds(10)));
    REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "0"; },
                      seconds(20)));
  }
  site.StartWorker("worker-chaos");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; },
                    seconds(20)));
  const std::string last = site.CreateJob("server.power", site.Sql(kEveryServerId), R"({"action":"On"})");
  REQUIRE(site.WaitForJob(last, seconds(60)) == "succeeded");
  auto fleet = Fleet(site);
  for (const auto& b : fleet.GetArray()) {
    INFO(b["address"].GetString());
    CHECK(b["sessions"].GetInt() <= 2);
    CHECK(b["counters"]["sessions_refused"].GetInt() == 0);
    CHECK(b["counters"]["sessions_created"].GetInt() == 9);  // one per life: reused within it
  }
}

TEST_CASE("A result that echoes a password is stored scrubbed, like events", "[e2e][attack]") {
  Site site({1, "127.0.94.1", 400, 30, "1s"});
  const std::string job = site.CreateJob("server.power", site.Sql(kEveryServerId), R"({"action":"On"})");
  CHECK(site.AnswerAs("worker-echo", [](const std::string& password) {
    return R"({"power_state":"On","bmc_said":"login as root/)" + password + R"( ok"})";
  }) == "");
  REQUIRE(site.WaitForJob(job, seconds(30)) == "succeeded");
  const std::string stored = site.Sql("SELECT result::text FROM job_tasks WHERE job_id = $1", {job});
  CHECK(stored.find("[REDACTED]") != std::string::npos);
  CHECK(stored.find(site.bmc_password()) == std::string::npos);
}

// Issue 14: SIGTERM mid-step logged SUCCEEDED, but the stream was cancelled before the result
// went out; the lease expired and another worker ran attempt 2.
TEST_CASE("A worker told to stop mid-step finishes it and delivers the result before it exits", "[e2e]") {
  Site site({1, "127.0.96.1", 3000, 30, "1s"});
  auto& worker = site.StartWorker("worker-leaving");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; },
                    seconds(20)));
  const std::string job = site.CreateJob("server.power", site.Sql(kEveryServerId), R"({"action":"ForceRestart"})");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM job_tasks WHERE checkpoint ->> 'phase' = 'sent'") == "1"; },
                    seconds(30)));
  worker.Signal(SIGTERM);
  REQUIRE(WaitUntil([&] { return !worker.Running(); }, seconds(60)));
  CHECK(worker.exit_code() == 0);
  CHECK(worker.Log().find("drained") != std::string::npos);
  // The step ended with this worker's result (the dispatcher may still be writing it when the
  // worker is gone): one attempt, no rescue, no second worker needed.
  REQUIRE(site.WaitForJob(job, seconds(60)) == "succeeded");
  CHECK(site.Sql("SELECT status || ' ' || attempt FROM job_tasks WHERE job_id = $1", {job}) == "succeeded 1");
  CHECK(site.Sql("SELECT count(*) FROM job_events WHERE job_id = $1 AND message LIKE '%lease%expired%'", {job}) == "0");
  CHECK(Fleet(site)[0]["counters"]["effective_resets"].GetInt() == 1);
}

// Issue 14: cut only the leader's database session while a standby runs. The standby led with
// no agents while the old leader kept every stream, and new steps stayed ready.
TEST_CASE("A leader that loses its database session lets go of its agents, and the new leader runs the work",
          "[e2e]") {
  Site site({2, "127.0.97.1", 400, 30, "1s"});
  site.StartDispatcher(1, /*expect_standby=*/true);
  site.StartWorker("worker-follows");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; },
                    seconds(20)));
  // Its sessions are terminated until the standby has taken the lock (each retry of the old
  // leader is cut too, so the lock cannot come back to it first).
  REQUIRE(WaitUntil([&] {
    site.TerminateDispatcherSessions(0);
    return site.Readyz(1) == "ready\n";
  }, seconds(30)));
  // The old leader notices on its next query (it cannot claim anything meanwhile: its session is gone).
  CHECK(WaitUntil([&] { return site.Readyz(0) != "ready\n"; }, seconds(10)));
  const std::string job = site.CreateJob("server.refresh", kAllServers, "{}");
  REQUIRE(site.WaitForJob(job, seconds(60)) == "succeeded");
  CHECK(site.Sql("SELECT count(*) FROM job_tasks WHERE job_id = $1 AND attempt = 1", {job}) == "2");
  CHECK(site.Sql("SELECT dispatcher_id FROM sites WHERE site = 'default'") == "dispatcher-1");
}

// Issue 14: dead agents stayed `online` and `running` was always 0.
TEST_CASE("Agents show the steps they run, and a frozen one goes offline and loses its step to another", "[e2e]") {
  Site site({1, "127.0.98.1", 3000, 5, "1s"});
  auto& frozen = site.StartWorker("worker-frozen");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; },
                    seconds(20)));
  const std::string job = site.CreateJob("server.power", site.Sql(kEveryServerId), R"({"action":"ForceRestart"})");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM job_tasks WHERE checkpoint ->> 'phase' = 'sent'") == "1"; },
                    seconds(30)));
  CHECK(WaitUntil([&] { return site.Sql("SELECT running FROM agents WHERE id = 'worker-frozen'") == "1"; }, seconds(10)));
  // Frozen mid-step: its TCP connection stays open, its heartbeats stop.
  frozen.Signal(SIGSTOP);
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT status || ' ' || running FROM agents WHERE id = 'worker-frozen'") ==
                                 "offline 0"; },
                    seconds(20)));
  site.StartWorker("worker-thawed");
  REQUIRE(site.WaitForJob(job, seconds(60)) == "succeeded");
  CHECK(site.Sql("SELECT attempt FROM job_tasks WHERE job_id = $1", {job}) == "2");
  CHECK(Fleet(site)[0]["counters"]["effective_resets"].GetInt() == 1);
  frozen.Signal(SIGCONT);
}

TEST_CASE("An agent with a wrong token is refused, and so is a plaintext one", "[e2e]") {
  Site site({1, "127.0.62.1", 400, 30, "1s"});
  auto& impostor = site.StartWorker("worker-impostor", "not-the-token");
  REQUIRE(WaitUntil([&] { return impostor.Log().find("dispatcher refused the agent") != std::string::npos; },
                    seconds(20)));
  CHECK(impostor.Log().find("bad agent token") != std::string::npos);
  auto& plaintext = site.StartWorker("worker-plaintext", "", /*plaintext=*/true);
  REQUIRE(WaitUntil([&] { return plaintext.Log().find("dispatcher unreachable") != std::string::npos; },
                    seconds(20)));
  CHECK(site.Sql("SELECT count(*) FROM agents") == "0");
  // The real thing, over TLS with the site CA, is welcome.
  site.StartWorker("worker-good");
  CHECK(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; },
                  seconds(20)));
}

// Issue 13: with one shared agent token, any holder could connect as any agent and take its work.
TEST_CASE("An agent is who its own token says: not another id, not with the site secret, one connection at a time",
          "[e2e][attack]") {
  Site site({1, "127.0.95.1", 400, 30, "1s"});
  auto& borrowed = site.StartWorker("worker-b", site.AgentToken("worker-a"));
  REQUIRE(WaitUntil([&] { return borrowed.Log().find("dispatcher refused the agent") != std::string::npos; },
                    seconds(20)));
  CHECK(borrowed.Log().find("this agent token is for worker-a, not worker-b") != std::string::npos);
  auto& secret = site.StartWorker("worker-c", site.token());
  REQUIRE(WaitUntil([&] { return secret.Log().find("dispatcher refused the agent") != std::string::npos; },
                    seconds(20)));
  CHECK(secret.Log().find("issue this agent its own") != std::string::npos);
  CHECK(site.Sql("SELECT count(*) FROM agents") == "0");
  // A second connection under one identity closes the first: no stale stream idles on.
  CHECK(site.SecondConnectionFencesFirst("worker-twin") == "");
  CHECK(site.Sql("SELECT count(*) FROM agents WHERE id = 'worker-twin'") == "1");
}

TEST_CASE("A BMC answering garbage fails its step with a clear error, the others succeed", "[e2e]") {
  Site site({3, "127.0.63.1", 400, 30, "1s"});
  site.StartWorker("worker-a");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; },
                    seconds(20)));
  REQUIRE(site.SetFaults("127.0.63.2", R"({"mode":"html"})"));
  const std::string job = site.CreateJob("server.refresh", kAllServers, "{}");
  REQUIRE(site.WaitForJob(job, seconds(60)) == "failed");
  CHECK(site.Sql("SELECT error_message FROM job_tasks WHERE job_id = $1 AND status = 'failed'", {job}) ==
        "/redfish/v1/Systems: the BMC answered with an HTML page instead of JSON");
  CHECK(site.Sql("SELECT count(*) FROM job_tasks WHERE job_id = $1 AND status = 'succeeded'", {job}) == "2");
  // A failure no retry will fix says so, with the attempt it was.
  CHECK(site.Sql("SELECT count(*) FROM job_events WHERE job_id = $1 AND level = 'error' AND message LIKE "
                 "'server.refresh failed on idrac:127.0.63.2:18443 (attempt 1 of %): /redfish/v1/Systems: the BMC "
                 "answered with an HTML page instead of JSON'", {job}) == "1");
}

// Issue 14: failed attempts that would be retried appeared as "failed" errors.
TEST_CASE("A failed attempt that will be retried says which attempt and when the next one runs", "[e2e]") {
  Site site({1, "127.0.99.1", 400, 30, "1s"});
  site.StartWorker("worker-a");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; },
                    seconds(20)));
  // Logged in once (a refused login is final, not retried); then every read answers 503.
  REQUIRE(site.WaitForJob(site.CreateJob("server.refresh", kAllServers, "{}"), seconds(60)) == "succeeded");
  REQUIRE(site.SetFaults("127.0.99.1", R"({"error_rate":1.0})"));
  const std::string job = site.CreateJob("server.refresh", kAllServers, "{}");
  REQUIRE(WaitUntil([&] {
    return site.Sql("SELECT count(*) FROM job_events WHERE job_id = $1 AND level = 'warn' AND message LIKE "
                    "'server.refresh on idrac:127.0.99.1:18443: attempt 1 of % failed: %; retrying in %s'", {job}) == "1";
  }, seconds(60)));
  REQUIRE(site.SetFaults("127.0.99.1", R"({"error_rate":0.0})"));
  REQUIRE(site.WaitForJob(job, seconds(60)) == "succeeded");
  CHECK(site.Sql("SELECT attempt FROM job_tasks WHERE job_id = $1", {job}) == "2");
  CHECK(site.Sql("SELECT count(*) FROM job_events WHERE job_id = $1 AND level = 'error'", {job}) == "0");
}

}  // namespace
}  // namespace dcops::e2e

namespace dcops::e2e {
namespace {

TEST_CASE("Cancelling a running job reaches the agent, which stops at a safe point", "[e2e]") {
  Site site({1, "127.0.64.1", 400, 30, "1s"});
  REQUIRE(site.SetFaults("127.0.64.1", R"({"ignores_graceful":true})"));  // the wait never ends by itself
  site.StartWorker("worker-a");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; },
                    seconds(20)));
  const std::string job = site.CreateJob("server.power", site.Sql(kEveryServerId),
                                         R"({"action":"GracefulShutdown","graceful_timeout_seconds":3600})");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM job_tasks WHERE checkpoint ->> 'phase' = 'sent'") == "1"; },
                    seconds(30)));
  CHECK(site.Sql("SELECT dispatcher_v1_cancel_job($1, 'e2e')", {job}) == "cancel_requested");
  REQUIRE(site.WaitForJob(job, seconds(30)) == "cancelled");
  CHECK(site.Sql("SELECT status || ': ' || error_message FROM job_tasks WHERE job_id = $1", {job}) ==
        "cancelled: cancelled while waiting for Off");
}

TEST_CASE("200 steps on 20 BMCs with 3 agents: no BMC beyond its limit or session cap", "[e2e]") {
  Site site({20, "127.0.65.1", 200, 30, "1s"});
  for (const char* w : {"worker-a", "worker-b", "worker-c"}) site.StartWorker(w);
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "3"; },
                    seconds(20)));
  std::vector<std::string> jobs;
  for (int i = 0; i < 10; ++i) {
    jobs.push_back(site.CreateJob("server.power", site.Sql(kEveryServerId), R"({"action":"ForceRestart"})"));
  }
  for (const auto& job : jobs) {
    const std::string status = site.WaitForJob(job, seconds(120));
    INFO(site.Sql("SELECT coalesce(string_agg(DISTINCT error_message, ' | '), '') FROM job_tasks WHERE job_id = $1", {job}));
    REQUIRE(status == "succeeded");
  }
  auto fleet = Fleet(site);
  for (const auto& b : fleet.GetArray()) {
    INFO(b["address"].GetString());
    CHECK(b["counters"]["effective_resets"].GetInt() == 10);
    CHECK(b["counters"]["concurrent_high"].GetInt() <= 2);
    CHECK(b["counters"]["sessions_high"].GetInt() <= 3);  // one per agent, far below the cap of 8
    CHECK(b["counters"]["sessions_refused"].GetInt() == 0);
  }
  CHECK(site.Sql("SELECT count(DISTINCT lease_owner) FROM job_tasks") == "0");  // all leases released
  CHECK(site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "3");
}


TEST_CASE("A result from an agent that does not hold the lease is refused: the step and its slot stay with the holder",
          "[e2e][attack]") {
  Site site({1, "127.0.91.1", 3000, 30, "1s"});
  site.StartWorker("worker-a");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; }, seconds(20)));
  const std::string job = site.CreateJob("server.power", site.Sql(kEveryServerId), R"({"action":"PowerCycle"})");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM job_tasks WHERE job_id = $1 AND status = 'running'", {job}) == "1"; },
                    seconds(20)));
  // Another holder of the agent token, knowing the lease (viewers can read it), says the step failed.
  const std::string lease = site.Sql("SELECT lease_id FROM job_tasks WHERE job_id = $1", {job});
  const std::string task = site.Sql("SELECT id FROM job_tasks WHERE job_id = $1", {job});
  REQUIRE(site.SendResultAs("forger", task, lease).empty());
  REQUIRE(WaitUntil([&] { return site.dispatcher()->Log().find("result refused: not from the agent holding") != std::string::npos; },
                    seconds(20)));
  // The genuine holder finishes the step: one attempt, succeeded, and the refusal is on the job.
  REQUIRE(site.WaitForJob(job, seconds(60)) == "succeeded");
  CHECK(site.Sql("SELECT status || ' ' || attempt || ' ' || coalesce(error_code, '-') FROM job_tasks WHERE id = $1", {task}) ==
        "succeeded 1 -");
  CHECK(site.Sql("SELECT count(*) FROM job_events WHERE job_id = $1 AND level = 'warn' "
                 "AND message = 'a result from agent forger was refused: it does not hold this step''s lease'",
                 {job}) == "1");
}

}  // namespace
}  // namespace dcops::e2e
