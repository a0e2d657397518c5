#include "steps.hpp"

#include "operation_steps.hpp"
#include "redfish_target.hpp"
#include "refresh_step.hpp"

namespace dcops::idrac {
namespace {

// Builds the step's Redfish client from its assignment, then runs `body` with it. A step that
// ended on a 404 makes the next one navigate afresh: what the service said may have changed.
template <typename Body>
agent::StepFunction WithBmc(WorkerDeps& deps, Body body) {
  return [&deps, body](agent::StepContext& ctx) -> agent::StepOutcome {
    auto target = TargetFromAssignment(ctx.assignment());
    if (!target) return agent::StepOutcome::Failed(target.error());
    redfish::Client bmc(deps.http, deps.sessions, std::move(*target), deps.clock, &deps.breakers, &deps.services);
    auto outcome = body(ctx, bmc);
    if (outcome.kind == agent::StepOutcome::Kind::kFailed && outcome.error.code == "redfish.not_found") {
      bmc.ForgetService();
    }
    return outcome;
  };
}

// A Dell-only operation: on any other BMC it refuses with "not an iDRAC: <manufacturer>
// <model>" before sending anything, instead of failing on a Dell path with a 404.
template <typename Body>
agent::StepFunction DellOnly(WorkerDeps& deps, const char* operation, Body body) {
  return WithBmc(deps, [operation, body](agent::StepContext& ctx, redfish::Client& bmc) -> agent::StepOutcome {
    auto map = bmc.Map();
    if (!map) return agent::StepOutcome::Failed(map.error());
    if (auto st = redfish::RequireIdrac(*map, operation); !st) return agent::StepOutcome::Failed(st.error());
    return body(ctx, bmc);
  });
}

}  // namespace

agent::StepRegistry MakeSteps(WorkerDeps& deps) {
  agent::StepRegistry steps;
  steps.Add("server.power", WithBmc(deps, [&deps](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunPower(ctx, bmc, deps.power);
       }))
      .Add("server.refresh", WithBmc(deps, [](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunRefresh(ctx, bmc);
       }))
      .Add("server.credential_test", WithBmc(deps, [](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunCredentialTest(ctx, bmc);
       }))
      .Add("server.idrac_reset", WithBmc(deps, [&deps](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunIdracReset(ctx, bmc, deps.ops);
       }))
      .Add("server.job_queue_clear", DellOnly(deps, "clearing the Lifecycle Controller job queue", [](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunJobQueueClear(ctx, bmc);
       }))
      .Add("server.boot", WithBmc(deps, [](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunBoot(ctx, bmc);
       }))
      .Add("server.virtual_media", WithBmc(deps, [](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunVirtualMedia(ctx, bmc);
       }))
      .Add("server.bios", WithBmc(deps, [&deps](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunBios(ctx, bmc, deps.ops);
       }))
      .Add("server.idrac_settings", DellOnly(deps, "iDRAC attributes", [](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunIdracSettings(ctx, bmc);
       }))
      .Add("server.firmware_update", WithBmc(deps, [&deps](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunFirmwareUpdate(ctx, bmc, deps.ops);
       }))
      .Add("server.scp_export", DellOnly(deps, "a Server Configuration Profile export", [&deps](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunScpExport(ctx, bmc, deps.ops);
       }))
      .Add("server.scp_import", DellOnly(deps, "a Server Configuration Profile import", [&deps](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunScpImport(ctx, bmc, deps.ops);
       }))
      .Add("server.logs", WithBmc(deps, [](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunLogs(ctx, bmc);
       }))
      .Add("discovery.scan", [&deps](agent::StepContext& ctx) { return RunDiscovery(ctx, deps.http, deps.discovery); });
  return steps;
}

}  // namespace dcops::idrac
