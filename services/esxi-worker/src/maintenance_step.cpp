#include "maintenance_step.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "dcops/agent/params.hpp"
#include "dcops/vsphere/watch.hpp"
#include "host_runtime.hpp"
#include "safety_reader.hpp"
#include "safety_report_json.hpp"
#include "host_step.hpp"

namespace dcops::esxi {
namespace {

using agent::StepOutcome;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kEnterTask = "HostSystem.enterMaintenanceMode";
constexpr const char* kExitTask = "HostSystem.exitMaintenanceMode";
// Beyond vCenter's own timeout, how long the step still waits for the task to end.
constexpr seconds kGrace{120};
// How long a cancelled entry (and the exit that undoes it) may take.
constexpr seconds kUndoLimit{300};

struct MaintenanceParams {
  std::string action;
  bool evacuate_powered_off = false;
  std::string vsan_mode;
  seconds timeout{1800};
  int min_hosts_up = 0;
  // An exit after the host restarted (a rolling update's firmware): how long it may take to
  // reconnect to vCenter before the exit gives up. 0: it must be connected now.
  seconds wait_connected{0};
  // An entry of a rolling update: a host someone else put in maintenance is theirs, not taken
  // over (and later brought back) by this job.
  bool refuse_found_in_maintenance = false;
  // A rolling update's settle (its finalizer, action "settle"): an exit only when the host is
  // healthy and none of the host's steps failed (`steps`, from the dispatcher's "_finalizer").
  bool settle = false;
  struct PriorStep {
    std::string key, status, action, on_cancel, error;
    bool acted = false;  // it saved a checkpoint: it had started something
  };
  std::vector<PriorStep> steps;
  bool slot_held = false;  // the host's cluster maintenance slot is this job's
};

Result<MaintenanceParams> ParseParams(const agent::Params& p) {
  MaintenanceParams out;
  auto action = p.RequiredText("action", {"enter", "exit", "settle"});
  if (!action) return action.error();
  out.settle = *action == "settle";
  out.action = out.settle ? "exit" : *action;
  if (out.settle) {
    const rapidjson::Value* f = p.Raw("_finalizer");
    if (f == nullptr || !f->IsObject() || !f->HasMember("steps") || !(*f)["steps"].IsArray() || !f->HasMember("slot_held") ||
        !(*f)["slot_held"].IsBool()) {
      return MakeError("step.params", "_finalizer: a settle needs its host's steps and slot (the dispatcher adds them)");
    }
    out.slot_held = (*f)["slot_held"].GetBool();
    for (const auto& st : (*f)["steps"].GetArray()) {
      if (!st.IsObject()) continue;
      auto text = [&st](const char* k) { return st.HasMember(k) && st[k].IsString() ? std::string(st[k].GetString()) : ""; };
      out.steps.push_back({text("key"), text("status"), text("action"), text("on_cancel"), text("error_message"),
                           st.HasMember("acted") && st["acted"].IsTrue()});
    }
  }
  auto evacuate = p.Flag("evacuate_powered_off");
  if (!evacuate) return evacuate.error();
  out.evacuate_powered_off = evacuate->value_or(false);
  auto vsan = p.Text("vsan_mode", {"ensureObjectAccessibility", "evacuateAllData", "noAction"});
  if (!vsan) return vsan.error();
  out.vsan_mode = vsan->value_or("");
  auto timeout = p.Int("timeout_seconds", 60, 86400);
  if (!timeout) return timeout.error();
  if (*timeout) out.timeout = seconds(**timeout);
  auto min_hosts = p.Int("min_hosts_up", 1, 64);
  if (!min_hosts) return min_hosts.error();
  out.min_hosts_up = static_cast<int>(min_hosts->value_or(0));
  auto wait = p.Int("_wait_connected_seconds", 0, 86400);
  if (!wait) return wait.error();
  out.wait_connected = seconds(wait->value_or(0));
  auto refuse = p.Flag("_refuse_found_in_maintenance");
  if (!refuse) return refuse.error();
  out.refuse_found_in_maintenance = refuse->value_or(false);
  return out;
}

class MaintenanceRun : HostStepRun {
 public:
  MaintenanceRun(agent::StepContext& ctx, vsphere::Client& vcenter, const VcenterTarget& target, const agent::Params& raw,
                 MaintenanceParams p)
      : HostStepRun(ctx, vcenter, target, ParseHostCheckpoint(ctx.assignment().checkpoint_json)), raw_(raw), p_(std::move(p)) {}

