#pragma once
// cluster.settings: a rolling update's change to its cluster's settings for the job's length,
// and their restore at its end (issue 18). Two settings: HA admission control (on/off) and
// the DRS automation level (drsConfig.defaultVmBehavior), each changed through
// ReconfigureComputeResource_Task with modify=true (only what is named changes) and proven
// by reading the cluster back.
//
// apply   params: action "apply", ha_admission_control (bool) and/or drs_behavior. Reads the
//         cluster's values of those settings and saves them as its checkpoint before it sends
//         anything ({"before": {...}}: the restore reads it, from the result or, when the step
//         failed after the change, from the checkpoint); a retry keeps what the first attempt
//         found. A setting already as asked is not changed. Result: {"before", "applied",
//         "changed": [names]}.
// restore params: the apply's, with action "restore", and the dispatcher's
//         "_finalizer": {"before": … | null}. Puts back each setting the apply changed when it
//         still has the value the job gave it; one someone changed since is left as it is, said
//         in a warning (theirs now, not ours to undo). No "before": nothing was changed.
//         Result: {"restored": [names], "left": [names]}.
// Values are read from the cluster's configurationEx, never defaulted: one vCenter left out is
// an error. A DRS level asked of a cluster whose DRS is off is refused (esxi.drs_disabled): no
// level moves a VM then, and turning DRS on is not this job's to do.
// The reconfiguration is idempotent (values, not toggles), so a retry after a crash sends it
// again rather than hunting for the earlier task.
//
// Thread-safety: one step per call; the http::Client is shared and thread-safe.
#include <optional>
#include <string>

#include "dcops/agent/step.hpp"
#include "dcops/http/client.hpp"

namespace dcops::esxi {

// The settings a job may change; a member that is unset is not touched.
struct ClusterSettings {
  std::optional<bool> admission_control;
  std::optional<std::string> drs_behavior;
};
std::string ClusterSettingsJson(const ClusterSettings& s);
// A ClusterSettings object ({"ha_admission_control": bool, "drs_behavior": "…"}); unknown or
// ill-typed members are errors.
Result<ClusterSettings> ParseClusterSettings(const std::string& json);
// The <spec> and <modify> of ReconfigureComputeResource_Task that sets `s`.
std::string ReconfigureBody(const ClusterSettings& s);

agent::StepOutcome RunClusterSettings(agent::StepContext& ctx, http::Client& http);

}  // namespace dcops::esxi
