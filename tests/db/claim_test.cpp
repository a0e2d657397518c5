// Claiming ready steps: exactly once under concurrency, fair across jobs, within limits.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "control_plane.hpp"

namespace dcops::testing {
namespace {

// One server.refresh job whose steps, ready in this order, are `key_targets`; then `conn` acts
// as the dispatcher.
void PlanReadySteps(db::Connection& conn, const std::vector<std::pair<std::string, std::string>>& key_targets) {
  const std::string job = CreateJob(conn, "server.refresh", 1);
  std::string plan = "[";
  for (const auto& [key, target] : key_targets) {
    plan += fmt::format(R"({}{{"key":"{}","kind":"server.refresh","target":"{}"}})", plan.size() > 1 ? "," : "",
                        key, target);
  }
  Exec(conn, "SELECT dispatcher_v1_plan_job($1, $2::jsonb)", {job, plan + "]"});
  BecomeDispatcher(conn);
}

TEST_CASE("Eight concurrent claimers take 5,000 ready steps, each exactly once", "[claim]") {
  TestDb tdb;
  auto setup = tdb.Connect();
  const std::string job = CreatePlannedJob(setup, "server.refresh", 5000);

  constexpr int kClaimers = 8;
  std::vector<std::vector<std::string>> claimed(kClaimers);
  std::vector<std::string> failures(kClaimers);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClaimers; ++c) {
    threads.emplace_back([&, c] {
      db::DbOptions options;
      options.dsn = tdb.dsn();
      auto conn = db::Connection::Open(options);
      if (!conn) { failures[c] = conn.error().message; return; }
      (void)conn->Exec("SET ROLE dcops_dispatcher");
      for (;;) {
        auto rows = conn->Exec(
            "SELECT task_id FROM dispatcher_v1_claim_ready_steps('default', $1, '{server.refresh}', 16, 30, '{}', NULL, '{}')",
            {fmt::format("agent-{}", c)});
        if (!rows) { failures[c] = rows.error().message; return; }
        if (rows->empty()) return;
        for (int i = 0; i < rows->size(); ++i) claimed[c].push_back(rows->Str(i, "task_id"));
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& f : failures) REQUIRE(f.empty());

  std::set<std::string> unique;
  std::size_t total = 0;
  int claimers_with_work = 0;
  for (const auto& ids : claimed) {
    total += ids.size();
    unique.insert(ids.begin(), ids.end());
    claimers_with_work += ids.empty() ? 0 : 1;
  }
  CHECK(total == 5000);
  CHECK(unique.size() == 5000);
  CHECK(claimers_with_work > 1);  // the claimers really ran side by side
  // The database agrees: every step claimed (and started) once, by the claimer that received it.
  CHECK(Scalar(setup, "SELECT count(*) FROM job_tasks WHERE job_id = $1 AND status = 'running' "
                      "AND attempt = 1", {job}) == "5000");
  for (int c = 0; c < kClaimers; ++c) {
    CHECK(Scalar(setup, "SELECT count(*) FROM job_tasks WHERE lease_owner = $1",
                 {fmt::format("agent-{}", c)}) == std::to_string(claimed[c].size()));
  }
}

TEST_CASE("A one-step job is not starved by a 1,000-step job created before it", "[claim]") {
  TestDb tdb;
  auto conn = tdb.Connect();
  const std::string big = CreatePlannedJob(conn, "server.refresh", 1000);
  const std::string small = CreatePlannedJob(conn, "server.refresh", 1);
  BecomeDispatcher(conn);
  auto first = Claim(conn, "agent-1", "{server.refresh}", 4);
  REQUIRE(first.size() == 4);
  // Every job's first step comes before any job's second: the small job is served at once.
  CHECK(first[0].job_id == big);
  CHECK(first[1].job_id == small);
  CHECK(first[2].job_id == big);
}

TEST_CASE("Higher priority jobs are claimed first", "[claim]") {
  TestDb tdb;
  auto conn = tdb.Connect();
  CreatePlannedJob(conn, "server.refresh", 3, "{}", 0);
  const std::string urgent = CreatePlannedJob(conn, "server.refresh", 2, "{}", 50);
  BecomeDispatcher(conn);
  auto got = Claim(conn, "agent-1", "{server.refresh}", 2);
  REQUIRE(got.size() == 2);
  CHECK(got[0].job_id == urgent);
  CHECK(got[1].job_id == urgent);
}

TEST_CASE("Claims respect step kinds, excluded targets and a per-target bound", "[claim]") {
  TestDb tdb;
  auto conn = tdb.Connect();
  const std::string job = CreateJob(conn, "server.refresh", 1);
  Exec(conn,
       "SELECT dispatcher_v1_plan_job($1, '["
       "{\"key\":\"a\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.0.1\"},"
       "{\"key\":\"b\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.0.1\"},"
       "{\"key\":\"c\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.0.2\"},"
       "{\"key\":\"d\",\"kind\":\"server.logs\",\"target\":\"idrac:127.0.0.3\"}]')",
       {job});
  BecomeDispatcher(conn);
  auto none = Exec(conn, "SELECT * FROM dispatcher_v1_claim_ready_steps('default', 'a1', '{zfs.prune}', 10, 30, '{}', NULL, '{}')");
  CHECK(none.empty());
  auto rows = Exec(conn,
                   "SELECT target FROM dispatcher_v1_claim_ready_steps('default', 'a1', "
                   "'{server.refresh}', 10, 30, '{idrac:127.0.0.2}', 1, '{}')");
  REQUIRE(rows.size() == 1);  // one of a/b (bound 1 per target); c excluded; d another kind
  CHECK(rows.Str(0, "target") == "idrac:127.0.0.1");
  auto other_site = Exec(conn, "SELECT * FROM dispatcher_v1_claim_ready_steps('lab2', 'a1', "
                               "'{server.refresh,server.logs}', 10, 30, '{}', NULL, '{}')");
  CHECK(other_site.empty());  // a dispatcher serves only its own site
}

TEST_CASE("An affine claim takes the agent's own targets first, but never over priority", "[claim]") {
  TestDb tdb;
  auto conn = tdb.Connect();
  const std::string job = CreateJob(conn, "server.refresh", 1);
  Exec(conn,
       "SELECT dispatcher_v1_plan_job($1, '["
       "{\"key\":\"a\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.0.1\"},"
       "{\"key\":\"b\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.0.2\"},"
       "{\"key\":\"c\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.0.3\"},"
       "{\"key\":\"d\",\"kind\":\"server.refresh\",\"target\":\"idrac:127.0.0.4\"}]')",
       {job});
  const std::string urgent = CreateJob(conn, "server.refresh", 1, "{}", 10);
  Exec(conn, "SELECT dispatcher_v1_plan_job($1, '[{\"key\":\"u\",\"kind\":\"server.refresh\","
             "\"target\":\"idrac:127.0.0.9\"}]')", {urgent});
  BecomeDispatcher(conn);
  const char* claim =
      "SELECT target, waited_ms FROM dispatcher_v1_claim_ready_steps('default', 'a1', '{server.refresh}', $1::int, 30, "
      "'{}', 1, '{idrac:127.0.0.4,idrac:127.0.0.3}')";
  auto first = Exec(conn, claim, {"2"});
  REQUIRE(first.size() == 2);
  CHECK(first.Str(0, "target") == "idrac:127.0.0.9");  // priority beats affinity
  CHECK(first.Str(1, "target") == "idrac:127.0.0.3");  // then the agent's own targets, in job order
  CHECK(std::stod(first.Str(1, "waited_ms")) >= 0);
  auto second = Exec(conn, claim, {"2"});
  REQUIRE(second.size() == 2);
  CHECK(second.Str(0, "target") == "idrac:127.0.0.4");
  CHECK(second.Str(1, "target") == "idrac:127.0.0.1");  // then everything else, in job order
  // The dispatcher assigns what it claims at once: claimed steps are running, and so is the job.
  auto su = tdb.Connect();
  CHECK(Scalar(su, "SELECT count(*) FROM job_tasks WHERE status = 'running' AND started_at IS NOT NULL") == "4");
  CHECK(Scalar(su, "SELECT count(*) FROM jobs WHERE started_at IS NOT NULL") == "2");
}

TEST_CASE("An affine claim finds its own target deep in a queue longer than its look-ahead", "[claim]") {
  // The claim reads limit * 4 + 64 ready steps in queue order and looks up preferred targets
  // by index only when that read was cut short: both ways, the agent's own target comes first.
  for (const int steps : {20, 150}) {
    TestDb tdb;
    auto conn = tdb.Connect();
    std::vector<std::pair<std::string, std::string>> queue;
    for (int i = 1; i <= steps; ++i) {
      queue.emplace_back(fmt::format("s{}", i), fmt::format("idrac:127.0.{}.{}", i / 200, i % 200 + 1));
    }
    PlanReadySteps(conn, queue);
    const std::string last = fmt::format("idrac:127.0.{}.{}", steps / 200, steps % 200 + 1);
    auto rows = Exec(conn,
                     "SELECT target FROM dispatcher_v1_claim_ready_steps('default', 'a1', '{server.refresh}', 1, 30, "
                     "'{}', 1, ARRAY['idrac:127.0.9.9', $1])",
                     {last});
    INFO(steps << " ready steps");
    REQUIRE(rows.size() == 1);
    CHECK(rows.Str(0, "target") == last);
    // Without a preference the queue's head goes first.
    auto head = Exec(conn, "SELECT target FROM dispatcher_v1_claim_ready_steps('default', 'a1', '{server.refresh}', 1, "
                           "30, '{}', 1, '{}')");
    REQUIRE(head.size() == 1);
    CHECK(head.Str(0, "target") == "idrac:127.0.0.2");
  }
}

TEST_CASE("A claim says whether it took every step it could", "[claim]") {
  TestDb tdb;
  auto conn = tdb.Connect();
  PlanReadySteps(conn, {{"a", "idrac:127.0.0.1"}, {"b", "idrac:127.0.0.1"}, {"c", "idrac:127.0.0.2"},
                        {"d", "idrac:127.0.0.3"}});
  const char* claim =
      "SELECT step_key, queue_drained FROM dispatcher_v1_claim_ready_steps('default', 'a1', '{server.refresh}', "
      "$1::int, 30, '{}', 1, '{}')";
  // The limit leaves steps behind.
  auto first = Exec(conn, claim, {"1"});
  REQUIRE(first.size() == 1);
  CHECK(first.Str(0, "step_key") == "a");
  CHECK(first.Str(0, "queue_drained") == "f");
  // Room for all, but one per target: b waits behind a's iDRAC.
  auto su = tdb.Connect();
  Exec(su, "UPDATE job_tasks SET status = 'ready', lease_id = NULL WHERE step_key = 'a'");
  auto second = Exec(conn, claim, {"10"});
  REQUIRE(second.size() == 3);
  for (int i = 0; i < second.size(); ++i) CHECK(second.Str(i, "queue_drained") == "f");
  // Everything left taken.
  auto third = Exec(conn, claim, {"10"});
  REQUIRE(third.size() == 1);
  CHECK(third.Str(0, "step_key") == "b");
  CHECK(third.Str(0, "queue_drained") == "t");
}

TEST_CASE("The claim of dispatchers before queue_drained takes the same steps in the same order", "[claim]") {
  // dispatcher_v1_claim_steps_affine stays for dispatchers older than the schema (they accept a
  // newer one): it is dispatcher_v1_claim_ready_steps without its last column.
  TestDb tdb;
  auto conn = tdb.Connect();
  PlanReadySteps(conn, {{"a", "idrac:127.0.0.1"}, {"b", "idrac:127.0.0.2"}, {"c", "idrac:127.0.0.3"}});
  auto old = Exec(conn, "SELECT step_key, target, attempt FROM dispatcher_v1_claim_steps_affine('default', 'a1', "
                        "'{server.refresh}', 2, 30, '{idrac:127.0.0.1}', 1, '{idrac:127.0.0.3}')");
  REQUIRE(old.size() == 2);
  CHECK(old.Str(0, "step_key") == "c");  // preferred, and .1 left out
  CHECK(old.Str(1, "step_key") == "b");
  CHECK(old.Str(0, "attempt") == "1");
  CHECK(Scalar(conn, "SELECT count(*) FROM dispatcher_v1_claim_steps_affine('default', 'a1', '{server.refresh}', 2, 30, "
                     "'{}', 1, '{}')") == "1");  // then a, the last
}

}  // namespace
}  // namespace dcops::testing
