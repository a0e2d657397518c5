// server.idrac_settings: read the iDRAC's attributes, or set the ones that differ and read
// them back. iDRAC attributes apply at once (no job, no reboot), so a PATCH of the same
// values is harmless and no checkpoint is needed. Passwords are refused: a secret in job
// params would be stored with the job; credentials belong in credential sets.
#include <fmt/format.h>

#include <algorithm>

#include "attributes.hpp"
#include "dell.hpp"
#include "operation_steps.hpp"
#include "redfish_target.hpp"

namespace dcops::idrac {

agent::StepOutcome RunIdracSettings(agent::StepContext& ctx, redfish::Client& bmc) {
  using agent::StepOutcome;
  auto manager = ManagerOf(bmc);
  if (!manager) return StepOutcome::Failed(manager.error());
  const std::string path = *manager + "/Attributes";  // Dell's, on a confirmed iDRAC
  auto params = Params::Parse(ctx.assignment().params_json);
  if (!params) return StepOutcome::Failed(params.error());
  const auto* wanted = params->Raw("attributes");
  if (wanted != nullptr && !wanted->IsObject()) return StepOutcome::Failed(BadParam("attributes", "must be an object"));
  if (wanted != nullptr) {
    for (const auto& m : wanted->GetObject()) {
      std::string name = m.name.GetString();
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      if (name.find("password") != std::string::npos || name.find("passphrase") != std::string::npos) {
        return StepOutcome::Failed(BadParam("attributes", fmt::format("{} is a secret: set it through a credential set, "
                                                                      "not in job parameters", m.name.GetString())));
      }
    }
  }
  ctx.Progress(10, "reading the iDRAC attributes");
  auto current = bmc.Get(path);
  if (!current) return StepOutcome::Failed(current.error());
  const auto* attrs = current->Find("Attributes");
  if (attrs == nullptr || !attrs->IsObject()) {
    return StepOutcome::Failed(MakeError("redfish.schema", path + ": Attributes is missing or not an object"));
  }
  if (wanted == nullptr || wanted->ObjectEmpty()) {
    ctx.Progress(100, fmt::format("{} attribute(s)", attrs->MemberCount()));
    return StepOutcome::Succeeded(fmt::format(R"({{"attributes":{}}})", JsonText(*attrs)));
  }
  bool any = false;
  auto diff = AttributeDifference(*wanted, *current, "iDRAC", &any);
  if (!diff) return StepOutcome::Failed(diff.error());
  if (!any) {
    ctx.Progress(100, "every attribute already has the wanted value");
    return StepOutcome::Succeeded(R"({"changed":{}})");
  }
  ctx.Progress(40, "setting " + *diff);
  if (auto r = bmc.Patch(path, fmt::format(R"({{"Attributes":{}}})", *diff)); !r) return StepOutcome::Failed(r.error());
  auto after = bmc.Get(path);
  if (!after) return StepOutcome::Failed(after.error());
  bool left = false;
  auto still = AttributeDifference(*wanted, *after, "iDRAC", &left);
  if (!still) return StepOutcome::Failed(still.error());
  if (left) return StepOutcome::Failed(MakeError("idrac.not_applied", "after the change, these still differ: " + *still));
  ctx.Progress(100, "set and read back");
  return StepOutcome::Succeeded(fmt::format(R"({{"changed":{}}})", *diff));
}

}  // namespace dcops::idrac
