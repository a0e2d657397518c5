#include "reboot_step.hpp"

#include <fmt/format.h>

#include <optional>

#include "dcops/agent/params.hpp"
#include "dcops/vsphere/watch.hpp"
#include "host_runtime.hpp"
#include "host_step.hpp"

namespace dcops::esxi {
namespace {

using agent::StepOutcome;
using std::chrono::seconds;

constexpr seconds kTaskLimit{300};  // for vCenter to accept the reboot (the task itself is short)

Result<RebootParams> ParseParams(const agent::Params& p) {
  RebootParams out;
  auto action = p.Text("action", {"reboot", "shutdown"});
  if (!action) return action.error();
  out.shutdown = action->value_or("reboot") == "shutdown";
  auto require = p.Flag("require_maintenance");
  if (!require) return require.error();
  out.require_maintenance = require->value_or(true);
  auto timeout = p.Int("timeout_seconds", 60, 86400);
  if (!timeout) return timeout.error();
  if (*timeout) out.timeout = seconds(**timeout);
  return out;
}

class RebootRun : HostStepRun {
 public:
  RebootRun(agent::StepContext& ctx, vsphere::Client& vcenter, const VcenterTarget& target, RebootParams p, HostCheckpoint from)
      : HostStepRun(ctx, vcenter, target, std::move(from)), p_(p) {}

  StepOutcome Run() {
    const char* task_id = p_.shutdown ? "HostSystem.shutdown" : "HostSystem.reboot";
    auto now = ReadHostRuntime(vcenter_, target_.host);
    if (!now) return StepOutcome::Failed(now.error());
    std::string before = now->boot_time;
    bool sent = cp_.phase == "sent";
    std::optional<vsphere::MoRef> task;  // the step's own, once known
    if (sent && !cp_.task.empty()) task = vsphere::MoRef{"Task", cp_.task};
    if (!cp_.phase.empty()) {
      if (!cp_.before.empty()) before = cp_.before;
      if (!sent) {
        // "sending": the request may have reached vCenter. A task of it that is running or new
        // since the step recorded the host's tasks, a boot time that moved, or a host that is
        // down: it was sent, and it is not sent again.
        auto mine = FindStepTask(vcenter_, *now, task_id, cp_.known_tasks);
        if (!mine) return StepOutcome::Failed(mine.error());
        if (*mine) task = (*mine)->task;
        sent = mine->has_value() || now->boot_time != cp_.before || now->connection_state != "connected";
      }
      if (sent) ctx_.Event(LogLevel::kInfo, fmt::format("resuming: the {} an earlier attempt sent to {} is followed, not repeated",
                                                       p_.shutdown ? "shutdown" : "reboot", Host()));
      if (task) {
        // A task vCenter failed is an answer now, not after the whole wait.
        auto info = vcenter_.ReadTask(*task);
        if (!info && info.error().code != "vsphere.managed_object_not_found") return StepOutcome::Failed(info.error());
        if (info && info->state == "error") {
          return StepOutcome::Failed(vsphere::TaskError(*info, fmt::format("{} of {}", p_.shutdown ? "shutdown" : "reboot", Host())));
        }
      }
    }
    if (!sent) {
      if (now->connection_state != "connected") {
        return StepOutcome::Failed(MakeError("esxi.host_not_connected",
                                             fmt::format("{} is {} in vCenter", Host(), now->connection_state), true));
      }
      if (p_.require_maintenance && !now->in_maintenance) {
        return StepOutcome::Failed(MakeError(
            "esxi.not_in_maintenance",
            fmt::format("{} is not in maintenance mode: not {} it (enter maintenance first, or require_maintenance: false)",
                        Host(), p_.shutdown ? "shutting down" : "rebooting")));
      }
      if (before.empty() && !p_.shutdown) {
        return StepOutcome::Failed(MakeError(
            "esxi.unverifiable", fmt::format("vCenter reports no boot time for {}: a reboot could not be proven", Host())));
      }
      if (ctx_.CancelRequested()) {
        return StepOutcome::Cancelled(fmt::format("cancelled before anything was sent to vCenter; {} was not {}", Host(),
                                                  p_.shutdown ? "shut down" : "rebooted"));
      }
      const std::string op = p_.shutdown ? "ShutdownHost_Task" : "RebootHost_Task";
      if (auto st = Save({.phase = "sending", .operation = op, .before = before, .known_tasks = KnownTasks(*now)}); !st) {
        return StepOutcome::Failed(st.error());
      }
      auto started = vcenter_.StartTask(op, target_.host, fmt::format("<force>{}</force>", !p_.require_maintenance));
      if (!started) return StepOutcome::Failed(started.error());
      task = *started;
      if (auto st = Save({.phase = "sent", .operation = op, .task = task->value, .before = before}); !st) {
        return StepOutcome::Failed(st.error());
      }
      ctx_.Event(LogLevel::kInfo, fmt::format("{} {} (task {}; boot time before {})", p_.shutdown ? "shutting down" : "rebooting",
                                              Host(), task->value, before));
      auto followed = vsphere::FollowTask(vcenter_, *task, ctx_.clock(), kTaskLimit, {}, {});
      if (!followed) return StepOutcome::Failed(followed.error());
      if (followed->end != vsphere::TaskWaitEnd::kFinished) {
        return StepOutcome::Failed(MakeError("esxi.reboot_timeout", fmt::format("{}: task {} did not end within {} s", op,
                                                                                 task->value, kTaskLimit.count())));
      }
      if (followed->info.state == "error") return StepOutcome::Failed(vsphere::TaskError(followed->info, op + " on " + Host()));
      ctx_.Progress(30, fmt::format("vCenter accepted the {}; waiting for {} to go down", p_.shutdown ? "shutdown" : "reboot", Host()));
    }
    return p_.shutdown ? AwaitDown() : AwaitBack(before);
  }

