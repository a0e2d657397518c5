#pragma once
// The dispatcher's side of the control-plane contract: typed calls of the dispatcher_v1_*
// SQL functions (docs/CONTROL_PLANE.md) over one libpq connection. Nothing else in the
// dispatcher writes SQL.
//
// Ownership: borrows a db::Connection (the caller owns reconnecting).
// Thread-safety: none; one ControlPlane per connection, used by one thread.
// Blocking: every call is one statement, bounded by the connection's statement timeout.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dcops/db/connection.hpp"
#include "catalog.hpp"
#include "planner.hpp"

namespace dcops::dispatcher {

struct ClaimRequest {
  std::string site;
  std::string owner;  // agent id
  std::vector<std::string> step_kinds;
  int limit = 16;
  std::chrono::seconds lease{30};
  std::vector<std::string> exclude_targets;
  std::optional<int> per_target;
  // Targets this agent served last: among steps of equal priority they come first, so the
  // agent's open device sessions are reused (target affinity).
  std::vector<std::string> prefer_targets;
};

struct ClaimedStep {
  std::string task_id, job_id, lease_id, step_key, step_kind, target, params_json,
      checkpoint_json, job_type, traceparent;
  bool mutating = false;
  int attempt = 0;
  int max_attempts = 0;
  double waited_ms = 0;  // how long the step had been claimable
  // The claim took every step it could (the same on each row of one claim): the queue it may
  // claim from holds nothing more for this agent until something changes.
  bool queue_drained = false;
};

// A step an agent holds (leased or running), as a new leader finds it.
struct HeldStep {
  std::string task_id, job_id, lease_id, owner, step_kind, target, traceparent;
  bool mutating = false;
};

struct Completion {
  std::string task_id, lease_id, result_json;
};

struct LeaseState {
  std::string lease_id, task_id;
  bool valid = false;
  bool cancel_requested = false;
};

struct RescuedStep {
  std::string task_id, job_id, new_status, lost_owner;
  int attempt = 0;
};

struct EventRecord {
  std::string job_id, task_id, level, message, data_json, source, trace_id;
};

struct ProgressReport {
  std::string task_id, lease_id;
  int percent = 0;
  std::string message;
};

struct CredentialSet {
  std::string id, name, kind, username;
  std::string ciphertext;  // raw bytes
  std::string key_id;
};

struct NewJob {
  std::string site, job_type, target_scope_json, params_json = "{}", idempotency_key, actor;
  int priority = 0;
};

struct AgentInfo {
  std::string id, site, kind, version, hostname;
  int capacity = 1;
  std::vector<std::string> step_kinds;
};

class ControlPlane {
 public:
  explicit ControlPlane(db::Connection& conn) : conn_(conn) {}

  Result<int> ApiVersion();
  // The newest migration the database records ("" when none is recorded).
  Result<std::string> SchemaVersion();
  // public.job_types as the start-up check reads it (catalog.hpp).
  Result<std::vector<CatalogEntry>> JobCatalog();
  // Leader election: a session-level advisory lock per site; held while the connection lives.
  Result<bool> TryLeaderLock(const std::string& site);
  // Records that this dispatcher leads `site` (jobs for a site none has led are refused).
  Status SiteLed(const std::string& site, const std::string& dispatcher_id);

  Result<std::vector<JobToPlan>> JobsToPlan(const std::string& site, int limit);
  Result<int> PlanJob(const std::string& job_id, const std::vector<PlannedStep>& steps);
  // Many plans in one statement (dispatcher_v1_plan_jobs): step counts in input order. One
  // invalid plan fails the call; PlanJob then finds which.
  Result<std::vector<int>> PlanJobs(const std::vector<std::pair<std::string, std::vector<PlannedStep>>>& plans);
  Result<bool> FailJob(const std::string& job_id, const Error& why);

