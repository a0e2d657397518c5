// server.idrac_reset: restart the BMC (Manager.Reset, where the manager advertises it) and wait
// until it is healthy again.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "dcops/redfish/actions.hpp"
#include "redfish_target.hpp"

#include "dell.hpp"
#include "operation_steps.hpp"

namespace dcops::idrac {

using agent::StepOutcome;

namespace {

// The manager's Manager.Reset target, once the service allows `type` there.
Result<std::string> ManagerReset(redfish::Client& bmc, const std::string& type) {
  auto manager = ManagerOf(bmc);
  if (!manager) return manager.error();
  auto doc = bmc.Get(*manager);
  if (!doc) return doc.error();
  auto reset = redfish::FindAction(bmc, *doc, "#Manager.Reset");
  if (!reset) return reset.error();
  if (!reset->Allows("ResetType", type)) {
    return MakeError("step.unsupported", fmt::format("{} does not offer ResetType {} (it allows: {})", *manager, type,
                                                     fmt::join(reset->Allowed("ResetType"), ", ")));
  }
  return reset->target;
}

}  // namespace

StepOutcome RunIdracReset(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options) {
  auto params = Params::Parse(ctx.assignment().params_json);
  if (!params) return StepOutcome::Failed(params.error());
  auto type = params->Text("type", {"GracefulRestart", "ForceRestart"});
  if (!type) return StepOutcome::Failed(type.error());
  auto timeout_s = params->Int("timeout_seconds", 60, 3600);
  if (!timeout_s) return StepOutcome::Failed(timeout_s.error());
  const auto timeout = *timeout_s ? std::chrono::milliseconds(**timeout_s * 1000) : options.restart_timeout;
  auto observe_s = params->Int("restart_observe_seconds", 5, 3600);
  if (!observe_s) return StepOutcome::Failed(observe_s.error());
  const auto observe = std::chrono::milliseconds((observe_s->value_or(120)) * 1000);

  Checkpoint cp = Checkpoint::Parse(ctx.assignment().checkpoint_json);
  bool went_down = false;
  if (cp.Get("phase").empty() || cp.Get("phase") == "sending") {
    auto before = ManagerLastReset(bmc);
    if (!before) {
      if (cp.Get("phase") == "sending" && IsRestarting(before.error())) {
        went_down = true;  // the reset an earlier attempt sent is under way
      } else {
        return StepOutcome::Failed(before.error());
      }
    }
    const bool sent_earlier = cp.Get("phase") == "sending" &&
                              (went_down || (!cp.Get("before").empty() && *before != cp.Get("before")));
    // An earlier attempt may have sent the reset, and a manager without LastResetTime cannot
    // say whether it did: it is not sent a second time; the wait below decides (or says
    // unverified).
    const bool cannot_tell = cp.Get("phase") == "sending" && !sent_earlier && cp.Get("before").empty();
    if (sent_earlier) {
      ctx.Event(LogLevel::kInfo, "resuming: the iDRAC reset from an earlier attempt took effect");
    } else if (cannot_tell) {
      ctx.Event(LogLevel::kWarn, "resuming: an earlier attempt may have sent the reset and this BMC reports no "
                                 "LastResetTime to tell; not sending it a second time");
    } else {
      cp.Set("phase", "sending").Set("before", *before);
      if (auto st = ctx.SaveCheckpoint(cp.Json()); !st) return StepOutcome::Failed(st.error());
      auto reset = ManagerReset(bmc, type->value_or("GracefulRestart"));
      if (!reset) return StepOutcome::Failed(reset.error());
      ctx.Progress(10, "resetting the manager (" + type->value_or("GracefulRestart") + ")");
      auto r = bmc.Post(*reset, fmt::format(R"({{"ResetType":"{}"}})", type->value_or("GracefulRestart")));
      if (!r) return StepOutcome::Failed(r.error());
    }
    cp.Set("phase", "sent").Set("since", UnixSecondsText(ctx.clock()));
    if (auto st = ctx.SaveCheckpoint(cp.Json()); !st) return StepOutcome::Failed(st.error());
  }

  // A retry continues the wait the first attempt began (what is left of `timeout`).
  const auto left = TimeLeft(ctx.clock(), cp.Get("since"), timeout);
  if (left < timeout) {
    ctx.Event(LogLevel::kInfo, fmt::format("continuing the wait for the restart: {} s of {} s left",
                                           left.count() / 1000, timeout.count() / 1000));
  }
  auto seen = WaitForIdracRestart(ctx, bmc, options, cp.Get("before"), went_down, left,
                                  std::min(observe, left));
  if (!seen) return FailedOrCancelled(ctx, seen.error());
  if (!seen->verified) {
    const std::string note = fmt::format(
        "the BMC accepted the reset and answers healthily, but nothing showed a restart within {} s (it reports no "
        "LastResetTime and was not seen going away)",
        observe.count() / 1000);
    ctx.Event(LogLevel::kWarn, "idrac_reset.unverified: " + note);
    ctx.Progress(100, "unverified: " + note);
    return StepOutcome::Succeeded(fmt::format(R"({{"restarted":false,"outcome":"unverified","healthy_reads":{}}})",
                                              seen->healthy_reads));
  }
  ctx.Progress(100, "the iDRAC restarted and is healthy");
  return StepOutcome::Succeeded(
      fmt::format(R"({{"restarted":true,"outcome":"verified","healthy_reads":{}}})", seen->healthy_reads));
}

}  // namespace dcops::idrac