 private:
  bool Cancelled() const { return ctx_.CancelRequested(); }

  StepOutcome AwaitBack(const std::string& before) {
    bool went_down = false, stopped = false;
    std::string boot_after;
    auto back = vsphere::WaitForObject(
        vcenter_, target_.host, {"runtime.connectionState", "runtime.bootTime"}, ctx_.clock(), p_.timeout,
        [this] { return Cancelled(); },
        [&](const vsphere::ObjectWatch& w) {
          const std::string state = w.Text("runtime.connectionState");
          boot_after = w.Text("runtime.bootTime");
          if (state != "connected" && !went_down) {
            went_down = true;
            ctx_.Progress(50, fmt::format("{} is {} in vCenter (rebooting)", Host(), state));
          }
          return state == "connected" && !boot_after.empty() && boot_after != before;
        },
        &stopped);
    if (!back) return StepOutcome::Failed(back.error());
    if (stopped) {
      // A reboot cannot be taken back: the step ends, and says where the host stands.
      return StepOutcome::Cancelled(fmt::format("cancelled while waiting for {} to come back from its reboot", Host()));
    }
    if (!*back) {
      return StepOutcome::Failed(MakeError(
          "esxi.reboot_timeout",
          fmt::format("{} did not come back from its reboot within {} s ({}; boot time {})", Host(), p_.timeout.count(),
                      went_down ? "it went down" : "vCenter never saw it go down", boot_after.empty() ? "unknown" : boot_after)));
    }
    const std::string note = fmt::format("{} rebooted and reconnected (boot time {} → {})", Host(), before, boot_after);
    ctx_.Progress(100, note);
    ctx_.Event(LogLevel::kInfo, note);
    return StepOutcome::Succeeded(JsonObject({{"action", "reboot"}, {"outcome", "rebooted"}, {"host", target_.host.value},
                                              {"host_name", Host()}, {"boot_time_before", before}, {"boot_time_after", boot_after}},
                                             {{"disconnect_seen", went_down}}));
  }

  StepOutcome AwaitDown() {
    bool stopped = false;
    std::string state;
    auto down = vsphere::WaitForObject(
        vcenter_, target_.host, {"runtime.connectionState"}, ctx_.clock(), p_.timeout, [this] { return Cancelled(); },
        [&](const vsphere::ObjectWatch& w) {
          state = w.Text("runtime.connectionState");
          return state != "connected";
        },
        &stopped);
    if (!down) return StepOutcome::Failed(down.error());
    if (stopped) return StepOutcome::Cancelled(fmt::format("cancelled while waiting for {} to shut down", Host()));
    if (!*down) {
      return StepOutcome::Failed(MakeError("esxi.shutdown_timeout", fmt::format("{} is still connected {} s after its shutdown",
                                                                                Host(), p_.timeout.count())));
    }
    const std::string note = fmt::format("{} shut down: vCenter has it {} (a host that is off cannot be read through vCenter)",
                                         Host(), state);
    ctx_.Progress(100, note);
    ctx_.Event(LogLevel::kInfo, note);
    return StepOutcome::Succeeded(JsonObject({{"action", "shutdown"}, {"outcome", "disconnected"}, {"host", target_.host.value},
                                              {"host_name", Host()}, {"connection_state", state}}));
  }

  RebootParams p_;
};

}  // namespace

StepOutcome RunReboot(agent::StepContext& ctx, http::Client& http) {
  auto in = ReadHostStepInput(ctx);
  if (!in) return StepOutcome::Failed(in.error());
  auto p = ParseParams(in->params);
  if (!p) return StepOutcome::Failed(p.error());
  VcenterSession vcenter(http, in->target.endpoint);
  if (auto st = vcenter.Login(); !st) return StepOutcome::Failed(st.error());
  return RebootRun(ctx, vcenter.client(), in->target, *p, ParseHostCheckpoint(ctx.assignment().checkpoint_json)).Run();
}

StepOutcome RebootHost(agent::StepContext& ctx, vsphere::Client& vcenter, const VcenterTarget& target, const RebootParams& p,
                       const HostCheckpoint& from) {
  return RebootRun(ctx, vcenter, target, p, from).Run();
}

}  // namespace dcops::esxi
