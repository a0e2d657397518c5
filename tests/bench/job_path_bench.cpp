// The whole job path, measured: create_job commit -> NOTIFY -> plan -> claim -> Assign over
// gRPC+TLS -> agent -> Result -> batched completion, with the real job-dispatcher process,
// an in-process agent built on libs/agent (the SDK every agent uses) serving the bench-only
// `bench.noop` step, and a private PostgreSQL with fsync on.
//
//   dcops-job-path-bench ADMIN_DSN JOB_DISPATCHER IDRAC_WORKER [PICKUP_JOBS] [THROUGHPUT_JOBS]
//
// Prints: pickup latency (create_job commit returned -> the agent's step started) p50/p90/
// p99/max over PICKUP_JOBS jobs created one at a time; throughput of THROUGHPUT_JOBS 1-step
// jobs created by 4 concurrent clients (created/s and finished/s), with one job per commit
// and with 25 per commit (a bulk submission); idle RSS of the
// dispatcher and of an idle idrac-worker. Loopback only.
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "bench_support.hpp"
#include "dcops/agent/agent_client.hpp"
#include "dcops/common/config.hpp"
#include "dcops/db/connection.hpp"
#include "dcops/http/client.hpp"
#include "dcops/http/transport.hpp"

namespace {

using namespace dcops;
using namespace dcops::bench;
using SysClock = std::chrono::system_clock;

// What the in-process agent saw: when each job's step started.
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, SysClock::time_point> started;  // job id -> time
  long total = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) Die("usage: dcops-job-path-bench ADMIN_DSN JOB_DISPATCHER IDRAC_WORKER [PICKUP_JOBS] [THROUGHPUT_JOBS]");
  const std::string admin_dsn = argv[1], dispatcher_bin = argv[2], worker_bin = argv[3];
  const int pickup_jobs = argc > 4 ? std::atoi(argv[4]) : 1000;
  const int throughput_jobs = argc > 5 ? std::atoi(argv[5]) : 20000;

  const std::string dbname = fmt::format("bench_jobs_{}", ::getpid());
  const std::string dsn = CloneTemplate(admin_dsn, dbname);
  auto db = Open(dsn);
  Scalar(db, "UPDATE job_types SET enabled = true WHERE job_type = 'bench.noop' RETURNING 1");

  const std::string dir = MakeSiteDir(dispatcher_bin);
  const Dispatcher d = StartDispatcher(dispatcher_bin, dsn, dir, {{"DCOPS_BENCH_JOB_TYPES", "true"}});
  const pid_t dispatcher = d.pid;
  const int grpc_port = d.grpc_port;
  std::this_thread::sleep_for(std::chrono::seconds(2));  // idle, settled
  const long dispatcher_idle_rss = RssKib(dispatcher);

  // An idle idrac-worker, connected, for its resident memory.
  auto token = ReadSecretFile(AgentTokenFile(dispatcher_bin, dir, "bench-agent"));
  if (!token) Die(token.error().message);
  const pid_t worker = Spawn({worker_bin}, {{"DCOPS_DISPATCHER_ADDRESS", fmt::format("127.0.0.1:{}", grpc_port)},
                                            {"DCOPS_AGENT_TOKEN_FILE", AgentTokenFile(dispatcher_bin, dir, "idle-idrac-worker")},
                                            {"DCOPS_TLS_CA_FILE", dir + "/pki/ca.pem"},
                                            {"DCOPS_AGENT_ID", "idle-idrac-worker"},
                                            {"DCOPS_CAPACITY", "8"}},
                             dir + "/worker.log");
  WaitForAgent(db, "idle-idrac-worker");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const long worker_idle_rss = RssKib(worker);
  Stop(worker);

  // The bench agent: libs/agent with one step kind that does nothing but note the time.
  Seen seen;
  agent::StepRegistry steps;
  steps.Add("bench.noop", [&seen](agent::StepContext& ctx) {
    const auto now = SysClock::now();
    {
      std::lock_guard lock(seen.mu);
      seen.started.emplace(ctx.assignment().job_id, now);
      ++seen.total;
    }
    seen.cv.notify_all();
    return agent::StepOutcome::Succeeded("{}");
  });
  agent::AgentOptions ao;
  ao.dispatcher_address = fmt::format("127.0.0.1:{}", grpc_port);
  ao.agent_id = "bench-agent";
  ao.kind = "bench-agent";
  ao.capacity = 256;
  ao.token = *token;
  ao.tls_ca_file = dir + "/pki/ca.pem";
  MemorySink sink;
  Logger log("bench-agent", sink, SystemClock::Instance(), nullptr, LogLevel::kWarn);
  agent::AgentClient agent_client(ao, steps, log, SystemClock::Instance());
  std::thread agent_thread([&agent_client] { agent_client.Run(); });
  WaitForAgent(db, "bench-agent");

  // 1. Pickup latency: one job at a time, from create_job's commit to the step starting.
  std::vector<double> pickup_ms;
  for (int i = 0; i < pickup_jobs; ++i) {
    const std::string id = Scalar(db, "SELECT dispatcher_v1_create_job('default', 'bench.noop', $1::jsonb, '{}')",
                                  {fmt::format(R"({{"bmc_addresses":["p{}"]}})", i)});
    const auto committed = SysClock::now();
    std::unique_lock lock(seen.mu);
    if (!seen.cv.wait_for(lock, std::chrono::seconds(10), [&] { return seen.started.count(id) > 0; })) {
      Die("a job was not picked up within 10 s; see " + dir + "/dispatcher.log");
    }
    pickup_ms.push_back(std::chrono::duration<double, std::milli>(seen.started[id] - committed).count());
  }
  fmt::print("pickup latency over {} jobs (create_job commit -> step started on the agent):\n", pickup_jobs);
  fmt::print("  p50 {:.2f} ms  p90 {:.2f} ms  p99 {:.2f} ms  max {:.2f} ms\n", Percentile(pickup_ms, 0.5),
             Percentile(pickup_ms, 0.9), Percentile(pickup_ms, 0.99), Percentile(pickup_ms, 1.0));

  // 2. Throughput: 4 clients create jobs as fast as they can, `per_commit` jobs per
  // transaction; the clock stops when the last job has succeeded.
  auto throughput = [&](int jobs, int per_commit, const char* tag) {
    const long before = std::stol(Scalar(db, "SELECT count(*) FROM jobs WHERE status = 'succeeded'"));
    const auto t0 = std::chrono::steady_clock::now();
    std::atomic<int> next{0};
    std::atomic<long> created_ns{0};
    std::vector<std::thread> creators;
    for (int c = 0; c < 4; ++c) {
      creators.emplace_back([&, c] {
        auto conn = Open(dsn);
        for (;;) {
          const int first = next.fetch_add(per_commit);
          if (first >= jobs) break;
          const int n = std::min(per_commit, jobs - first);
          if (per_commit > 1) Scalar(conn, "BEGIN");
          for (int i = first; i < first + n; ++i) {
            Scalar(conn, "SELECT dispatcher_v1_create_job('default', 'bench.noop', $1::jsonb, '{}')",
                   {fmt::format(R"({{"bmc_addresses":["{}{}-{}"]}})", tag, c, i)});
          }
          if (per_commit > 1) Scalar(conn, "COMMIT");
        }
        const long ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
        long prev = created_ns.load();
        while (prev < ns && !created_ns.compare_exchange_weak(prev, ns)) {
        }
      });
    }
    for (auto& t : creators) t.join();
    while (std::stol(Scalar(db, "SELECT count(*) FROM jobs WHERE status = 'succeeded'")) < before + jobs) {
      if (std::chrono::steady_clock::now() - t0 > std::chrono::minutes(10)) Die("throughput run did not finish in 10 min");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double create_s = static_cast<double>(created_ns.load()) / 1e9;
    fmt::print("throughput of {} one-step no-op jobs, 4 concurrent creators, {} job(s) per commit, fsync on:\n", jobs,
               per_commit);
    fmt::print("  created in {:.2f} s ({:.0f} jobs/s); all succeeded after {:.2f} s ({:.0f} jobs/s end to end)\n",
               create_s, jobs / create_s, total_s, jobs / total_s);
  };
  throughput(throughput_jobs, 1, "t");
  throughput(throughput_jobs, 25, "u");
  fmt::print("idle resident memory: job-dispatcher {:.1f} MiB, idrac-worker {:.1f} MiB\n",
             static_cast<double>(dispatcher_idle_rss) / 1024.0, static_cast<double>(worker_idle_rss) / 1024.0);
  fmt::print("job-dispatcher after the run: {:.1f} MiB\n", static_cast<double>(RssKib(dispatcher)) / 1024.0);

  agent_client.RequestDrain();
  agent_thread.join();
  Stop(dispatcher);
  DropDatabase(admin_dsn, dbname);
  if (!std::getenv("DCOPS_BENCH_KEEP")) std::filesystem::remove_all(dir);
  else fmt::print("kept {}\n", dir);
  return 0;
}
