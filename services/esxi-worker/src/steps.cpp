#include "steps.hpp"

#include "cluster_settings_step.hpp"
#include "maintenance_step.hpp"
#include "reboot_step.hpp"
#include "safety_step.hpp"
#include "upgrade_step.hpp"

namespace dcops::esxi {

agent::StepRegistry MakeSteps(http::Client& http) {
  agent::StepRegistry r;
  r.Add("cluster.safety_check", [&http](agent::StepContext& ctx) { return RunSafetyCheck(ctx, http); })
      .Add("cluster.settings", [&http](agent::StepContext& ctx) { return RunClusterSettings(ctx, http); })
      .Add("host.maintenance", [&http](agent::StepContext& ctx) { return RunMaintenance(ctx, http); })
      .Add("host.reboot", [&http](agent::StepContext& ctx) { return RunReboot(ctx, http); })
      .Add("host.esxi_upgrade", [&http](agent::StepContext& ctx) {
        static const ShellConnector connect = [](const ssh::Endpoint& e) { return ssh::Session::Connect(e); };
        return RunUpgrade(ctx, http, connect);
      });
  return r;
}

}  // namespace dcops::esxi