  StepOutcome Run() {
    const bool enter = p_.action == "enter";
    ctx_.Progress(5, fmt::format("reading {} from vCenter", Host()));
    auto now = ReadHostRuntime(vcenter_, target_.host);
    if (!now) return StepOutcome::Failed(now.error());
    // An earlier attempt of this step may have started the task: follow it, never start another.
    if (cp_.phase == "sent" && !cp_.task.empty()) {
      auto info = vcenter_.ReadTask({"Task", cp_.task});
      if (info) {
        ctx_.Event(LogLevel::kInfo, fmt::format("resuming: following task {} that an earlier attempt started ({})",
                                                cp_.task, info->state));
        return Follow({"Task", cp_.task}, enter, true);
      }
      if (info.error().code != "vsphere.managed_object_not_found") return StepOutcome::Failed(info.error());
      ctx_.Event(LogLevel::kInfo, fmt::format("resuming: vCenter no longer has task {}; judging by the host", cp_.task));
    }
    if (!cp_.phase.empty()) {
      // The task it may have started: running, or new since it recorded the host's tasks.
      auto mine = FindStepTask(vcenter_, *now, enter ? kEnterTask : kExitTask, cp_.known_tasks);
      if (!mine) return StepOutcome::Failed(mine.error());
      if (*mine) {
        ctx_.Event(LogLevel::kInfo, fmt::format("resuming: task {} on {} ({}) is this step's; following it", (*mine)->task.value,
                                                Host(), (*mine)->info.state));
        if (auto st = Save({.phase = "sent", .operation = enter ? "EnterMaintenanceMode_Task" : "ExitMaintenanceMode_Task",
                            .task = (*mine)->task.value});
            !st) {
          return StepOutcome::Failed(st.error());
        }
        return Follow((*mine)->task, enter, true);
      }
      now = ReadHostRuntime(vcenter_, target_.host);  // the host as it is after that search
      if (!now) return StepOutcome::Failed(now.error());
    }
    if (p_.settle && cp_.phase.empty()) {
      if (auto settled = Settle(*now)) return *settled;
    }
    if (now->in_maintenance == enter) {
      const bool ours = !cp_.phase.empty();
      if (enter && !ours && p_.refuse_found_in_maintenance) {
        return StepOutcome::Failed(MakeError(
            "esxi.found_in_maintenance",
            fmt::format("{} is in maintenance already, put there outside this job: whether it is updated and brought back "
                        "is for whoever put it there; nothing was sent",
                        Host())));
      }
      const std::string note = ours ? fmt::format("resuming: {} {} maintenance (an earlier attempt's task)", Host(), enter ? "entered" : "left")
                                    : fmt::format("{} is already {} maintenance; nothing to do", Host(), enter ? "in" : "out of");
      ctx_.Event(LogLevel::kInfo, note);
      return Done(ours ? (enter ? "entered" : "exited") : (enter ? "already_in_maintenance" : "not_in_maintenance"), note, "", "");
    }
    if (now->connection_state != "connected" && p_.wait_connected.count() > 0) {
      auto back = AwaitConnected(now->connection_state);
      if (back && p_.settle && back->kind == agent::StepOutcome::Kind::kFailed) {
        return Left(fmt::format("it is not healthy: {}", back->error.message));
      }
      if (back) return *back;
      now = ReadHostRuntime(vcenter_, target_.host);
      if (!now) return StepOutcome::Failed(now.error());
      if (now->in_maintenance == enter) {
        const std::string note = fmt::format("{} reconnected {} maintenance; nothing to do", Host(), enter ? "in" : "out of");
        ctx_.Event(LogLevel::kInfo, note);
        return Done(enter ? "already_in_maintenance" : "not_in_maintenance", note, "", "");
      }
    }
    if (now->connection_state != "connected") {
      return StepOutcome::Failed(MakeError("esxi.host_not_connected",
                                           fmt::format("{} is {} in vCenter; maintenance mode cannot be changed", Host(),
                                                       now->connection_state),
                                           true));
    }
    std::string safety;
    if (enter) {
      auto refused = SafetyFirst(safety);
      if (refused) return *refused;
    }
    if (ctx_.CancelRequested()) {
      return StepOutcome::Cancelled(fmt::format("cancelled before anything was sent to vCenter; {} is as it was", Host()));
    }
    auto task = Start(enter, KnownTasks(*now));
    if (!task) return StepOutcome::Failed(task.error());
    return Follow(*task, enter, false, safety);
  }