  // Claims and starts (status 'running') up to request.limit ready steps.
  Result<std::vector<ClaimedStep>> ClaimSteps(const ClaimRequest& request);
  Result<std::string> StartStep(const std::string& task_id, const std::string& lease_id);
  Result<bool> ReportProgress(const std::string& task_id, const std::string& lease_id,
                              int percent, const std::string& message);
  Result<bool> SaveCheckpoint(const std::string& task_id, const std::string& lease_id,
                              const std::string& checkpoint_json);
  // Outcome per completion, in input order: "ok", "stale_lease" or "not_found".
  Result<std::vector<std::string>> CompleteSteps(const std::vector<Completion>& completions);
  // The latest progress of many steps, in one statement (dispatcher_v1_report_progress_many).
  Result<int> ReportProgressMany(const std::vector<ProgressReport>& reports);
  Result<std::string> FailStep(const std::string& task_id, const std::string& lease_id,
                               const Error& error, const std::string& result_json = "");
  // FailStep, and where the step stands after it: for the event and log line that say so.
  struct FailReport {
    std::string outcome;  // "retry_scheduled", "failed", "cancelled", "stale_lease", "not_found"
    int attempt = 0, max_attempts = 0;
    long long retry_in_ms = 0;
  };
  Result<FailReport> FailStepReport(const std::string& task_id, const std::string& lease_id, const Error& error);
  Result<std::string> SnoozeStep(const std::string& task_id, const std::string& lease_id,
                                 std::chrono::seconds wait, const std::string& reason);
  Result<std::string> CancelStep(const std::string& task_id, const std::string& lease_id,
                                 const std::string& message);
  Result<std::vector<LeaseState>> ExtendLeases(const std::vector<std::string>& lease_ids,
                                               std::chrono::seconds lease);
  Result<std::vector<HeldStep>> HeldSteps(const std::string& site);
  Result<std::vector<RescuedStep>> RescueExpired(const std::string& site, int limit = 1000);
  // append_events takes at most 10,000 events a call (its guard against one unbounded
  // statement); more, as after an outage, go in calls of kEventsPerCall. They are one write
  // only inside the caller's transaction: a caller that may pass more holds one, or a retry
  // after a failed later call writes the earlier calls' events twice.
  static constexpr std::size_t kEventsPerCall = 5000;
  Result<int> AppendEvents(const std::vector<EventRecord>& events);

  Status RegisterAgent(const AgentInfo& agent);
  Status AgentDisconnected(const std::string& agent_id);
  // The agents connected here, as of now: last seen, steps running (the dispatcher's count).
  Status AgentsSeen(const std::vector<std::pair<std::string, int>>& running_by_agent);
  // At the start of leadership: every agent of the site not connected here is offline.
  Status AgentsReset(const std::string& site, const std::vector<std::string>& connected);

  // Where set `name` may be sent (networks in CIDR form, host names); both empty = anywhere its
  // other rules allow. Audited. Returns the stored scope as JSON.
  Result<std::string> SetCredentialScope(const std::string& name, const std::vector<std::string>& networks,
                                         const std::vector<std::string>& hosts, const std::string& actor);
  // dispatcher_v1_credential_set_for_step: the set, to send with step `task_id`'s assignment,
  // only if the step's kind takes the set's kind (else a step.credentials error naming both);
  // nullopt for an unknown set. Audited in the database either way.
  Result<std::optional<CredentialSet>> CredentialSetForStep(const std::string& id, const std::string& task_id);
  Result<std::string> PutCredentialSet(const CredentialSet& set, const std::string& actor);
  Result<std::string> DefaultCredentialSet(const std::string& kind);
  // dispatcher_v1_record_refresh: one refresh's inventory, identity resolved (conflicts become
  // events of the step's job). Returns {"server_id": uuid|null, "conflicts": n}.
  Result<std::string> RecordRefresh(const std::string& site, const std::string& task_id, const std::string& server_json);
  // dispatcher_v1_record_discovery: returns its summary ({"added","known","refresh","conflicts"}).
  Result<std::string> RecordDiscovery(const std::string& site, const std::string& task_id, const std::string& found_json);
  // dispatcher_v1_record_config_backup: the backup's id (one per exporting step).
  Result<std::string> RecordConfigBackup(const std::string& task_id, const std::string& backup_json);
  // dispatcher_v1_config_backup: {"id","server_id","format","content","sha256"}, or nullopt.
  Result<std::optional<std::string>> ConfigBackup(const std::string& backup_id);
  // dispatcher_v1_log_cursors: {"sel": {"id","created"}, "lifecycle": …} for a server.
  Result<std::string> LogCursors(const std::string& server_id);
  // dispatcher_v1_record_log_entries: {"sel": inserted, "lifecycle": inserted}.
  Result<std::string> RecordLogEntries(const std::string& task_id, const std::string& result_json);
  // Inventory syncs. StageInventory: false when the lease is no longer the step's.
  Result<bool> StageInventory(const std::string& task_id, const std::string& lease_id, std::uint64_t sequence,
                              const std::string& kind, const std::string& json);
  // dispatcher_v1_maintenance_slot: "" when the step may run (its cluster's maintenance slot
  // is its own now, or it needs none), else why it waits ("waiting: …") or never can
  // ("refused: …").
  Result<std::string> MaintenanceSlot(const std::string& task_id);
  // dispatcher_v1_finalizer_context: what a rolling update's finalizer needs as it runs (a
  // settings restore: the settings found; a settle: its host's steps and how they ended).
  Result<std::string> FinalizerContext(const std::string& task_id);
  // dispatcher_v1_record_maintenance: what a host.maintenance result did to its cluster's slot
  // ("" when nothing).
  Result<std::string> RecordMaintenance(const std::string& task_id, const std::string& result_json);
  // dispatcher_v1_record_esxi_upgrade: the host's build, and a first contact's SSH host key
  // pinned (said in the returned text; "" when nothing to say).
  Result<std::string> RecordEsxiUpgrade(const std::string& task_id, const std::string& result_json);
  // dispatcher_v1_zfs_pair: what the recorded pairs of a zfs step's datasets still need
  // ({"source": {"sends": [guid…], "receives": […]}, "target": …}) and a replication's send flags.
  Result<std::string> ZfsPair(const std::string& task_id);
  // dispatcher_v1_record_zfs: what a zfs.* result shows (first-contact host keys, capabilities,
  // the replication pair, a health reading); the text says what was recorded.
  Result<std::string> RecordZfs(const std::string& task_id, const std::string& result_json);
  // dispatcher_v1_sync_endpoint: the endpoint ("ome"/"vcenter"/"cluster"/"esxi"/"zfs") as a step needs it, or nullopt.
  Result<std::optional<std::string>> SyncEndpoint(const std::string& kind, const std::string& id);
  // Applies a succeeded sync step's staged batches; returns the apply's counts (JSON).
  Result<std::string> ApplySync(const std::string& step_kind, const std::string& task_id,
                                const std::string& lease_id, const std::string& result_json);
  // A failed sync step: drops its batches and records the error on the endpoint.
  Status DiscardSync(const std::string& task_id, const std::string& error);
  // dispatcher_v1_fire_due_schedules: the ids of the jobs created.
  Result<std::vector<std::string>> FireDueSchedules(const std::string& site);
  Result<std::map<std::string, long>> QueueDepth(const std::string& site);
  // ANALYZE of the queue tables that changed a lot since their last one (see the SQL).
  Result<std::string> RefreshStatistics();
  // Deletes up to `batch` finished jobs older than `retention` (and what dispatcher_v1_prune
  // takes with them); returns how many jobs went.
  Result<int> Prune(std::chrono::milliseconds retention, int batch);

