#include "power_step.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <optional>

#include "dcops/redfish/actions.hpp"
#include "redfish_target.hpp"
#include "step_support.hpp"

namespace dcops::idrac {
namespace {

using agent::StepOutcome;
using std::chrono::milliseconds;

const std::vector<std::string> kActions = {"On", "ForceOff", "GracefulShutdown", "GracefulRestart",
                                           "ForceRestart", "PowerCycle"};

struct Params {
  std::string action;
  std::chrono::seconds graceful_timeout{300};
  bool force_after_timeout = false;
  // Waits (job parameters; the defaults come from PowerOptions): reaching the requested state,
  // and seeing a restart happen.
  std::optional<std::chrono::seconds> settle_timeout;
  std::optional<std::chrono::seconds> restart_observe;
};

Result<std::optional<std::chrono::seconds>> PositiveSeconds(const rapidjson::Document& doc, const char* name) {
  if (!doc.HasMember(name)) return std::optional<std::chrono::seconds>();
  if (!doc[name].IsInt() || doc[name].GetInt() < 1 || doc[name].GetInt() > 86400) {
    return MakeError("step.bad_params", fmt::format("params.{}: must be an integer from 1 to 86400", name));
  }
  return std::optional<std::chrono::seconds>(doc[name].GetInt());
}

Result<Params> ParseParams(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.empty() ? "{}" : json.c_str());
  if (doc.HasParseError() || !doc.IsObject()) return MakeError("step.bad_params", "params: not a JSON object");
  Params p;
  if (!doc.HasMember("action") || !doc["action"].IsString()) {
    return MakeError("step.bad_params", "params.action: is required");
  }
  p.action = doc["action"].GetString();
  if (std::find(kActions.begin(), kActions.end(), p.action) == kActions.end()) {
    return MakeError("step.bad_params", fmt::format("params.action: '{}' is not a power action", p.action));
  }
  if (doc.HasMember("graceful_timeout_seconds")) {
    if (!doc["graceful_timeout_seconds"].IsInt() || doc["graceful_timeout_seconds"].GetInt() < 1) {
      return MakeError("step.bad_params", "params.graceful_timeout_seconds: must be a positive integer");
    }
    p.graceful_timeout = std::chrono::seconds(doc["graceful_timeout_seconds"].GetInt());
  }
  if (doc.HasMember("force_after_timeout")) {
    if (!doc["force_after_timeout"].IsBool()) {
      return MakeError("step.bad_params", "params.force_after_timeout: must be true or false");
    }
    p.force_after_timeout = doc["force_after_timeout"].GetBool();
  }
  auto settle = PositiveSeconds(doc, "settle_timeout_seconds");
  if (!settle) return settle.error();
  p.settle_timeout = *settle;
  auto observe = PositiveSeconds(doc, "restart_observe_seconds");
  if (!observe) return observe.error();
  p.restart_observe = *observe;
  return p;
}

// Phases an attempt records: "sending" (written ahead of every action: `sent` is about to be
// POSTed, `then` is the phase it leads to, `reset_before` the BMC's LastResetTime before it),
// "emulating_off" (the off half of an emulated restart was sent), "off_done" (it completed;
// power-on remains), "sent" (the final action was accepted).
// `since` (Unix seconds) is when the BMC accepted `sent`: a retry continues that wait instead of
// starting a new one.
struct PowerCheckpoint {
  std::string phase;
  std::string sent;
  std::string then;
  std::string reset_before;
  std::string since{};
};

PowerCheckpoint ParseCheckpoint(const std::string& json) {
  PowerCheckpoint cp;
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  if (json.empty() || doc.HasParseError() || !doc.IsObject()) return cp;
  if (doc.HasMember("phase") && doc["phase"].IsString()) cp.phase = doc["phase"].GetString();
  if (doc.HasMember("sent") && doc["sent"].IsString()) cp.sent = doc["sent"].GetString();
  if (doc.HasMember("then") && doc["then"].IsString()) cp.then = doc["then"].GetString();
  if (doc.HasMember("reset_before") && doc["reset_before"].IsString()) cp.reset_before = doc["reset_before"].GetString();
  if (doc.HasMember("since") && doc["since"].IsString()) cp.since = doc["since"].GetString();
  return cp;
}

std::string Json(std::initializer_list<std::pair<const char*, std::string>> strings,
                 std::initializer_list<std::pair<const char*, bool>> flags = {}) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  for (const auto& [k, v] : strings) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  }
  for (const auto& [k, v] : flags) {
    w.Key(k);
    w.Bool(v);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

bool IsOnLike(const std::string& s) { return s == "On" || s == "PoweringOn"; }

class PowerRun {
 public:
  PowerRun(agent::StepContext& ctx, redfish::Client& bmc, const PowerOptions& options, Params p)
      : ctx_(ctx),
        bmc_(bmc),
        options_(options),
        p_(std::move(p)),
        settle_(p_.settle_timeout ? milliseconds(*p_.settle_timeout) : options.settle_timeout),
        observe_(p_.restart_observe ? milliseconds(*p_.restart_observe) : options.restart_observe),
        saved_(ctx.assignment().checkpoint_json) {}

  StepOutcome Run();

 private:
  enum class Waited { kReached, kTimedOut, kCancelled };

  // The system the service lists and its reset action (target and allowed types as
  // advertised, from the action or its ActionInfo); returns the power state from that same read.
  Result<std::string> Navigate() {
    auto map = bmc_.Map();
    if (!map) return map.error();
    if (map->system.empty()) return MakeError("redfish.unsupported", "the service lists no computer system");
    system_ = map->system;
    auto sys = bmc_.Get(system_);
    if (!sys) return sys.error();
    auto reset = redfish::FindAction(bmc_, *sys, "#ComputerSystem.Reset");
    if (!reset) return reset.error();
    reset_target_ = reset->target;
    // Not said: every standard type is assumed and the BMC decides.
    allowed_ = reset->allowable.count("ResetType") ? reset->Allowed("ResetType") : kActions;
    return Observe(*sys);
  }

  Result<std::string> ReadPower() {
    auto sys = bmc_.Get(system_);
    if (!sys) return sys.error();
    return Observe(*sys);
  }

  // The power state, and what may show a restart, from one read of the system.
  Result<std::string> Observe(const redfish::Document& sys) {
    auto power = sys.String("PowerState");
    if (!power) return power.error();
    last_reset_ = sys.OptionalString("LastResetTime").value_or("");
    boot_progress_ = sys.OptionalString("BootProgress/LastState").value_or("");
    return power;
  }

  // When the wait for the latest accepted action began: now, or when an earlier attempt's
  // action was accepted (a retry continues that wait).
  Clock::SteadyTime WaitOrigin() const { return origin_ ? *origin_ : ctx_.clock().Steady(); }
  void ContinueFrom(const std::string& since) {
    const auto ago = Ago(ctx_.clock(), since);
    if (!ago) return;
    origin_ = ctx_.clock().Steady() - std::chrono::duration_cast<Clock::SteadyTime::duration>(*ago);
    ctx_.Event(LogLevel::kInfo, fmt::format("continuing the wait begun {} s ago by an earlier attempt",
                                            std::chrono::duration_cast<std::chrono::seconds>(*ago).count()));
  }

  Result<Waited> WaitFor(const std::string& state, milliseconds timeout, int pct_from, int pct_to) {
    const auto start = WaitOrigin();
    for (;;) {
      auto now_state = ReadPower();
      if (!now_state) return now_state.error();
      const auto elapsed = ctx_.clock().Steady() - start;
      if (*now_state == state) return Waited::kReached;
      if (elapsed >= timeout) return Waited::kTimedOut;
      const double share = std::min(1.0, std::chrono::duration<double>(elapsed) /
                                             std::chrono::duration<double>(timeout));
      ctx_.Progress(pct_from + static_cast<int>((pct_to - pct_from) * share),
                    fmt::format("waiting for {} (now {})", state, *now_state));
      if (!ctx_.Wait(options_.poll_interval)) return Waited::kCancelled;
    }
  }

  // Sends a reset type. nullopt: accepted. Otherwise the outcome to return right away.
  std::optional<StepOutcome> Send(const std::string& type, const std::string& phase_after) {
    if (ctx_.CancelRequested()) return StepOutcome::Cancelled("cancelled before " + type + " was sent");
    // Written ahead: should this attempt die between the POST and the checkpoint after it,
    // the next one learns that the action may have gone out and checks before sending again.
    const std::string before = saved_;
    if (auto st = Save(Json({{"phase", "sending"}, {"sent", type}, {"then", phase_after}, {"reset_before", last_reset_}}));
        !st) {
      return StepOutcome::Failed(st.error());
    }
    ctx_.Event(LogLevel::kInfo, fmt::format("sending ResetType {}", type));
    auto r = bmc_.Post(reset_target_, Json({{"ResetType", type}}));
    if (!r && r.error().code.rfind("redfish.", 0) == 0) {
      // The BMC answered and refused: nothing happened, so the phase before still holds.
      // (A transport error leaves "sending": the action may have gone out.)
      if (auto st = Save(before.empty() ? "{}" : before); !st) return StepOutcome::Failed(st.error());
    }
    if (!r) {
      if (r.error().code == "redfish.conflict" && type == "On") {
        // Refused right after a power-off: wait without using an attempt, then send again.
        return StepOutcome::Snoozed(options_.refused_on_snooze,
                                    "the BMC refused power-on right after power-off: " + r.error().message);
      }
      return StepOutcome::Failed(r.error());
    }
    acted_ = true;
    origin_ = ctx_.clock().Steady();
    if (auto st = Save(Json({{"phase", phase_after}, {"sent", type}, {"since", UnixSecondsText(ctx_.clock())}})); !st) {
      return StepOutcome::Failed(st.error());
    }
    return std::nullopt;
  }

  Status Save(const std::string& json) {
    auto st = ctx_.SaveCheckpoint(json);
    if (st) saved_ = json;
    return st;
  }

  // `outcome`: "verified" (the effect was seen), "nothing_to_do", or "unverified" (the BMC
  // accepted the action and nothing showed that it happened: a warning, never a plain success).
  StepOutcome Done(const std::string& note, const std::string& outcome = "verified") {
    auto final_state = ReadPower();
    if (!final_state) return StepOutcome::Failed(final_state.error());
    ctx_.Progress(100, outcome == "unverified" ? "unverified: " + note : note);
    ctx_.Event(outcome == "unverified" ? LogLevel::kWarn : LogLevel::kInfo,
               outcome == "unverified" ? "power.unverified: " + note : note);
    return StepOutcome::Succeeded(Json({{"action", p_.action}, {"outcome", outcome}, {"initial_state", initial_},
                                        {"final_state", *final_state}, {"note", note}},
                                       {{"acted", acted_}, {"emulated", emulated_}}));
  }

  StepOutcome FromWait(const Result<Waited>& w, const std::string& state, milliseconds timeout) {
    if (!w) return StepOutcome::Failed(w.error());
    if (*w == Waited::kCancelled) return StepOutcome::Cancelled("cancelled while waiting for " + state);
    if (*w == Waited::kTimedOut) {
      return StepOutcome::Failed(MakeError(
          "power.timeout",
          fmt::format("{} did not reach {} within {} s", bmc_.target().address, state,
                      std::chrono::duration_cast<std::chrono::seconds>(timeout).count()),
          true));
    }
    return Done(fmt::format("reached {}", state));
  }

  // Off by the given action, honouring the graceful timeout and force_after_timeout.
  std::optional<StepOutcome> PowerOff(const std::string& off_action, const std::string& phase_after) {
    if (auto early = Send(off_action, phase_after)) return early;
    return AwaitOff(off_action, phase_after);
  }

  // Waits for Off after `off_action`; `phase` is what a forced off is recorded as.
  std::optional<StepOutcome> AwaitOff(const std::string& off_action, const std::string& phase) {
    const bool graceful = off_action == "GracefulShutdown";
    const milliseconds timeout = graceful ? milliseconds(p_.graceful_timeout) : settle_;
    auto w = WaitFor("Off", timeout, 30, 60);
    if (w && *w == Waited::kTimedOut && graceful && p_.force_after_timeout) {
      ctx_.Event(LogLevel::kWarn, fmt::format("no power-off within {} s of GracefulShutdown; forcing it off",
                                              p_.graceful_timeout.count()));
      if (auto early = Send("ForceOff", phase)) return early;
      w = WaitFor("Off", settle_, 60, 70);
    }
    if (!w || *w != Waited::kReached) return FromWait(w, "Off", timeout);
    return std::nullopt;
  }

  agent::StepContext& ctx_;
  redfish::Client& bmc_;
  const PowerOptions& options_;
  Params p_;
  milliseconds settle_;
  milliseconds observe_;
  std::string system_;        // navigated from the service root
  std::string reset_target_;  // as the system advertises it
  std::optional<Clock::SteadyTime> origin_;
  std::string boot_progress_;  // BootProgress.LastState from the latest read ("" when absent)
  std::vector<std::string> allowed_;
  std::string initial_;
  std::string last_reset_;  // LastResetTime from the latest read ("" when the BMC has none)
  bool acted_ = false;
  bool emulated_ = false;
  std::string saved_;  // the checkpoint as last saved
};

StepOutcome PowerRun::Run() {
  PowerCheckpoint cp = ParseCheckpoint(ctx_.assignment().checkpoint_json);
  ctx_.Progress(5, "reading power state");
  auto state = Navigate();
  if (!state) return StepOutcome::Failed(state.error());
  initial_ = *state;
  if (cp.phase == "sending") {
    // An earlier attempt was about to send cp.sent and may have. The BMC tells whether it
    // took effect: a restart moves LastResetTime; On and Off show in the power state.
    const bool restart_type = cp.sent != "On" && cp.sent != "ForceOff" && cp.sent != "GracefulShutdown";
    bool took_effect = false;
    if (restart_type) {
      if (cp.reset_before.empty() || last_reset_.empty()) {
        return StepOutcome::Failed(MakeError(
            "power.unknown_outcome",
            fmt::format("an earlier attempt may have sent {} to {}, and this BMC reports no LastResetTime to "
                        "tell; not sending it a second time", cp.sent, bmc_.target().address)));
      }
      took_effect = last_reset_ != cp.reset_before;
    } else {
      took_effect = cp.sent == "On" ? IsOnLike(*state) : (*state == "Off" || *state == "PoweringOff");
    }
    ctx_.Event(LogLevel::kInfo, took_effect
                                    ? fmt::format("resuming: {} from an earlier attempt took effect", cp.sent)
                                    : fmt::format("resuming: {} from an earlier attempt did not take effect", cp.sent));
    cp = took_effect ? PowerCheckpoint{cp.then, cp.sent, "", "", ""} : PowerCheckpoint{};
    if (took_effect && cp.phase == "sent" && restart_type) {
      acted_ = true;
      return FromWait(WaitFor("On", settle_, 40, 95), "On", settle_);
    }
  }
  const std::string& action = p_.action;
  const bool off_action = action == "ForceOff" || action == "GracefulShutdown";
  const std::string desired = off_action ? "Off" : "On";

  // An earlier attempt already acted: resume where it stopped, never act twice.
  if (cp.phase == "sent" || cp.phase == "emulating_off") ContinueFrom(cp.since);
  if (cp.phase == "sent") {
    acted_ = true;
    ctx_.Event(LogLevel::kInfo, fmt::format("resuming: {} was already sent; waiting for {}", cp.sent, desired));
    if (desired == "Off") {
      if (auto r = AwaitOff(cp.sent, "sent")) return *r;
      return Done("reached Off");
    }
    return FromWait(WaitFor("On", settle_, 40, 95), "On", settle_);
  }
  if (cp.phase == "emulating_off" || cp.phase == "off_done") {
    emulated_ = acted_ = true;
    if (cp.phase == "emulating_off") {
      if (auto r = AwaitOff(cp.sent, "emulating_off")) return *r;
      if (auto st = Save(Json({{"phase", "off_done"}, {"sent", cp.sent}})); !st) {
        return StepOutcome::Failed(st.error());
      }
    }
    if (*state == "On") return Done("reached On");
    if (auto early = Send("On", "sent")) return *early;
    return FromWait(WaitFor("On", settle_, 70, 95), "On", settle_);
  }

  const bool restart = !off_action && action != "On";
  if (!restart) {
    if (*state == desired) return Done(fmt::format("already {}; nothing to do", desired), "nothing_to_do");
    const bool moving = (desired == "On" && *state == "PoweringOn") || (desired == "Off" && *state == "PoweringOff");
    if (!moving) {
      if (desired == "Off") {
        if (auto r = PowerOff(action, "sent")) return *r;
        return Done("reached Off");
      }
      if (auto early = Send(action, "sent")) return *early;
    }
    return FromWait(WaitFor(desired, settle_, 30, 95), desired, settle_);
  }

  // Restarts.
  if (!IsOnLike(*state)) {
    ctx_.Event(LogLevel::kInfo, fmt::format("the server is {}; powering it on instead of {}", *state, action));
    if (auto early = Send("On", "sent")) return *early;
    return FromWait(WaitFor("On", settle_, 30, 95), "On", settle_);
  }
  if (std::find(allowed_.begin(), allowed_.end(), action) == allowed_.end()) {
    // Older firmware: GracefulRestart = GracefulShutdown + On, PowerCycle = ForceOff + On.
    emulated_ = true;
    const std::string off = action == "GracefulRestart" ? "GracefulShutdown" : "ForceOff";
    ctx_.Event(LogLevel::kInfo, fmt::format("{} is not offered by this BMC; doing {} then On", action, off));
    if (auto r = PowerOff(off, "emulating_off")) return *r;
    if (auto st = Save(Json({{"phase", "off_done"}, {"sent", off}})); !st) {
      return StepOutcome::Failed(st.error());
    }
    if (auto early = Send("On", "sent")) return *early;
    return FromWait(WaitFor("On", settle_, 70, 95), "On", settle_);
  }
  const std::string reset_before = last_reset_;
  const std::string progress_before = boot_progress_;
  if (auto early = Send(action, "sent")) return *early;
  // A restart shows as LastResetTime moving (Redfish ComputerSystem 1.12+), as the boot
  // progress changing, or as the server leaving On and coming back; a fast restart can finish
  // between two reads of the state. Without any of them the restart is not proven.
  const auto start = WaitOrigin();
  for (;;) {
    auto now_state = ReadPower();
    if (!now_state) return StepOutcome::Failed(now_state.error());
    if (*now_state != "On" || (!reset_before.empty() && last_reset_ != reset_before) ||
        (!progress_before.empty() && boot_progress_ != progress_before)) {
      break;
    }
    if (ctx_.clock().Steady() - start >= observe_) {
      return Done(fmt::format("the BMC accepted {} but nothing showed a restart within {} s (the server was On "
                              "throughout{})",
                              action, std::chrono::duration_cast<std::chrono::seconds>(observe_).count(),
                              reset_before.empty() ? ", and the BMC reports no LastResetTime" : ", LastResetTime unchanged"),
                  "unverified");
    }
    if (!ctx_.Wait(options_.poll_interval)) return StepOutcome::Cancelled("cancelled while restarting");
  }
  return FromWait(WaitFor("On", settle_, 50, 95), "On", settle_);
}

}  // namespace

StepOutcome RunPower(agent::StepContext& ctx, redfish::Client& bmc, const PowerOptions& options) {
  auto params = ParseParams(ctx.assignment().params_json);
  if (!params) return StepOutcome::Failed(params.error());
  return PowerRun(ctx, bmc, options, std::move(*params)).Run();
}

}  // namespace dcops::idrac
