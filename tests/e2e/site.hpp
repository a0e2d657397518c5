#pragma once
// A whole local site for end-to-end tests: the private PostgreSQL (a fresh database of the
// test run's cluster), the real job-dispatcher and idrac-worker binaries as processes, and
// the Redfish fleet simulator, all on loopback. Processes are killed when the Site goes.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "test_db.hpp"

namespace dcops::e2e {

class Process {
 public:
  Process(std::string name, std::vector<std::string> argv, std::map<std::string, std::string> env,
          std::string log_path);
  ~Process();
  void Signal(int sig);
  bool Running();
  const std::string& log_path() const { return log_path_; }
  std::string Log() const;

 private:
  std::string name_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// Polls `ready` every 50 ms until it holds or `timeout` passes; the waiting is for other
// processes, which we cannot be notified by.
bool WaitUntil(const std::function<bool()>& ready, std::chrono::milliseconds timeout);
int FreePort();
std::string HttpGet(const std::string& url);

struct SiteOptions {
  int bmcs = 5;
  std::string first_bmc = "127.0.60.1";
  int restart_ms = 400;
  int lease_seconds = 30;
  std::string heartbeat = "1s";
  // TLS between agents and dispatcher, with a site PKI made by `job-dispatcher certs init`.
  bool tls = true;
};

class Site {
 public:
  explicit Site(SiteOptions options);
  ~Site();

  db::Connection& db() { return db_; }
  std::string Sql(const std::string& sql, const db::Params& params = {});
  // Starts an idrac-worker; `token` overrides the site's.
  Process& StartWorker(const std::string& id, const std::string& token = "", bool plaintext = false);
  void StartDispatcher();
  // The simulator's per-BMC JSON array, parsed by the caller.
  std::string FleetJson();
  // Injects faults into one simulated BMC through the simulator's control endpoint.
  bool SetFaults(const std::string& address, const std::string& json);
  std::string CreateJob(const std::string& type, const std::string& scope, const std::string& params);
  // Waits for a job to finish; returns its final status ("" on timeout).
  std::string WaitForJob(const std::string& job_id, std::chrono::milliseconds timeout);
  std::string AllLogs() const;
  const std::string& token() const { return token_; }
  const std::string& bmc_password() const { return bmc_password_; }
  int dispatcher_http_port() const { return http_port_; }
  std::unique_ptr<Process>& dispatcher() { return dispatcher_; }

 private:
  std::map<std::string, std::string> DispatcherEnv() const;
  SiteOptions options_;
  testing::TestDb tdb_;
  db::Connection db_;
  std::string dir_, token_, bmc_password_;
  int grpc_port_ = 0, http_port_ = 0, control_port_ = 0;
  std::unique_ptr<Process> sim_;
  std::unique_ptr<Process> dispatcher_;
  std::vector<std::unique_ptr<Process>> workers_;
};

}  // namespace dcops::e2e