 private:
  // Waits for the host to reconnect to vCenter (after a restart vCenter did not do): nothing
  // once it has, else how the step ends.
  std::optional<StepOutcome> AwaitConnected(const std::string& state) {
    ctx_.Progress(8, fmt::format("{} is {} in vCenter; waiting up to {} s for it to reconnect", Host(), state,
                                 p_.wait_connected.count()));
    bool stopped = false;
    auto back = vsphere::WaitForObject(
        vcenter_, target_.host, {"runtime.connectionState"}, ctx_.clock(), p_.wait_connected,
        [this] { return ctx_.CancelRequested(); },
        [](const vsphere::ObjectWatch& w) { return w.Text("runtime.connectionState") == "connected"; }, &stopped);
    if (!back) return StepOutcome::Failed(back.error());
    if (stopped) return StepOutcome::Cancelled(fmt::format("cancelled while waiting for {} to reconnect; nothing was sent", Host()));
    if (!*back) {
      return StepOutcome::Failed(MakeError("esxi.host_not_connected",
                                           fmt::format("{} did not reconnect to vCenter within {} s", Host(),
                                                       p_.wait_connected.count())));
    }
    ctx_.Event(LogLevel::kInfo, fmt::format("{} reconnected to vCenter", Host()));
    return std::nullopt;
  }

  // The cluster's safety check for this host, now: a refusal, or nothing (with the report).
  std::optional<StepOutcome> SafetyFirst(std::string& report_json) {
    if (target_.cluster_moref.empty()) {
      ctx_.Event(LogLevel::kInfo, fmt::format("{} is in no cluster: no safety check; vCenter waits for its running VMs "
                                              "to be powered off", Host()));
      return std::nullopt;
    }
    ctx_.Progress(10, "safety check of the cluster");
    auto inputs = ReadSafetyInputs(vcenter_, target_.cluster_moref, target_.vcenter_host);
    if (!inputs) return StepOutcome::Failed(inputs.error());
    // Hosts the dispatcher has other entries in flight for count as gone already.
    const rapidjson::Value* endpoint = raw_.Raw("_endpoint");
    if (endpoint != nullptr && endpoint->IsObject() && endpoint->HasMember("hosts_leaving") && (*endpoint)["hosts_leaving"].IsArray()) {
      for (const auto& leaving : (*endpoint)["hosts_leaving"].GetArray()) {
        if (!leaving.IsString()) continue;
        for (auto& h : inputs->hosts) {
          if (h.moref == leaving.GetString()) h.in_maintenance = true;
        }
      }
    }
    SafetyOptions options;
    options.evacuate_powered_off = p_.evacuate_powered_off;
    options.min_healthy_hosts = p_.min_hosts_up;
    const auto report = CheckSafety(inputs->cluster, inputs->hosts, inputs->vms, inputs->datastores, {target_.host.value}, options);
    report_json = SafetyReportJson(inputs->cluster, report);
    const HostVerdict& v = report.verdicts.front();
    if (v.can_enter_maintenance()) return std::nullopt;
    std::vector<std::string> why = v.capacity_problems;
    for (const auto& b : v.blockers) why.push_back(b.vm_name.empty() ? b.kind : fmt::format("{} ({})", b.kind, b.vm_name));
    const std::string message = fmt::format("{} cannot enter maintenance: {}", Host(), fmt::join(why, "; "));
    ctx_.Event(LogLevel::kWarn, message + "; nothing was sent to vCenter");
    return StepOutcome::Failed(MakeError("esxi.blocked", message));
  }

