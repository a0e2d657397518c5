#include <fmt/format.h>

#include "operation_steps.hpp"
#include "step_support.hpp"

namespace dcops::idrac {

agent::StepOutcome RunCredentialTest(agent::StepContext& ctx, redfish::Client& bmc) {
  ctx.Progress(10, "opening a session with the credentials under test");
  if (auto st = bmc.VerifyLogin(); !st) return agent::StepOutcome::Failed(st.error());
  ctx.Progress(100, fmt::format("{} accepted the credentials of '{}'", bmc.target().address, bmc.target().username));
  return agent::StepOutcome::Succeeded(
      fmt::format(R"({{"authenticated":true,"bmc_address":"{}"}})", bmc.target().address));
}

}  // namespace dcops::idrac
