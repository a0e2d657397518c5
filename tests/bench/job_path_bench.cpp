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
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/prctl.h>
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

#include "dcops/agent/agent_client.hpp"
#include "dcops/common/config.hpp"
#include "dcops/db/connection.hpp"
#include "dcops/http/client.hpp"
#include "dcops/http/transport.hpp"

namespace {

using namespace dcops;
using SysClock = std::chrono::system_clock;

[[noreturn]] void Die(const std::string& what) {
  fmt::print(stderr, "job-path-bench: {}\n", what);
  std::exit(1);
}

db::Connection Open(const std::string& dsn) {
  db::DbOptions o;
  o.dsn = dsn;
  o.application_name = "dcops-job-path-bench";
  auto c = db::Connection::Open(o);
  if (!c) Die(c.error().message);
  return std::move(*c);
}

std::string Scalar(db::Connection& c, const std::string& sql, const db::Params& p = {}) {
  auto r = c.Exec(sql, p);
  if (!r) Die(r.error().message);
  return r->empty() ? "" : r->TextAt(0, 0).value_or("");
}

pid_t Spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env, const std::string& log) {
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  if (const char* path = std::getenv("PATH")) env_strings.push_back(std::string("PATH=") + path);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> a = argv;
  for (auto& s : a) args.push_back(s.data());
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::freopen(log.c_str(), "a", stdout);
    std::freopen(log.c_str(), "a", stderr);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

long RssKib(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool Ready(int http_port) {
  static http::CurlTransport transport;
  http::ClientOptions o;
  o.retry.max_attempts = 1;
  o.timeout = std::chrono::milliseconds(1000);
  http::Client client(o, transport, SystemClock::Instance());
  http::Request req;
  req.url = fmt::format("http://127.0.0.1:{}/readyz", http_port);
  auto r = client.Execute(req);
  return r && r->status == 200;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

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
  {
    auto admin = Open(admin_dsn);
    if (auto r = admin.Exec(fmt::format("CREATE DATABASE {} TEMPLATE dcops_template", dbname)); !r) Die(r.error().message);
  }
  // ADMIN_DSN names dbname=postgres (tests/pg/pg_fixture.sh); the bench's database replaces it.
  std::string dsn = admin_dsn;
  const auto at = dsn.find("dbname=postgres");
  if (at == std::string::npos) Die("ADMIN_DSN must name dbname=postgres");
  dsn.replace(at, 15, "dbname=" + dbname);
  auto db = Open(dsn);
  Scalar(db, "UPDATE job_types SET enabled = true WHERE job_type = 'bench.noop' RETURNING 1");

  char tmpl[] = "/tmp/dcops-bench.XXXXXX";
  if (!::mkdtemp(tmpl)) Die("mkdtemp");
  const std::string dir = tmpl;
  const pid_t certs = Spawn({dispatcher_bin, "certs", "init", dir + "/pki"}, {}, dir + "/certs.log");
  ::waitpid(certs, nullptr, 0);
  const int grpc_port = FreePort(), http_port = FreePort();
  const pid_t dispatcher = Spawn({dispatcher_bin, "serve"},
                                 {{"DCOPS_DATABASE_URL", dsn},
                                  {"DCOPS_DB_ROLE", "dcops_dispatcher"},
                                  {"DCOPS_SECRET_KEY_FILE", dir + "/pki/site.key"},
                                  {"DCOPS_AGENT_TOKEN_FILE", dir + "/pki/agent.token"},
                                  {"DCOPS_TLS_CERT_FILE", dir + "/pki/dispatcher.pem"},
                                  {"DCOPS_TLS_KEY_FILE", dir + "/pki/dispatcher-key.pem"},
                                  {"DCOPS_GRPC_LISTEN", fmt::format("127.0.0.1:{}", grpc_port)},
                                  {"DCOPS_HTTP_PORT", std::to_string(http_port)},
                                  {"DCOPS_BENCH_JOB_TYPES", "true"},
                                  {"DCOPS_LOG_LEVEL", "warn"}},
                                 dir + "/dispatcher.log");
  for (int i = 0; i < 200 && !Ready(http_port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (!Ready(http_port)) Die("the dispatcher did not become ready; see " + dir + "/dispatcher.log");
  std::this_thread::sleep_for(std::chrono::seconds(2));  // idle, settled
  const long dispatcher_idle_rss = RssKib(dispatcher);

  // An idle idrac-worker, connected, for its resident memory.
  auto token = ReadSecretFile(dir + "/pki/agent.token");
  if (!token) Die(token.error().message);
  const pid_t worker = Spawn({worker_bin}, {{"DCOPS_DISPATCHER_ADDRESS", fmt::format("127.0.0.1:{}", grpc_port)},
                                            {"DCOPS_AGENT_TOKEN_FILE", dir + "/pki/agent.token"},
                                            {"DCOPS_TLS_CA_FILE", dir + "/pki/ca.pem"},
                                            {"DCOPS_AGENT_ID", "idle-idrac-worker"},
                                            {"DCOPS_CAPACITY", "8"}},
                             dir + "/worker.log");
  for (int i = 0; i < 200 && Scalar(db, "SELECT count(*) FROM agents WHERE id = 'idle-idrac-worker'") != "1"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const long worker_idle_rss = RssKib(worker);
  ::kill(worker, SIGTERM);
  ::waitpid(worker, nullptr, 0);

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
  for (int i = 0; i < 200 && Scalar(db, "SELECT count(*) FROM agents WHERE id = 'bench-agent' AND status = 'online'") != "1"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

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
  ::kill(dispatcher, SIGTERM);
  ::waitpid(dispatcher, nullptr, 0);
  {
    auto admin = Open(admin_dsn);
    (void)admin.Exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", dbname));
  }
  if (!std::getenv("DCOPS_BENCH_KEEP")) std::filesystem::remove_all(dir);
  else fmt::print("kept {}\n", dir);
  return 0;
}