  // Written ahead: "sending" before the request, "sent" with the task once vCenter has it.
  Result<vsphere::MoRef> Start(bool enter, const std::string& known_tasks) {
    const std::string op = enter ? "EnterMaintenanceMode_Task" : "ExitMaintenanceMode_Task";
    if (auto st = Save({.phase = "sending", .operation = op, .known_tasks = known_tasks}); !st) return st.error();
    std::string body = fmt::format("<timeout>{}</timeout>", p_.timeout.count());
    if (enter) {
      body += fmt::format("<evacuatePoweredOffVms>{}</evacuatePoweredOffVms>", p_.evacuate_powered_off);
      if (!p_.vsan_mode.empty()) {
        body += "<maintenanceSpec><vsanMode><objectAction>" + p_.vsan_mode + "</objectAction></vsanMode></maintenanceSpec>";
      }
    }
    auto task = vcenter_.StartTask(op, target_.host, body);
    if (!task) return task.error();
    if (auto st = Save({.phase = "sent", .operation = op, .task = task->value}); !st) return st.error();
    ctx_.Event(LogLevel::kInfo,
               enter ? fmt::format("entering maintenance on {} (task {}, vCenter timeout {} s{}{})", Host(), task->value,
                                   p_.timeout.count(), p_.evacuate_powered_off ? ", powered-off VMs evacuated" : "",
                                   p_.vsan_mode.empty() ? "" : ", vSAN " + p_.vsan_mode)
                     : fmt::format("leaving maintenance on {} (task {})", Host(), task->value));
    return task;
  }

  StepOutcome Follow(const vsphere::MoRef& task, bool enter, bool resumed, const std::string& safety = "") {
    const char* what = enter ? "EnterMaintenanceMode" : "ExitMaintenanceMode";
    auto followed = vsphere::FollowTask(
        vcenter_, task, ctx_.clock(), p_.timeout + kGrace, [this] { return ctx_.CancelRequested(); },
        [&](const vsphere::TaskInfo& info) {
          if (info.state == "running") {
            ctx_.Progress(20 + info.progress * 3 / 4,
                          enter ? fmt::format("DRS is moving VMs off {}: {}%", Host(), info.progress)
                                : fmt::format("{} is leaving maintenance: {}%", Host(), info.progress));
          }
        });
    if (!followed) return StepOutcome::Failed(followed.error());
    if (followed->end == vsphere::TaskWaitEnd::kStopped) return Cancel(task, enter);
    if (followed->end == vsphere::TaskWaitEnd::kLimit) {
      // vCenter's own timeout should have ended it: cancel it, and say where the host ended up.
      if (auto st = vcenter_.CancelTask(task); !st) {
        ctx_.Event(LogLevel::kWarn, fmt::format("cancelling task {} after the wait ran out failed: {}", task.value, st.error().message));
      }
      auto ended = vsphere::FollowTask(vcenter_, task, ctx_.clock(), kUndoLimit, {}, {});
      if (!ended) return StepOutcome::Failed(ended.error());
      auto host = ReadHostRuntime(vcenter_, target_.host);
      if (!host) return StepOutcome::Failed(host.error());
      if (host->in_maintenance == enter && ended->end == vsphere::TaskWaitEnd::kFinished && ended->info.state == "success") {
        followed = ended;  // it finished as it was being cancelled: the effect is there
      } else {
        // A timeout is a question for an operator only when the host is as it was; a cancel
        // vCenter did not confirm, or a host that changed anyway, is not (the slot stays held).
        const bool as_it_was = ended->end == vsphere::TaskWaitEnd::kFinished && host->in_maintenance != enter;
        return StepOutcome::Failed(MakeError(
            as_it_was ? "esxi.maintenance_timeout" : "esxi.cancel_unconfirmed",
            fmt::format("{}: task {} on {} did not end within {} s and was cancelled{}; the host is {} maintenance", what, task.value,
                        Host(), (p_.timeout + kGrace).count(),
                        ended->end == vsphere::TaskWaitEnd::kFinished ? "" : " (vCenter has not confirmed the cancel)",
                        host->in_maintenance ? "in" : "not in")));
      }
    }
    const vsphere::TaskInfo& info = followed->info;
    auto after = ReadHostRuntime(vcenter_, target_.host);
    if (!after) return StepOutcome::Failed(after.error());
    if (info.state == "error") {
      const std::string state = after->in_maintenance ? "in maintenance" : "not in maintenance";
      if (info.fault == "Timedout") {
        return StepOutcome::Failed(MakeError(
            "esxi.maintenance_timeout",
            fmt::format("{} did not {} maintenance within {} s (vCenter: {}); the host is {}", Host(),
                        enter ? "enter" : "leave", p_.timeout.count(), info.error, state)));
      }
      Error e = vsphere::TaskError(info, fmt::format("{} on {}", what, Host()));
      e.message += "; the host is " + state;
      return StepOutcome::Failed(e);
    }
    if (after->in_maintenance != enter) {
      return StepOutcome::Failed(MakeError(
          "esxi.unverified", fmt::format("{}: task {} succeeded, yet vCenter shows {} {} maintenance", what, task.value,
                                         Host(), enter ? "not in" : "still in")));
    }
    const std::string note = fmt::format("{} is {} maintenance", Host(), enter ? "in" : "out of");
    ctx_.Event(LogLevel::kInfo, resumed ? note + " (the task an earlier attempt started)" : note);
    return Done(enter ? "entered" : "exited", note, task.value, safety);
  }

