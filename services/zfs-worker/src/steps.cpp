#include "steps.hpp"

#include "health_step.hpp"
#include "prune_step.hpp"

namespace dcops::zfs_worker {

agent::StepRegistry MakeSteps(ShellConnector connect) {
  agent::StepRegistry steps;
  auto shared = std::make_shared<ShellConnector>(std::move(connect));
  steps.Add("zfs.replicate", [shared](agent::StepContext& ctx) { return RunReplicate(ctx, *shared); });
  steps.Add("zfs.prune", [shared](agent::StepContext& ctx) { return RunPrune(ctx, *shared); });
  steps.Add("zfs.health", [shared](agent::StepContext& ctx) { return RunHealth(ctx, *shared); });
  return steps;
}

}  // namespace dcops::zfs_worker
