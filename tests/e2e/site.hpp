#pragma once
// A whole local site for end-to-end tests: the private PostgreSQL (a fresh database of the
// test run's cluster), the real job-dispatcher and idrac-worker binaries as processes, and
// the Redfish fleet simulator, all on loopback. Processes are killed when the Site goes;
// its directory (logs, PKI) is removed unless DCOPS_E2E_KEEP is set, for debugging.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "test_db.hpp"
#include "image_share.hpp"

namespace grpc {
class ChannelCredentials;
}

namespace dcops::e2e {

class Process {
 public:
  // Starts `argv` with exactly `env` (plus PATH and sanitizer options), output appended to
  // `log_path`, standard input from `stdin_path` (default /dev/null). The child is killed
  // when the test process dies, however it dies.
  Process(std::string name, std::vector<std::string> argv, std::map<std::string, std::string> env,
          std::string log_path, std::string stdin_path = "");
  ~Process();
  void Signal(int sig);
  bool Running();
  // The exit code once Running() has seen the process end (128 + signal when killed).
  int exit_code() const { return exit_code_; }
  const std::string& log_path() const { return log_path_; }
  std::string Log() const;

 private:
  std::string name_;
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// Polls `ready` every 50 ms until it holds or `timeout` passes; the waiting is for other
// processes, which we cannot be notified by.
bool WaitUntil(const std::function<bool()>& ready, std::chrono::milliseconds timeout);
int FreePort();
// The body of a GET: of a 2xx answer only, or of any answer with `any_status`.
std::string HttpGet(const std::string& url, bool any_status = false);

using sim::kUpdatePackage;  // what the site's share holds for a Dell update package

struct SiteOptions {
  int bmcs = 5;
  std::string first_bmc = "127.0.60.1";
  int restart_ms = 400;
  int lease_seconds = 30;
  std::string heartbeat = "1s";
  // TLS between agents and dispatcher, with a site PKI made by `job-dispatcher certs init`.
  bool tls = true;
  // One servers row per BMC (as after discovery); false leaves the inventory empty.
  bool register_servers = true;
  // Addresses after the BMCs that serve a non-Redfish web page.
  int impostors = 0;
  // More redfish-sim arguments (e.g. {"--vendor-every", "2:hpe"} for a mixed fleet).
  std::vector<std::string> sim_args = {};
};

class Site {
 public:
  explicit Site(SiteOptions options);
  ~Site();

