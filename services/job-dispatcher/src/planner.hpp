#pragma once
// Planning: a job becomes steps, through one explicit registry of job types. A job type the
// registry lacks fails its job with a clear reason (the control plane may know newer types
// than this dispatcher).
//
// Thread-safety: planners are pure functions of their inputs; the registry is immutable
// after MakePlanners().

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops::dispatcher {

struct JobToPlan {
  std::string id;
  std::string site;
  std::string job_type;
  std::string target_scope_json;
  std::string params_json;
};

struct PlannedStep {
  std::string key;
  std::string kind;
  std::string target;
  // Whether the step changes its device is not the planner's to say: the catalog row of the
  // step's kind decides (dispatcher_v1_plan_jobs).
  std::string params_json;  // the job's params plus "_bmc" (how to reach the target)
  std::vector<std::string> depends_on;      // earlier steps that must have succeeded
  // Earlier steps it waits on however they end (a finalizer's: restore, settle).
  std::vector<std::string> after_finished{};
  // What a cancel of the job does to it: "stop" (default), "finish" (not interrupted once
  // running: firmware, an ESXi image) or "run" (a finalizer: runs anyway, after what it waits on).
  std::string on_cancel{};
};

// A plan: its steps (a plan reads as the list of steps it mostly is) and notes for the
// operator — what the plan left out and why — written as the job's warning events.
struct Plan : std::vector<PlannedStep> {
  Plan() = default;
  Plan(std::vector<PlannedStep> steps) : std::vector<PlannedStep>(std::move(steps)) {}  // NOLINT
  std::vector<std::string> notes;
};

// A server as planning needs it: where its BMC is and how to authenticate and trust it.
struct ServerRef {
  std::string server_id;          // "" for an address with no servers row yet
  std::string bmc_address;
  std::string credential_set_id;  // "" when none is set
  bool tls_verify = true;
  std::string tls_pin_sha256;
};

// A host of a cluster as a rolling update plans it, in the order to update them.
struct RollingHost {
  std::string host_id;
  std::string name;
  std::string connection_state;
  bool maintenance_mode = false;
  bool runs_vcenter = false;        // this vCenter's own VM runs here: the host goes last
  bool ssh_ready = false;           // an SSH credential set and a pinned host key (an ESXi upgrade)
  std::optional<ServerRef> server;  // the linked server (its BMC), when linked without conflict
  std::string link_problem;         // why there is no usable link ("" when linked)
};

struct RollingCluster {
  std::string cluster_id;
  std::string name;
  bool vsan_enabled = false;
  std::vector<RollingHost> hosts;  // vCenter's own host last, then by name
};

// Looks servers up for a scope ({"server_ids": [...]}, {"bmc_addresses": [...]},
// {"all_servers": true}). The database implementation calls dispatcher_v1_resolve_servers.
class ServerDirectory {
 public:
  virtual ~ServerDirectory() = default;
  virtual Result<std::vector<ServerRef>> Resolve(const std::string& site,
                                                 const std::string& scope_json) = 0;
  // For each address (same order), the ids of the credential sets discovery may try there,
  // in order: the job's list (`job_sets`, its order kept) or every BMC set by try_order, less
  // the sets whose scope leaves the address out. The database implementation calls
  // dispatcher_v1_discovery_sets.
  virtual Result<std::vector<std::vector<std::string>>> DiscoverySets(
      const std::vector<std::string>& addresses, const std::optional<std::vector<std::string>>& job_sets) = 0;
  // A cluster of the site with its hosts (nullopt: no such cluster in this site). The database
  // implementation calls dispatcher_v1_rolling_hosts.
  virtual Result<std::optional<RollingCluster>> RollingHosts(const std::string& site, const std::string& cluster_id) = 0;
};

using Planner = std::function<Result<Plan>(const JobToPlan&, ServerDirectory&)>;
// A planner whose plans have steps only.
using StepsPlanner = std::function<Result<std::vector<PlannedStep>>(const JobToPlan&, ServerDirectory&)>;

class PlannerRegistry {
 public:
  PlannerRegistry& Add(std::string job_type, Planner planner);
  PlannerRegistry& Add(std::string job_type, StepsPlanner planner);
  const Planner* Find(const std::string& job_type) const;
  // The job types registered, in name order.
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, Planner> planners_;
};

// Addresses one discovery step probes: a scan is split so several agents share it and its
// progress shows per part.
inline constexpr std::size_t kDiscoveryChunk = 256;

// The job types this dispatcher can plan, in one list. `bench_job_types` adds bench.noop
// (scripts/bench only; the migration ships it disabled).
PlannerRegistry MakePlanners(bool bench_job_types = false);

// The JSON array dispatcher_v1_plan_job takes.
std::string StepsJson(const std::vector<PlannedStep>& steps);

}  // namespace dcops::dispatcher
