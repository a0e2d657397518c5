#pragma once
// What the benchmarks share: a database cloned from the migrated template, child processes
// that die with the bench, a site PKI, the dispatcher started and ready, memory readings.
// Benchmarks stop at the first error (Die): they measure, they do not recover.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dcops/db/connection.hpp"

namespace dcops::bench {

[[noreturn]] void Die(const std::string& what);
db::Connection Open(const std::string& dsn);
std::string Scalar(db::Connection& c, const std::string& sql, const db::Params& p = {});

// A fresh database `name` from the template scripts/bench migrated; returns its DSN.
std::string CloneTemplate(const std::string& admin_dsn, const std::string& name);
void DropDatabase(const std::string& admin_dsn, const std::string& name);

// Starts argv[0] with exactly `env` (plus PATH), output appended to `log`; killed when the
// bench dies.
pid_t Spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env, const std::string& log);
void Stop(pid_t pid);

long RssKib(pid_t pid);       // VmRSS now
long PeakRssKib(pid_t pid);   // VmHWM: the most it ever held
// What `pid` holds, from /proc/PID/smaps_rollup, in KiB: resident (shared library pages
// counted in full, in every process that maps them), proportional (shared pages divided among
// the processes sharing them) and unique (pages no other process maps now: what the host
// would get back if it stopped).
struct MemoryKib {
  long resident = -1, proportional = -1, unique = -1;
};
MemoryKib Memory(pid_t pid);
// Where `pid`'s resident memory is, from /proc/PID/smaps: the `top` largest holders (a shared
// library's mappings added up under its file name; anonymous memory, heap and stacks as
// "[anon]"), as "name 1.2" MiB figures on one line, and the rest as "other".
std::string RssByMapping(pid_t pid, int top = 8);
double CpuSeconds(pid_t pid);  // user + system time so far
// CPU seconds of the PostgreSQL server `db` is connected to, and of nothing else on the
// machine (another server, a test run's): its postmaster, every process it runs now, and the
// ones that have exited (the postmaster reaped them, so their time is in its children's).
double ServerCpuSeconds(db::Connection& db);
int FreePort();
// A PostgreSQL array literal of `values`, for a `$1::uuid[]` or `$1::text[]` parameter: each
// element double-quoted, so values must not hold '"' or '\\' (ids, addresses, pins do not).
template <typename Values>
std::string ArrayLiteral(const Values& values) {
  std::string out = "{";
  for (const auto& v : values) out += (out.size() > 1 ? ",\"" : "\"") + std::string(v) + "\"";
  return out + "}";
}

// Where PostgreSQL's time goes, per phase of a bench: when DCOPS_BENCH_STATEMENTS is set
// (scripts/bench then starts the server with pg_stat_statements loaded), Reset() clears the
// server's statement statistics and Report() lists the statements of `db`'s database that took
// the most execution time since, with calls, total and mean, and the total per `unit`
// (jobs, say). Without it Reset() does nothing and Report() is "", so the figures are not
// measured with its overhead.
class StatementProfile {
 public:
  explicit StatementProfile(db::Connection& db);
  void Reset();
  std::string Report(const std::string& phase, double units, const std::string& unit, int top = 12);

 private:
  db::Connection& db_;
  bool on_ = false;
};
double Percentile(std::vector<double> v, double p);

// Polls `ready` every 50 ms for up to `timeout` (the bench waits on other processes).
bool WaitFor(const std::function<bool()>& ready, std::chrono::milliseconds timeout);
// GET of a loopback URL: the body of a 200, else "".
std::string Get(const std::string& url);

// A site directory with `job-dispatcher certs init` run in it (dir + "/pki/…").
std::string MakeSiteDir(const std::string& dispatcher_bin);
// A token file for agent `agent_id` of the site in `dir` (`job-dispatcher certs agent-token`),
// for the agent's DCOPS_AGENT_TOKEN_FILE.
std::string AgentTokenFile(const std::string& dispatcher_bin, const std::string& dir, const std::string& agent_id);

struct Dispatcher {
  pid_t pid = -1;
  int grpc_port = 0;
  int http_port = 0;
};
// The real dispatcher on TLS, as the dcops_dispatcher role, ready; `extra_env` adds keys.
Dispatcher StartDispatcher(const std::string& dispatcher_bin, const std::string& dsn, const std::string& dir,
                           const std::map<std::string, std::string>& extra_env = {});
// Waits until the agent `id` shows online.
void WaitForAgent(db::Connection& db, const std::string& id);

// A redfish-sim process: `count` BMCs from loopback address `first`, each on `port`.
struct SimulatedFleet {
  pid_t pid = -1;
  int port = 0;
  std::string control;   // "http://127.0.0.1:P", the simulator's control endpoint
  std::string password;  // every BMC's (random; in dir/bmc-password)
};
// Starts redfish-sim (its log in dir/sim.log) with `extra` arguments and waits until every BMC
// listens.
SimulatedFleet StartRedfishSim(const std::string& sim_bin, const std::string& dir, int count, const std::string& first,
                               const std::vector<std::string>& extra = {});
// A number every BMC of the simulator reports, summed over the fleet: `pointer` is a JSON
// pointer into each BMC's entry of /control/bmcs ("/sessions", "/counters/requests").
long SimulatorTotal(const std::string& control, const char* pointer);
// One servers row per BMC of `fleet`, its certificate pinned, all with one credential set
// sealed with the site key of `dir`, as after discovery. Returns how many were registered.
int RegisterServers(db::Connection& db, const std::string& dir, const SimulatedFleet& fleet);

}  // namespace dcops::bench
