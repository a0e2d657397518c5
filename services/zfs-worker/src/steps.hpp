#pragma once
// The zfs-worker's step kinds, the one explicit list (no self-registration).
#include "dcops/agent/step.hpp"
#include "replicate_step.hpp"

namespace dcops::zfs_worker {

agent::StepRegistry MakeSteps(ShellConnector connect);

}  // namespace dcops::zfs_worker