  // Cancellation: the entry stops in vCenter, and an entry that completed anyway is undone.
  StepOutcome Cancel(const vsphere::MoRef& task, bool enter) {
    if (auto st = vcenter_.CancelTask(task); !st && st.error().code != "vsphere.fault") {
      return StepOutcome::Failed(st.error());
    }
    auto ended = vsphere::FollowTask(vcenter_, task, ctx_.clock(), kUndoLimit, {}, {});
    if (!ended) return StepOutcome::Failed(ended.error());
    auto after = ReadHostRuntime(vcenter_, target_.host);
    if (!after) return StepOutcome::Failed(after.error());
    if (ended->end != vsphere::TaskWaitEnd::kFinished) {
      return StepOutcome::Failed(MakeError(
          "esxi.cancel_unconfirmed", fmt::format("cancelled, but task {} on {} did not end within {} s of its cancel; the host is {} "
                                                 "maintenance for now and may still change", task.value, Host(), kUndoLimit.count(),
                                                 after->in_maintenance ? "in" : "out of")));
    }
    if (!enter || !after->in_maintenance) {
      const std::string note =
          enter ? fmt::format("cancelled: task {} stopped; {} is out of maintenance, as it was", task.value, Host())
                : fmt::format("cancelled: task {} {}; {} is {} maintenance", task.value,
                              ended->info.state == "success" ? "had completed" : "stopped", Host(),
                              after->in_maintenance ? "still in" : "out of");
      ctx_.Event(LogLevel::kWarn, note);
      return StepOutcome::Cancelled(note);
    }
    // The entry completed before the cancel reached it: this step made it, so it takes it back.
    ctx_.Event(LogLevel::kWarn, fmt::format("cancelled after {} entered maintenance; leaving maintenance again", Host()));
    auto exit = vcenter_.StartTask("ExitMaintenanceMode_Task", target_.host, fmt::format("<timeout>{}</timeout>", kUndoLimit.count()));
    if (!exit) return StepOutcome::Failed(exit.error());
    auto left = vsphere::FollowTask(vcenter_, *exit, ctx_.clock(), kUndoLimit, {}, {});
    if (!left) return StepOutcome::Failed(left.error());
    if (left->end != vsphere::TaskWaitEnd::kFinished || left->info.state != "success") {
      return StepOutcome::Failed(MakeError(
          "esxi.undo_failed", fmt::format("cancelled, but {} could not be taken out of maintenance again: {}", Host(),
                                          left->info.error.empty() ? "no answer in time" : left->info.error)));
    }
    return StepOutcome::Cancelled(fmt::format("cancelled: {} entered maintenance and was taken out again", Host()));
  }

