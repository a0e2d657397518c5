#include "steps.hpp"

#include "operation_steps.hpp"
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
    redfish::Client bmc(deps.http, deps.sessions, std::move(*target), deps.clock, &deps.breakers);
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
       }))
      .Add("server.credential_test", WithBmc(deps, [](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunCredentialTest(ctx, bmc);
       }))
      .Add("server.idrac_reset", WithBmc(deps, [&deps](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunIdracReset(ctx, bmc, deps.ops);
       }))
      .Add("server.job_queue_clear", WithBmc(deps, [](agent::StepContext& ctx, redfish::Client& bmc) {
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
      .Add("server.idrac_settings", WithBmc(deps, [](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunIdracSettings(ctx, bmc);
       }))
      .Add("server.firmware_update", WithBmc(deps, [&deps](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunFirmwareUpdate(ctx, bmc, deps.ops);
       }))
      .Add("server.scp_export", WithBmc(deps, [&deps](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunScpExport(ctx, bmc, deps.ops);
       }))
      .Add("server.scp_import", WithBmc(deps, [&deps](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunScpImport(ctx, bmc, deps.ops);
       }))
      .Add("server.logs", WithBmc(deps, [](agent::StepContext& ctx, redfish::Client& bmc) {
         return RunLogs(ctx, bmc);
       }))
      .Add("discovery.scan", [&deps](agent::StepContext& ctx) { return RunDiscovery(ctx, deps.http, deps.discovery); });
  return steps;
}

}  // namespace dcops::idrac