  db::Connection& db() { return db_; }
  std::string Sql(const std::string& sql, const db::Params& params = {});
  // Starts an idrac-worker; `token` overrides the site's.
  Process& StartWorker(const std::string& id, const std::string& token = "", bool plaintext = false,
                       int capacity = 8);
  // Starts any agent binary (ome-sync, vcenter-sync, …) the way StartWorker starts idrac-worker,
  // with `env` added to the settings every agent has.
  Process& StartAgent(const std::string& binary, const std::string& id, const std::string& token = "",
                      bool plaintext = false, int capacity = 8, std::map<std::string, std::string> env = {});
  // Starts dispatcher `index` (0 or 1: each has its own gRPC and HTTP ports; workers know
  // both addresses) and waits until it answers /readyz as the leader or, with
  // `expect_standby`, as a standby.
  Process& StartDispatcher(int index = 0, bool expect_standby = false);
  // The body of dispatcher `index`'s /readyz, whatever its status ("" when it does not answer).
  std::string Readyz(int index = 0);
  // grpc.health.v1 Check on dispatcher `index`'s agent port, over TLS with the site CA:
  // "SERVING", "NOT_SERVING", or "" when it does not answer.
  std::string GrpcHealth(int index = 0);
  struct CliRun {
    int exit_code = -1;
    std::string output;  // stdout and stderr together
  };
  // Connects to dispatcher `index` as an agent (the site's agent token, TLS), says Hello as
  // `agent_id` (an idrac-worker that serves nothing) and sends one FAILED Result for `task_id`
  // under `lease_id`, then closes. "" once the dispatcher has it, else what went wrong.
  std::string SendResultAs(const std::string& agent_id, const std::string& task_id, const std::string& lease_id,
                           int index = 0);
  // Connects as idrac-worker `agent_id` with capacity 1, takes the first step assigned to it and
  // answers SUCCEEDED with the result `answer` makes from the password the assignment carried,
  // then closes. "" once the result is sent, else what went wrong.
  std::string AnswerAs(const std::string& agent_id, const std::function<std::string(const std::string& password)>& answer,
                       int index = 0);
  // The token an agent called `agent_id` presents (derived from the site's agent secret).
  std::string AgentToken(const std::string& agent_id) const;
  // Connects twice as `agent_id` (raw gRPC, its own token): "" when the first connection is
  // ended by the dispatcher once the second is welcomed, else what happened.
  std::string SecondConnectionFencesFirst(const std::string& agent_id, int index = 0);
  // Runs the dcops CLI against dispatcher `index`'s API with the site's API token (or `token`).
  CliRun Cli(const std::vector<std::string>& args, const std::string& stdin_text = "", int index = 0,
             const std::string& token = "");
  // A database outage for this site only: no new connections, every session but the test's
  // own terminated. Restore() lets connections in again.
  void CutDatabase();
  void RestoreDatabase();
  // Terminates the database sessions of dispatcher `index` only (its leader lock goes with
  // them); returns how many there were.
  int TerminateDispatcherSessions(int index);
  // The site's file share (the simulator serves dir()/images over HTTP): puts a file there and
  // returns the URL a BMC fetches it from. A Dell update package starts with "MZ".
  std::string AddImage(const std::string& name, const std::string& content);
  // The URL of `name` on the share, whether or not it is there.
  std::string ImageUri(const std::string& name) const;
  // The simulator's per-BMC JSON array, parsed by the caller.
  std::string FleetJson();
  // Injects faults into one simulated BMC through the simulator's control endpoint.
  bool SetFaults(const std::string& address, const std::string& json) { return Control(address, "faults", json); }
  // POST to the simulator's control endpoint for one BMC ("faults", "power", "sel").
  bool Control(const std::string& address, const std::string& what, const std::string& json);
  std::string CreateJob(const std::string& type, const std::string& scope, const std::string& params);
  // An endpoint row of `table` (ome_endpoints, vcenters) with its credential set stored
  // through the CLI (sealed with the site key, named "<kind>-lab"), its certificate pinned.
  // Returns the endpoint's id.
  std::string AddEndpoint(const std::string& table, const std::string& kind, const std::string& address,
                          const std::string& user, const std::string& password, const std::string& pin);
  // Waits for a job to finish; returns its final status ("" on timeout).
  std::string WaitForJob(const std::string& job_id, std::chrono::milliseconds timeout);
  std::string AllLogs() const;
  const std::string& token() const { return token_; }
  const std::string& bmc_password() const { return bmc_password_; }
  int dispatcher_http_port(int index = 0) const { return http_ports_[index]; }
  std::unique_ptr<Process>& dispatcher(int index = 0) { return dispatchers_[index]; }
  const std::string& api_token() const { return api_token_; }
  // The dispatcher's read-only token (API and console).
  const std::string& viewer_token() const { return viewer_token_; }
  const std::string& dir() const { return dir_; }

 private:
  std::map<std::string, std::string> DispatcherEnv(int index) const;
  SiteOptions options_;
  testing::TestDb tdb_;
  db::Connection db_;
  // TLS with the site CA, or plaintext when the site runs without TLS.
  std::shared_ptr<grpc::ChannelCredentials> AgentChannelCredentials() const;

  std::string dir_, token_, api_token_, viewer_token_, bmc_password_;
  int grpc_ports_[2] = {0, 0}, http_ports_[2] = {0, 0}, control_port_ = 0, images_port_ = 0, cli_runs_ = 0;
  std::unique_ptr<Process> sim_;
  std::unique_ptr<Process> dispatchers_[2];
  std::vector<std::unique_ptr<Process>> workers_;
};

}  // namespace dcops::e2e
