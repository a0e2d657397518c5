// Claim + complete throughput of the dispatcher API on a real PostgreSQL.
//
//   dcops-claim-bench ADMIN_DSN [STEPS] [SECONDS]
//
// For each (claimers, batch) pair: a fresh database cloned from `dcops_template`, one job of
// STEPS ready steps, and `claimers` threads, each with its own connection acting as the
// dcops_dispatcher role, looping: dispatcher_v1_claim_ready_steps(batch) (the dispatcher's own
// claim, which also starts the steps), then completing what it claimed with
// dispatcher_v1_complete_steps in two modes: one call per step (one commit each), and one call
// per batch (one commit per batch). A run ends when the steps run out or
// after SECONDS. Prints steps/s and call latencies (p50/p99). Loopback/socket only.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dcops/db/connection.hpp"

#include "figures.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using dcops::db::Connection;
using dcops::db::DbOptions;

[[noreturn]] void Die(const std::string& what) {
  fmt::print(stderr, "claim-bench: {}\n", what);
  std::exit(1);
}

Connection Open(const std::string& dsn) {
  DbOptions o;
  o.dsn = dsn;
  o.application_name = "dcops-claim-bench";
  auto c = Connection::Open(o);
  if (!c) Die(c.error().message);
  return std::move(*c);
}

void Must(Connection& c, const std::string& sql, const dcops::db::Params& p = {}) {
  auto r = c.Exec(sql, p);
  if (!r) Die(r.error().message + " in " + sql);
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

struct Figures {
  long steps = 0;
  double seconds = 0;
  std::vector<double> claim_ms, complete_ms;
};

Figures RunOnce(const std::string& admin_dsn, int claimers, int batch, int steps,
                double max_seconds, bool batched_completes) {
  const std::string db = fmt::format("bench_{}_{}", claimers, batch);
  std::string dsn = admin_dsn;
  dsn.replace(dsn.find("dbname=postgres"), 15, "dbname=" + db);
  {
    auto admin = Open(admin_dsn);
    Must(admin, fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", db));
    Must(admin, fmt::format("CREATE DATABASE {} TEMPLATE dcops_template", db));
  }
  {
    auto setup = Open(dsn);
    auto job = setup.Exec(
        "SELECT dispatcher_v1_create_job('default', 'server.refresh', "
        "'{\"bmc_addresses\":[\"127.0.0.1\"]}', '{}', NULL, NULL, 0, 'bench')");
    if (!job) Die(job.error().message);
    Must(setup,
         "SELECT dispatcher_v1_plan_job($1::uuid, (SELECT jsonb_agg(jsonb_build_object("
         "'key', 's' || i, 'kind', 'server.refresh', 'target', "
         "format('idrac:127.%s.%s.%s', i / 62500, (i / 250) % 250, i % 250 + 1))) "
         "FROM generate_series(0, $2::int - 1) i))",
         {job->Str(0, "dispatcher_v1_create_job"), std::to_string(steps)});
    Must(setup, "VACUUM ANALYZE job_tasks");
  }

  Figures f;
  std::mutex mu;
  std::atomic<long> done{0};
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(max_seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < claimers; ++c) {
    threads.emplace_back([&, c] {
      auto conn = Open(dsn);
      Must(conn, "SET ROLE dcops_dispatcher");
      std::vector<double> claim_ms, complete_ms;
      const std::string owner = fmt::format("bench-{}", c);
      while (Clock::now() < deadline) {
        const auto t0 = Clock::now();
        auto rows = conn.Exec(
            "SELECT task_id, lease_id FROM dispatcher_v1_claim_ready_steps('default', $1, "
            "'{server.refresh}', $2::int, 30, '{}', NULL, '{}')",
            {owner, std::to_string(batch)});
        if (!rows) Die(rows.error().message);
        claim_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (rows->empty()) break;
        if (batched_completes) {
          std::string items = "[";
          for (int i = 0; i < rows->size(); ++i) {
            items += fmt::format(R"({}{{"task_id":"{}","lease_id":"{}"}})", i ? "," : "",
                                 rows->Str(i, "task_id"), rows->Str(i, "lease_id"));
          }
          items += "]";
          const auto t1 = Clock::now();
          auto ok = conn.Exec("SELECT count(*) FROM dispatcher_v1_complete_steps($1::jsonb)",
                              {items});
          if (!ok) Die(ok.error().message);
          complete_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t1).count());
        } else {
          for (int i = 0; i < rows->size(); ++i) {
            const auto t1 = Clock::now();
            auto ok = conn.Exec("SELECT (SELECT outcome FROM dispatcher_v1_complete_steps(jsonb_build_array(jsonb_build_object('task_id', $1::uuid, 'lease_id', $2::uuid))))",
                                {rows->Str(i, "task_id"), rows->Str(i, "lease_id")});
            if (!ok) Die(ok.error().message);
            complete_ms.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - t1).count());
          }
        }
        done += rows->size();
      }
      std::lock_guard lock(mu);
      f.claim_ms.insert(f.claim_ms.end(), claim_ms.begin(), claim_ms.end());
      f.complete_ms.insert(f.complete_ms.end(), complete_ms.begin(), complete_ms.end());
    });
  }
  for (auto& t : threads) t.join();
  f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  f.steps = done;
  auto admin = Open(admin_dsn);
  Must(admin, fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", db));
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Die("usage: dcops-claim-bench ADMIN_DSN [STEPS] [SECONDS]");
  const std::string admin = argv[1];
  const int steps = argc > 2 ? std::atoi(argv[2]) : 20000;
  const double seconds = argc > 3 ? std::atof(argv[3]) : 8.0;
  {
    auto conn = Open(admin);
    auto fsync = conn.Exec("SHOW fsync");
    auto sc = conn.Exec("SHOW synchronous_commit");
    if (!fsync || !sc) Die("cannot read settings");
    fmt::print("claim+complete benchmark: {} steps per run, at most {:.0f} s per run, fsync={}, "
               "synchronous_commit={}\n",
               steps, seconds, fsync->Str(0, "fsync"), sc->Str(0, "synchronous_commit"));
  }
  for (bool batched : {false, true}) {
    fmt::print("\ncompletes: {}\n", batched ? "one dispatcher_v1_complete_steps call per claimed batch"
                                               : "one dispatcher_v1_complete_step call per step");
    fmt::print("{:>9} {:>6} {:>8} {:>10} {:>12} {:>12} {:>14} {:>14}\n", "claimers", "batch",
               "steps", "steps/s", "claim p50ms", "claim p99ms", "complete p50ms",
               "complete p99ms");
    for (int claimers : {1, 4, 8}) {
      for (int batch : {1, 16, 64}) {
        auto f = RunOnce(admin, claimers, batch, steps, seconds, batched);
        fmt::print("{:>9} {:>6} {:>8} {:>10.0f} {:>12.2f} {:>12.2f} {:>14.2f} {:>14.2f}\n",
                   claimers, batch, f.steps, static_cast<double>(f.steps) / f.seconds,
                   Percentile(f.claim_ms, 0.50), Percentile(f.claim_ms, 0.99),
                   Percentile(f.complete_ms, 0.50), Percentile(f.complete_ms, 0.99));
        const std::string key = fmt::format("claim.{}.c{}.b{}", batched ? "batched" : "single", claimers, batch);
        dcops::bench::Figure(key + ".steps_per_s", static_cast<double>(f.steps) / f.seconds, "steps/s",
                             dcops::bench::Better::kHigher);
        dcops::bench::Figure(key + ".claim_p99", Percentile(f.claim_ms, 0.99), "ms", dcops::bench::Better::kLower);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
