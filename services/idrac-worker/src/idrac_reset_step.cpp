// server.idrac_reset: restart the iDRAC and wait until it is healthy again.
#include <fmt/format.h>

#include "dell.hpp"
#include "operation_steps.hpp"

namespace dcops::idrac {
namespace {

using agent::StepOutcome;

struct ManagerState {
  std::string last_reset;  // "" when the BMC does not report it
  std::string health;
};

Result<ManagerState> ReadManager(redfish::Client& bmc) {
  auto mgr = bmc.Get(kManagerPath);
  if (!mgr) return mgr.error();
  auto health = mgr->String("Status/Health");
  if (!health) return health.error();
  return ManagerState{mgr->OptionalString("LastResetTime").value_or(""), *health};
}

// Errors that mean "it is restarting": nothing listens, the connection drops, it is not ready.
bool Restarting(const Error& e) {
  return e.code.rfind("http.", 0) == 0 || e.code == "redfish.not_ready" || e.code == "redfish.server_error";
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

  Checkpoint cp = Checkpoint::Parse(ctx.assignment().checkpoint_json);
  bool went_down = false;
  if (cp.Get("phase").empty() || cp.Get("phase") == "sending") {
    auto before = ReadManager(bmc);
    if (!before) {
      if (cp.Get("phase") == "sending" && Restarting(before.error())) {
        went_down = true;  // the reset an earlier attempt sent is under way
      } else {
        return StepOutcome::Failed(before.error());
      }
    }
    const bool sent_earlier = cp.Get("phase") == "sending" &&
                              (went_down || (!cp.Get("before").empty() && before->last_reset != cp.Get("before")));
    if (sent_earlier) {
      ctx.Event(LogLevel::kInfo, "resuming: the iDRAC reset from an earlier attempt took effect");
    } else {
      cp.Set("phase", "sending").Set("before", before->last_reset);
      if (auto st = ctx.SaveCheckpoint(cp.Json()); !st) return StepOutcome::Failed(st.error());
      ctx.Progress(10, "resetting the iDRAC (" + type->value_or("GracefulRestart") + ")");
      auto r = bmc.Post(std::string(kManagerPath) + "/Actions/Manager.Reset",
                        fmt::format(R"({{"ResetType":"{}"}})", type->value_or("GracefulRestart")));
      if (!r) return StepOutcome::Failed(r.error());
    }
    cp.Set("phase", "sent");
    if (auto st = ctx.SaveCheckpoint(cp.Json()); !st) return StepOutcome::Failed(st.error());
  }

  // Restarted: LastResetTime moved (or, on BMCs without it, it was seen unreachable). Then
  // healthy: Health OK on `healthy_reads` consecutive reads.
  ctx.Progress(30, "waiting for the iDRAC to restart");
  int healthy = 0;
  bool restarted = went_down;
  std::optional<Error> transient;
  auto end = WaitUntil(
      ctx, options.poll_interval, timeout,
      [&]() -> Result<bool> {
        auto m = ReadManager(bmc);
        if (!m) {
          healthy = 0;
          if (Restarting(m.error())) {
            restarted = true;
            return MakeError(m.error().code, m.error().message, true);
          }
          return m.error();
        }
        if (!cp.Get("before").empty() && m->last_reset != cp.Get("before")) restarted = true;
        if (!restarted) return false;
        healthy = m->health == "OK" ? healthy + 1 : 0;
        ctx.Progress(60 + 40 * healthy / (options.healthy_reads + 1),
                     fmt::format("iDRAC answers: health {} ({} of {} reads)", m->health, healthy, options.healthy_reads));
        return healthy >= options.healthy_reads;
      },
      &transient);
  if (!end) return StepOutcome::Failed(end.error());
  if (*end == WaitEnd::kCancelled) return StepOutcome::Cancelled("cancelled while waiting for the iDRAC");
  if (*end == WaitEnd::kTimedOut) {
    return StepOutcome::Failed(MakeError(
        "idrac.reset_timeout",
        fmt::format("the iDRAC {} within {} s{}", restarted ? "did not become healthy" : "was never seen restarting",
                    std::chrono::duration_cast<std::chrono::seconds>(timeout).count(),
                    transient ? " (last error: " + transient->message + ")" : ""),
        true));
  }
  ctx.Progress(100, "the iDRAC restarted and is healthy");
  return StepOutcome::Succeeded(fmt::format(R"({{"restarted":true,"healthy_reads":{}}})", healthy));
}

}  // namespace dcops::idrac
