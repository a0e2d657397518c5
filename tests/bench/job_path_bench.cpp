// The whole job path, measured: create_job commit -> NOTIFY -> plan -> claim -> Assign over
// gRPC+TLS -> agent -> Result -> batched completion, with the real job-dispatcher process,
// an in-process agent built on libs/agent (the SDK every agent uses) serving the bench-only
// `bench.noop` step, and a private PostgreSQL with fsync on. Then the same path with a real job
// type, `server.credential_test`, against 100 simulated BMCs (127.0.142.x) through the real
// idrac-worker: target resolution, the credential set decrypted and sent, and on the BMC a
// Redfish login and its logout (a credential test never reuses a session).
//
//   dcops-job-path-bench ADMIN_DSN JOB_DISPATCHER IDRAC_WORKER REDFISH_SIM [PICKUP_JOBS] [THROUGHPUT_JOBS] [REAL_JOBS]
//
// Prints: pickup latency (create_job commit returned -> the agent's step started) p50/p90/
// p99/max over PICKUP_JOBS jobs created one at a time; throughput of THROUGHPUT_JOBS 1-step
// jobs created by 4 concurrent clients (created/s and finished/s), with one job per commit
// and with 25 per commit (a bulk submission); REAL_JOBS credential tests the same way (one per
// commit) with the CPU each process spent; idle RSS of the dispatcher and of an idle
// idrac-worker. Loopback only.
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <rapidjson/document.h>