  // Reads and writes behind the dispatcher's /api/v1 (JSON documents as the SQL builds them).
  // Errors of job creation keep their SQL message, which names the parameter at fault.
  Result<std::string> CreateJob(const NewJob& job);
  Result<std::string> CancelJob(const std::string& job_id, const std::string& actor);
  // Continues a paused job (resolution retry, evacuate or skip_host); its status after.
  Result<std::string> ResumeJob(const std::string& job_id, const std::string& resolution, const std::string& actor);
  Result<std::optional<std::string>> GetJobJson(const std::string& job_id);
  Result<std::string> ListJobsJson(const std::string& site, int limit, const std::string& status);
  Result<std::string> JobEventsJson(const std::string& job_id, long after_id, int limit);
  Result<std::string> ListAgentsJson(const std::string& site);
  Result<std::string> ListCredentialSetsJson();
  // The console's reads (docs/CONSOLE.md). StepJson is empty when the step is not the job's or
  // the job not the site's.
  Result<std::optional<std::string>> StepJson(const std::string& site, const std::string& job_id,
                                              const std::string& task_id);
  Result<std::string> JobTypesJson();
  Result<std::string> SchedulesJson(const std::string& site);
  Result<std::string> SearchInventoryJson(const std::string& site, const std::string& query, int limit);

  // Identity conflicts (dispatcher_v1_identity_conflicts / dispatcher_v1_resolve_identity_conflict).
  // IdentityConflictsJson: a JSON array of the site's conflicts in `status` ("open", "resolved",
  // "dismissed", "cleared" or "all"), newest last_seen_at first; another status is SQLSTATE 22023.
  // ResolveIdentityConflict: the conflict (of `site` only) after `action` (dismiss, merge, link, unlink, assign);
  // `server_id` empty is NULL. P0002 no such conflict, 55000 not open, 22023 a bad action or server.
  Result<std::string> IdentityConflictsJson(const std::string& site, const std::string& status, int limit);
  Result<std::string> ResolveIdentityConflict(const std::string& site, const std::string& id, const std::string& action,
                                              const std::string& server_id, const std::string& actor,
                                              const std::string& note);

 private:
  // One append_events call: events[from, to).
  Result<int> AppendEventsCall(const std::vector<EventRecord>& events, std::size_t from, std::size_t to);

  db::Connection& conn_;
};

// ServerDirectory over dispatcher_v1_resolve_servers. BMC addresses a scope names that have
// no servers row yet (a first refresh) resolve with the default credential set of kind idrac.
class DbServerDirectory final : public ServerDirectory {
 public:
  explicit DbServerDirectory(ControlPlane& cp, db::Connection& conn) : cp_(cp), conn_(conn) {}
  Result<std::vector<ServerRef>> Resolve(const std::string& site,
                                         const std::string& scope_json) override;
  Result<std::vector<std::vector<std::string>>> DiscoverySets(
      const std::vector<std::string>& addresses, const std::optional<std::vector<std::string>>& job_sets) override;
  Result<std::optional<RollingCluster>> RollingHosts(const std::string& site, const std::string& cluster_id) override;

 private:
  ControlPlane& cp_;
  db::Connection& conn_;
};

// Postgres text-array literal of `items` ("{\"a\",\"b\"}"), quoting every element.
std::string TextArray(const std::vector<std::string>& items);

}  // namespace dcops::dispatcher