  // The settle's judgement before it would exit: how the step ends when it must not, or
  // nothing (the host is this job's, in maintenance, healthy as far as its steps say).
  std::optional<StepOutcome> Settle(const HostRuntime& now) {
    for (const auto& st : p_.steps) {
      if (st.action == "exit" && st.status == "succeeded") {
        // Its exit brought it back; whatever state it is in now is someone else's doing.
        return Settled(LogLevel::kInfo, "exited_before", fmt::format("{}'s exit ({}) brought it back; nothing to settle", Host(), st.key));
      }
    }
    if (!p_.slot_held) {
      // Not (or no longer) in maintenance through this job: an entry that never took the host
      // in, or someone else's maintenance since. Not this job's to change, or to record.
      return Settled(now.in_maintenance ? LogLevel::kWarn : LogLevel::kInfo, "not_ours",
                     now.in_maintenance ? fmt::format("{} is in maintenance, but not through this job; left as it is", Host())
                                        : fmt::format("{} is out of maintenance; nothing to settle", Host()));
    }
    if (!now.in_maintenance) return std::nullopt;  // the exit path says so, and frees the slot
    for (const auto& st : p_.steps) {
      if (st.status == "failed") {
        return Left(fmt::format("step {} failed ({}); look at it before it takes VMs again, then take it out of maintenance",
                                st.key, st.error.empty() ? "no message" : st.error));
      }
      if (st.on_cancel == "finish" && st.acted && st.status != "succeeded") {
        return Left(fmt::format("step {} started and did not finish ({}); its update may be incomplete", st.key, st.status));
      }
    }
    return std::nullopt;
  }

  // A settle with nothing of its own to record: the host's state is not this job's to say.
  StepOutcome Settled(LogLevel level, const std::string& outcome, const std::string& note) {
    ctx_.Event(level, note);
    ctx_.Progress(100, note);
    return StepOutcome::Succeeded(JsonObject({{"action", "settle"}, {"outcome", outcome}, {"host", target_.host.value},
                                              {"host_name", Host()}, {"note", note}}));
  }

  // A settle that leaves the host in maintenance: a safe state, said loudly.
  StepOutcome Left(const std::string& why) {
    const std::string note = fmt::format("{} is left in maintenance: {}", Host(), why);
    ctx_.Event(LogLevel::kWarn, note);
    return Done("left_in_maintenance", note, "", "", true);
  }

  StepOutcome Done(const std::string& outcome, const std::string& note, const std::string& task, const std::string& safety,
                   std::optional<bool> in_maintenance = std::nullopt) {
    ctx_.Progress(100, note);
    const bool in = in_maintenance.value_or(p_.action == "enter");
    const std::initializer_list<std::pair<const char*, std::string>> fields = {
        {"action", p_.settle ? "settle" : p_.action}, {"outcome", outcome}, {"host", target_.host.value}, {"host_name", Host()}, {"task", task},
        {"note", note}};
    if (safety.empty()) return StepOutcome::Succeeded(JsonObject(fields, {{"in_maintenance", in}}));
    return StepOutcome::Succeeded(JsonObject(fields, {{"in_maintenance", in}}, {{"safety", safety}}));
  }

  const agent::Params& raw_;
  MaintenanceParams p_;
};

}  // namespace

StepOutcome RunMaintenance(agent::StepContext& ctx, http::Client& http) {
  auto in = ReadHostStepInput(ctx);
  if (!in) return StepOutcome::Failed(in.error());
  auto p = ParseParams(in->params);
  if (!p) return StepOutcome::Failed(p.error());
  if (p->settle) {
    // An entry that never reached vCenter (skipped after a failure before it, cancelled while
    // it waited): this job never touched the host. Nothing to settle, vCenter not even asked.
    const auto entry = std::find_if(p->steps.begin(), p->steps.end(), [](const auto& s) { return s.action == "enter"; });
    if (entry != p->steps.end() && !entry->acted && entry->status != "running" && entry->status != "leased") {
      const std::string note = fmt::format("{}: its entry ({}, {}) never reached vCenter; nothing to settle", in->target.host_name,
                                           entry->key, entry->status);
      ctx.Event(LogLevel::kInfo, note);
      return StepOutcome::Succeeded(JsonObject({{"action", "settle"}, {"outcome", "never_entered"}, {"host", in->target.host.value},
                                                {"host_name", in->target.host_name}, {"note", note}}));
    }
  }
  VcenterSession vcenter(http, in->target.endpoint);
  if (auto st = vcenter.Login(); !st) return StepOutcome::Failed(st.error());
  return MaintenanceRun(ctx, vcenter.client(), in->target, in->params, std::move(*p)).Run();
}

}  // namespace dcops::esxi