#include "bench_support.hpp"
#include "figures.hpp"
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
  if (argc < 5) {
    Die("usage: dcops-job-path-bench ADMIN_DSN JOB_DISPATCHER IDRAC_WORKER REDFISH_SIM [PICKUP_JOBS] [THROUGHPUT_JOBS] "
        "[REAL_JOBS]");
  }
  const std::string admin_dsn = argv[1], dispatcher_bin = argv[2], worker_bin = argv[3], sim_bin = argv[4];
  const int pickup_jobs = argc > 5 ? std::atoi(argv[5]) : 1000;
  const int throughput_jobs = argc > 6 ? std::atoi(argv[6]) : 20000;
  const int real_jobs = argc > 7 ? std::atoi(argv[7]) : 2000;

  const std::string dbname = fmt::format("bench_jobs_{}", ::getpid());
  const std::string dsn = CloneTemplate(admin_dsn, dbname);
  auto db = Open(dsn);
  Scalar(db, "UPDATE job_types SET enabled = true WHERE job_type = 'bench.noop' RETURNING 1");

  const std::string dir = MakeSiteDir(dispatcher_bin);
  const Dispatcher d = StartDispatcher(dispatcher_bin, dsn, dir, {{"DCOPS_BENCH_JOB_TYPES", "true"}});
  const pid_t dispatcher = d.pid;
  const int grpc_port = d.grpc_port;
  std::this_thread::sleep_for(std::chrono::seconds(2));  // idle, settled
  const MemoryKib dispatcher_idle = Memory(dispatcher);
  const std::string dispatcher_idle_holders = RssByMapping(dispatcher);

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
  const MemoryKib worker_idle = Memory(worker);
  const std::string worker_idle_holders = RssByMapping(worker);
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
  Figure("jobs.pickup_p50_ms", Percentile(pickup_ms, 0.5), "ms", Better::kLower);
  Figure("jobs.pickup_p99_ms", Percentile(pickup_ms, 0.99), "ms", Better::kLower);

  StatementProfile statements(db);
  // 2. Throughput: 4 clients create jobs of `type` as fast as they can (job i of client c
  // scoped by scope(c, i)), `per_commit` jobs per transaction; the clock stops when the last
  // job has finished. The bench hears each job finish from the control plane's own
  // `job_finished` notification (a LISTEN on dcops_work), so waiting costs the database
  // nothing: polling a count of `jobs` every 20 ms cost it 12 ms a poll at 40,000 rows, most
  // of a core, and was counted as the job path's. Afterwards one query checks that every job
  // succeeded. Returns the job-dispatcher's CPU per job, ms (a figure of the real-job phase).
  auto throughput = [&](int jobs, int per_commit, const std::string& type,
                        const std::function<std::string(int, int)>& scope, const std::string& what,
                        const std::string& key) {
    auto listener = Open(dsn);
    if (auto st = listener.Listen("dcops_work"); !st) Die(st.error().message);
    statements.Reset();
    // Where the two cores went: the drain is bound by their sum, not by any one process.
    const double cpu_dispatcher = CpuSeconds(dispatcher), cpu_server = ServerCpuSeconds(db),
                 cpu_bench = CpuSeconds(::getpid());
    // What the phase wrote: the server's WAL position, exact at once (pg_stat_wal's counters
    // reach the view up to a second late). Everything the server wrote is in it: autovacuum's
    // WAL, and the full-page images after a checkpoint, which fall in one run and not another.
    const std::string wal_start = Scalar(db, "SELECT pg_current_wal_insert_lsn()::text");
    const auto t0 = std::chrono::steady_clock::now();
    std::atomic<int> next{0};
    std::atomic<long> created_ns{0};
    std::mutex created_mu;
    std::vector<std::string> created;
    std::vector<std::thread> creators;
    for (int c = 0; c < 4; ++c) {
      creators.emplace_back([&, c] {
        auto conn = Open(dsn);
        std::vector<std::string> mine;
        for (;;) {
          const int first = next.fetch_add(per_commit);
          if (first >= jobs) break;
          const int n = std::min(per_commit, jobs - first);
          if (per_commit > 1) Scalar(conn, "BEGIN");
          for (int i = first; i < first + n; ++i) {
            mine.push_back(
                Scalar(conn, "SELECT dispatcher_v1_create_job('default', $1, $2::jsonb, '{}')", {type, scope(c, i)}));
          }
          if (per_commit > 1) Scalar(conn, "COMMIT");
        }
        const long ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
        long prev = created_ns.load();
        while (prev < ns && !created_ns.compare_exchange_weak(prev, ns)) {
        }
        std::lock_guard lock(created_mu);
        created.insert(created.end(), mine.begin(), mine.end());
      });
    }
    // Every job_finished heard, from the first moment (a job may finish before its creator has
    // returned); once all are created, the ones not yet heard: the run ends when none is left.
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> heard;
    std::unordered_set<std::string> waiting;
    std::atomic<bool> creating{true};
    std::thread joiner([&] {
      for (auto& t : creators) t.join();
      creating = false;
    });
    bool all_created = false;
    auto last_finish = t0;  // when this phase's last job_finished was heard (the wait adds nothing)
    // Every job's end is announced (a trigger on jobs.status); should one still go unheard,
    // after a minute with none of ours heard, say where the unheard jobs stand, and stop.
    auto say_where_they_stand = [&] {
      Die(fmt::format("{} of {} {} jobs not heard ending for a minute; their statuses: {}; see {}/dispatcher.log",
                      waiting.size(), jobs, what,
                      Scalar(db, "SELECT string_agg(status || ' ' || n, ', ') FROM (SELECT status, count(*) AS n "
                                 "FROM jobs WHERE id = ANY($1::uuid[]) GROUP BY status) s", {ArrayLiteral(waiting)}),
                      dir));
    };
    while (!all_created || !waiting.empty()) {
      const auto now = std::chrono::steady_clock::now();
      if (now - t0 > std::chrono::minutes(10)) Die("throughput run did not finish in 10 min");
      if (all_created && now - std::max(last_finish, t0 + std::chrono::nanoseconds(created_ns.load())) > std::chrono::minutes(1))
        say_where_they_stand();
      auto notes = listener.WaitForNotifications(std::chrono::milliseconds(50));
      if (!notes) Die(notes.error().message);
      for (const auto& note : *notes) {
        rapidjson::Document d;
        d.Parse(note.payload.c_str());
        if (d.HasParseError() || !d.IsObject() || !d.HasMember("event") || !d["event"].IsString() ||
            std::string_view(d["event"].GetString()) != "job_finished" || !d.HasMember("job_id") ||
            !d["job_id"].IsString())
          continue;
        // Another phase's job (a late one) neither counts nor moves the clock. Before all are
        // created, every id heard is kept with its time and sorted out once ours are known.
        const auto heard_now = std::chrono::steady_clock::now();
        if (!all_created) heard.emplace(d["job_id"].GetString(), heard_now);
        else if (waiting.erase(d["job_id"].GetString()) > 0) last_finish = heard_now;
      }
      if (!all_created && !creating) {
        joiner.join();
        for (const auto& id : created) {
          if (auto h = heard.find(id); h == heard.end()) waiting.insert(id);
          else last_finish = std::max(last_finish, h->second);
        }
        all_created = true;
      }
    }
    const double create_s = static_cast<double>(created_ns.load()) / 1e9;
    const double total_s = std::max(create_s, std::chrono::duration<double>(last_finish - t0).count());
    // Taken before the check below, so the check's own statement is not in it.
    const std::string profile = statements.Report(fmt::format("{} per commit", per_commit), jobs, "job");
    const double used_dispatcher = CpuSeconds(dispatcher) - cpu_dispatcher, used_server = ServerCpuSeconds(db) - cpu_server,
                 used_bench = CpuSeconds(::getpid()) - cpu_bench;
    const double wal_bytes =
        std::stod(Scalar(db, "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)", {wal_start}));
    const long succeeded = std::stol(Scalar(db, "SELECT count(*) FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'succeeded'",
                                            {ArrayLiteral(created)}));
    if (succeeded != jobs) Die(fmt::format("{} of {} {} jobs succeeded; see {}/dispatcher.log", succeeded, jobs, what, dir));
    fmt::print("throughput of {} one-step {} jobs, 4 concurrent creators, {} job(s) per commit, fsync on:\n", jobs,
               what, per_commit);
    fmt::print("  created in {:.2f} s ({:.0f} jobs/s); all succeeded after {:.2f} s ({:.0f} jobs/s end to end)\n",
               create_s, jobs / create_s, total_s, jobs / total_s);
    fmt::print("  CPU per job, ms: job-dispatcher {:.3f}, PostgreSQL {:.3f}, this bench (creators, agent) {:.3f}; "
               "these three {:.0f}% of the machine's {} cores over the run\n",
               1000 * used_dispatcher / jobs, 1000 * used_server / jobs, 1000 * used_bench / jobs,
               100 * (used_dispatcher + used_server + used_bench) / (total_s * std::thread::hardware_concurrency()),
               std::thread::hardware_concurrency());
    fmt::print("  WAL written per job: {:.0f} bytes\n", wal_bytes / jobs);
    if (!key.empty()) {
      Figure("jobs." + key + "_jobs_per_s", jobs / total_s, "jobs/s", Better::kHigher);
      Figure("jobs." + key + "_wal_bytes_per_job", wal_bytes / jobs, "bytes", Better::kLower);
    }
    fmt::print("{}", profile);
    return 1000 * used_dispatcher / jobs;
  };
  auto noop_scope = [](const char* tag) {
    return [tag](int c, int i) { return fmt::format(R"({{"bmc_addresses":["{}{}-{}"]}})", tag, c, i); };
  };
  // None asked for: skipped, as the real-job phase is, rather than figures divided by zero.
  if (throughput_jobs > 0) {
    throughput(throughput_jobs, 1, "bench.noop", noop_scope("t"), "no-op", "noop_1_per_commit");
    throughput(throughput_jobs, 25, "bench.noop", noop_scope("u"), "no-op", "noop_25_per_commit");
  }

  // 3. A real job type through the whole path: server.credential_test on simulated BMCs (none
  // asked for: skipped, rather than figures divided by zero).
  if (real_jobs > 0) {
    const SimulatedFleet fleet = StartRedfishSim(sim_bin, dir, 100, "127.0.142.1", {"--threads-per-bmc", "2"});
    const int servers = RegisterServers(db, dir, fleet);
    const pid_t idrac = Spawn({worker_bin}, {{"DCOPS_DISPATCHER_ADDRESS", fmt::format("127.0.0.1:{}", grpc_port)},
                                             {"DCOPS_AGENT_TOKEN_FILE", AgentTokenFile(dispatcher_bin, dir, "bench-idrac-worker")},
                                             {"DCOPS_TLS_CA_FILE", dir + "/pki/ca.pem"},
                                             {"DCOPS_AGENT_ID", "bench-idrac-worker"},
                                             {"DCOPS_STATE_DIR", dir + "/state"},
                                             {"DCOPS_CAPACITY", "64"}},
                              dir + "/idrac-worker.log");
    WaitForAgent(db, "bench-idrac-worker");
    std::vector<std::string> server_ids;
    {
      // Loopback servers only (the simulated fleet's): a server some other test data left in
      // the template database is never a target of this bench.
      std::stringstream ids(Scalar(db, "SELECT string_agg(id::text, ',' ORDER BY bmc_address) FROM servers "
                                       "WHERE bmc_address LIKE '127.%'"));
      for (std::string id; std::getline(ids, id, ',');) server_ids.push_back(id);
    }
    auto one_server = [&](int c, int i) {
      return fmt::format(R"({{"server_ids":["{}"]}})", server_ids[static_cast<std::size_t>(c * 7919 + i) % server_ids.size()]);
    };
    const double cpu_w = CpuSeconds(idrac), cpu_sim = CpuSeconds(fleet.pid);
    const long requests_before = SimulatorTotal(fleet.control, "/counters/requests");
    const double dispatcher_ms = throughput(
        real_jobs, 1, "server.credential_test", one_server,
        fmt::format("server.credential_test ({} BMCs; each a Redfish login and its logout)", servers), "credential_test");
    const double n = real_jobs;
    // The dispatcher's and PostgreSQL's CPU are on the phase's own line, above.
    fmt::print("  and per job: CPU ms idrac-worker {:.2f}, simulator {:.2f}; {:.1f} Redfish requests (the simulator's count)\n",
               1000 * (CpuSeconds(idrac) - cpu_w) / n, 1000 * (CpuSeconds(fleet.pid) - cpu_sim) / n,
               static_cast<double>(SimulatorTotal(fleet.control, "/counters/requests") - requests_before) / n);
    Figure("jobs.credential_test_dispatcher_cpu_ms", dispatcher_ms, "ms", Better::kLower);
    Stop(idrac);
    Stop(fleet.pid);
  }
  const auto mib = [](long kib) { return static_cast<double>(kib) / 1024.0; };
  fmt::print("idle resident memory: job-dispatcher {:.1f} MiB, idrac-worker {:.1f} MiB\n", mib(dispatcher_idle.resident),
             mib(worker_idle.resident));
  fmt::print("  of which unique to the process (proportional): job-dispatcher {:.1f} ({:.1f}) MiB, idrac-worker {:.1f} ({:.1f}) MiB\n",
             mib(dispatcher_idle.unique), mib(dispatcher_idle.proportional), mib(worker_idle.unique),
             mib(worker_idle.proportional));
  fmt::print("  job-dispatcher, MiB: {}\n  idrac-worker, MiB: {}\n", dispatcher_idle_holders, worker_idle_holders);
  Figure("jobs.dispatcher_idle_rss_mib", mib(dispatcher_idle.resident), "MiB", Better::kLower);
  Figure("jobs.worker_idle_rss_mib", mib(worker_idle.resident), "MiB", Better::kLower);
  Figure("jobs.dispatcher_idle_unique_mib", mib(dispatcher_idle.unique), "MiB", Better::kLower);
  Figure("jobs.worker_idle_unique_mib", mib(worker_idle.unique), "MiB", Better::kLower);
  fmt::print("job-dispatcher after the run: {:.1f} MiB\n", static_cast<double>(RssKib(dispatcher)) / 1024.0);

  agent_client.RequestDrain();
  agent_thread.join();
  Stop(dispatcher);
  if (!std::getenv("DCOPS_BENCH_KEEP")) {
    DropDatabase(admin_dsn, dbname);
    std::filesystem::remove_all(dir);
  } else {
    fmt::print("kept {} and database {} (scripts/bench stops its server, and the database with it)\n", dir, dbname);
  }
  return 0;
}
