#include <fmt/format.h>

#include "inventory.hpp"
#include "operation_steps.hpp"
#include "step_support.hpp"

namespace dcops::idrac {

agent::StepOutcome RunCredentialTest(agent::StepContext& ctx, redfish::Client& bmc) {
  ctx.Progress(10, "opening a session with the credentials under test");
  if (auto st = bmc.VerifyLogin(); !st) return agent::StepOutcome::Failed(st.error());
  ctx.Progress(100, fmt::format("{} accepted the credentials of '{}'", bmc.target().address, bmc.target().username));
  Row result;
  result.Set("authenticated", true);
  result.Set("bmc_address", bmc.target().address);
  return agent::StepOutcome::Succeeded(InventoryJson({result, {}}));
}

}  // namespace dcops::idrac
