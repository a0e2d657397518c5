// Fleet refresh: a full server.refresh of N simulated BMCs (each on its own 127.x address,
// every request answered after LATENCY_MS) through the real dispatcher and one real
// idrac-worker, against the lower bound the limits allow.
//
//   dcops-fleet-bench ADMIN_DSN JOB_DISPATCHER IDRAC_WORKER REDFISH_SIM [BMCS] [LATENCY_MS] [CAPACITY]
//
// A refresh is one step per server, its requests one after another (a step never holds more
// than one of its BMC's request slots). So with R_i requests for server i at L each and C
// steps running at once (the worker's capacity; per-BMC limits allow one refresh per BMC):
//   lower bound = max( max_i R_i * L , sum_i R_i * L / C )
// Prints the wall time of a cold refresh (the first: logins included) and a warm one
// (sessions reused), each against its bound; peak sessions and concurrent requests on any
// BMC (cap 8); peak resident memory of the worker and the dispatcher. Loopback only.
#include <fmt/format.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <filesystem>
#include <algorithm>
#include <fstream>
#include <map>
#include <thread>

#include "bench_support.hpp"
#include "figures.hpp"
#include "dcops/common/hex.hpp"
#include "dcops/tls/secret_box.hpp"

namespace {

using namespace dcops;
using namespace dcops::bench;

struct FleetCounters {
  std::map<std::string, long> requests;  // per BMC
  int sessions_high = 0;
  int concurrent_high = 0;
};

// The least time N sequential chains (t_i seconds each) can take on C slots: no less than
// the longest chain, than the total work spread evenly, nor (pigeonhole) than k+1 chains of
// the kC+1 longest sharing one slot.
double LowerBound(std::vector<double> t, int slots) {
  std::sort(t.begin(), t.end(), std::greater<>());
  double total = 0;
  for (double x : t) total += x;
  double bound = total / slots;
  for (std::size_t k = 0; k * slots < t.size(); ++k) bound = std::max(bound, static_cast<double>(k + 1) * t[k * slots]);
  return bound;
}

FleetCounters ReadCounters(const std::string& control) {
  rapidjson::Document d;
  const std::string body = Get(control + "/control/bmcs");
  d.Parse(body.c_str());
  if (d.HasParseError() || !d.IsArray()) Die("the simulator's control endpoint did not answer");
  FleetCounters c;
  for (const auto& b : d.GetArray()) {
    const auto& k = b["counters"];
    c.requests[b["address"].GetString()] = k["requests"].GetInt64();
    c.sessions_high = std::max(c.sessions_high, k["sessions_high"].GetInt());
    c.concurrent_high = std::max(c.concurrent_high, k["concurrent_high"].GetInt());
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    Die("usage: dcops-fleet-bench ADMIN_DSN JOB_DISPATCHER IDRAC_WORKER REDFISH_SIM [BMCS] [LATENCY_MS] [CAPACITY] "
        "[FIRST_ADDRESS]");
  }
  const std::string admin_dsn = argv[1], dispatcher_bin = argv[2], worker_bin = argv[3], sim_bin = argv[4];
  const int bmcs = argc > 5 ? std::atoi(argv[5]) : 1000;
  const int latency_ms = argc > 6 ? std::atoi(argv[6]) : 200;
  const int capacity = argc > 7 ? std::atoi(argv[7]) : 256;
  // Where the fleet's addresses start: any free loopback range (the simulator refuses others).
  const std::string first = argc > 8 ? argv[8] : "127.0.100.1";

  const std::string dbname = fmt::format("bench_fleet_{}", ::getpid());
  const std::string dsn = CloneTemplate(admin_dsn, dbname);
  auto db = Open(dsn);
  const std::string dir = MakeSiteDir(dispatcher_bin);

  // The fleet: N BMCs from `first`, each with its own certificate, and one server row each.
  const SimulatedFleet fleet = StartRedfishSim(sim_bin, dir, bmcs, first,
                                               {"--threads-per-bmc", "2", "--latency-ms", std::to_string(latency_ms)});
  const pid_t sim = fleet.pid;
  const std::string& control = fleet.control;
  if (RegisterServers(db, dir, fleet) != bmcs) Die("the simulator lists the wrong number of BMCs");

  const Dispatcher d = StartDispatcher(dispatcher_bin, dsn, dir);
  const pid_t worker = Spawn({worker_bin}, {{"DCOPS_DISPATCHER_ADDRESS", fmt::format("127.0.0.1:{}", d.grpc_port)},
                                            {"DCOPS_AGENT_TOKEN_FILE", AgentTokenFile(dispatcher_bin, dir, "fleet-worker")},
                                            {"DCOPS_TLS_CA_FILE", dir + "/pki/ca.pem"},
                                            {"DCOPS_AGENT_ID", "fleet-worker"},
                                            {"DCOPS_CAPACITY", std::to_string(capacity)}},
                             dir + "/worker.log");
  WaitForAgent(db, "fleet-worker");

  fmt::print("fleet refresh: {} BMCs, {} ms per request, worker capacity {}, per-BMC limit 2 steps\n", bmcs, latency_ms,
             capacity);
  auto run = [&](const char* label, const char* key) {
    const FleetCounters before = ReadCounters(control);
    const double cpu_worker = CpuSeconds(worker), cpu_dispatcher = CpuSeconds(d.pid), cpu_sim = CpuSeconds(sim),
                 cpu_pg = ServerCpuSeconds(db);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string job = Scalar(db, "SELECT dispatcher_v1_create_job('default', 'server.refresh', "
                                       "'{\"all_servers\": true}', '{}')");
    std::string status;
    if (!WaitFor([&] {
          status = Scalar(db, "SELECT status FROM jobs WHERE id = $1", {job});
          return status == "succeeded" || status == "failed";
        }, std::chrono::minutes(30))) {
      Die("the refresh did not finish in 30 minutes");
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const FleetCounters after = ReadCounters(control);
    // Each BMC's refresh is a chain of its requests; the worker runs `capacity` at once.
    std::vector<double> chains;
    double requests = 0;
    for (const auto& [address, n] : after.requests) {
      const long r = n - before.requests.at(address);
      requests += static_cast<double>(r);
      chains.push_back(static_cast<double>(r) * latency_ms / 1000.0);
    }
    const double per_bmc = requests / bmcs;
    const double bound = LowerBound(chains, capacity);
    fmt::print("  {}: {} in {:.2f} s; lower bound {:.2f} s ({:.1f} requests per BMC) -> {:.1f}% above the bound\n",
               label, status, wall, bound, per_bmc, 100.0 * (wall - bound) / bound);
    Figure(fmt::format("fleet.{}_s", key), wall, "s", Better::kLower);
    Figure(fmt::format("fleet.{}_above_bound_pct", key), 100.0 * (wall - bound) / bound, "%", Better::kLower);
    fmt::print("    CPU seconds: idrac-worker {:.2f}, job-dispatcher {:.2f}, PostgreSQL {:.2f}, simulator {:.2f}\n",
               CpuSeconds(worker) - cpu_worker, CpuSeconds(d.pid) - cpu_dispatcher, ServerCpuSeconds(db) - cpu_pg,
               CpuSeconds(sim) - cpu_sim);
    fmt::print("    steps failed: {}\n", Scalar(db, "SELECT count(*) FROM job_tasks WHERE job_id = $1 AND status <> 'succeeded'", {job}));
  };
  run("cold (logins included)", "cold");
  run("warm (sessions reused)", "warm");
  const FleetCounters peak = ReadCounters(control);
  fmt::print("  peak sessions on any BMC: {} (cap 8); peak concurrent requests on any BMC: {}\n", peak.sessions_high,
             peak.concurrent_high);
  fmt::print("  peak resident memory: idrac-worker {:.1f} MiB, job-dispatcher {:.1f} MiB, simulator {:.1f} MiB\n",
             PeakRssKib(worker) / 1024.0, PeakRssKib(d.pid) / 1024.0, PeakRssKib(sim) / 1024.0);
  Figure("fleet.worker_peak_rss_mib", PeakRssKib(worker) / 1024.0, "MiB", Better::kLower);
  Figure("fleet.dispatcher_peak_rss_mib", PeakRssKib(d.pid) / 1024.0, "MiB", Better::kLower);

  // The worker's shutdown: every BMC's session logged out (SIGTERM -> exit).
  const long open_before = SimulatorTotal(control, "/sessions");
  const auto t_stop = std::chrono::steady_clock::now();
  Stop(worker);
  const double stop_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_stop).count();
  fmt::print("  worker shutdown with {} sessions open on the BMCs: {:.2f} s; sessions left open: {}\n", open_before, stop_s,
             SimulatorTotal(control, "/sessions"));
  Figure("fleet.worker_shutdown_s", stop_s, "s", Better::kLower);
  Stop(d.pid);
  Stop(sim);
  if (!std::getenv("DCOPS_BENCH_KEEP")) {
    DropDatabase(admin_dsn, dbname);
    std::filesystem::remove_all(dir);
  } else {
    fmt::print("kept {} and database {}\n", dir, dbname);
  }
  return 0;
}
