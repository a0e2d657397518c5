#include "steps.hpp"

#include "redfish_target.hpp"
#include "refresh_step.hpp"

namespace dcops::idrac {
namespace {

// Builds the step's Redfish client from its assignment, then runs `body` with it.
template <typename Body>
agent::StepFunction WithBmc(WorkerDeps& deps, Body body) {
  return [&deps, body](agent::StepContext& ctx) -> agent::StepOutcome {
    auto target = TargetFromAssignment(ctx.assignment());
    if (!target) return agent::StepOutcome::Failed(target.error());
    redfish::Client bmc(deps.http, deps.sessions, std::move(*target), deps.clock);
    return body(ctx, bmc);
  };
}

}  // namespace

agent::StepRegistry MakeSteps(WorkerDeps& deps) {
  agent::StepRegistry steps;
  steps.Add("server.power", WithBmc(deps, [&deps](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunPower(ctx, bmc, deps.power);
       }))
      .Add("server.refresh", WithBmc(deps, [](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunRefresh(ctx, bmc);
       }));
  return steps;
}

}  // namespace dcops::idrac
