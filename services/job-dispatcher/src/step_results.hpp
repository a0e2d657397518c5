#pragma once
// What a finished step's result means for the inventory, written before the step is marked
// succeeded (a failure to write fails the step instead, so nothing is lost silently):
//   server.refresh   the inventory object → dispatcher_v1_record_refresh (identity resolved;
//                    a conflict leaves it unwritten, counted in the step's result)
//   discovery.scan   the services found → dispatcher_v1_record_discovery, then one
//                    server.refresh job for the authenticated servers that are new (unless
//                    the scan's params said refresh: false); its idempotency key is the
//                    step's id, so a result delivered twice creates one job
//   server.scp_export the exported profile → dispatcher_v1_record_config_backup; the step
//                    keeps {"backup_id","format","size_bytes"} as its result, not the profile
//   server.logs      the entries read → dispatcher_v1_record_log_entries (and each log's
//                    cursor); the step keeps the counts read and new per log
//   inventory.ome_sync / inventory.vcenter_sync
//                    the batches staged during the step → dispatcher_v1_apply_*_sync, in one
//                    transaction (a batch missing fails the step, retryable, and applies
//                    nothing); the step keeps the agent's result with "applied" (the counts)
// Other kinds have nothing to write.
//
// Blocking: database calls. Thread-safety: as the ControlPlane it is given.
#include <chrono>
#include <string>

#include "control_plane.hpp"

namespace dcops::dispatcher {

struct StepResultEffects {
  std::string refresh_job_id;  // discovery: the refresh job it created, or ""
  int servers_added = 0;
  // Identity conflicts the result raised (recorded in server_identity_conflicts, with events).
  int identity_conflicts = 0;
  // What the step keeps as its result instead of the worker's ("" keeps the worker's): big
  // payloads live in their own tables, not twice.
  std::string stored_result;
  // A line for the job's events ("" for none): what a sync changed.
  std::string summary;
};

Result<StepResultEffects> RecordStepResult(ControlPlane& cp, const std::string& site, const std::string& step_kind,
                                           const std::string& task_id, const std::string& lease_id,
                                           const std::string& result_json);

// Not yet: a host entering maintenance while its cluster's maintenance slot is another host's
// fails with kStepMustWait (retryable; the dispatcher puts the step back to wait, without
// using an attempt, the reason shown on the step).
inline constexpr const char* kStepMustWait = "step.must_wait";
// How long such a step waits before it is looked at again.
inline constexpr std::chrono::seconds kMustWaitRecheck{15};

// True for the step kinds whose inventory arrives in staged batches.
bool IsSyncStep(const std::string& step_kind);
// What a step reaches through an endpoint the dispatcher reads when it assigns the step
// (dispatcher_v1_sync_endpoint's kind): "ome", "vcenter", "cluster" (a cluster's vCenter),
// "esxi" (an ESXi host's vCenter: the esxi-worker's steps on "esxi:<host id>"), or "" for
// steps that reach their target otherwise.
std::string EndpointKind(const std::string& step_kind, const std::string& target);

// What a failed attempt's event and log line say, given where the step stands after it
// (`report` null: the failure could not be recorded). Retrying: "<kind> on <target>: attempt N
// of M failed: <why>; retrying in Ts"; otherwise "<kind> failed on <target> (attempt N of M): <why>".
std::string FailureMessage(const std::string& step_kind, const std::string& target, const std::string& why,
                           const ControlPlane::FailReport* report);

}  // namespace dcops::dispatcher
