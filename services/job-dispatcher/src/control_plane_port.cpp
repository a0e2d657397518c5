#include "control_plane_port.hpp"

#include "assign.hpp"

namespace dcops::dispatcher {

Result<StepResultEffects> ControlPlanePort::RecordResult(const std::string& step_kind, const std::string& task_id,
                                                         const std::string& lease_id, const std::string& result_json) {
  return RecordStepResult(cp_, site_, step_kind, task_id, lease_id, result_json);
}

Result<agent::v1::DispatcherMessage> ControlPlanePort::Assignment(const ClaimedStep& step, int min_interval_ms) {
  return BuildAssign(cp_, step, secrets_, redact_, min_interval_ms);
}

}  // namespace dcops::dispatcher
