// server.firmware_update (method simple_update): one package by URI, followed to the end.
//
// Checkpoint phases: "sending" (written ahead of the POST, with the versions before),
// "following" (+ "task": the task or job the BMC started), "rebooting" (written ahead of the
// reboot the update waits for), "rebooted". A retried step resumes from its phase: it never
// starts a second update or a second reboot.
#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "dcops/redfish/collection.hpp"
#include "dell.hpp"
#include "inventory.hpp"
#include "operation_steps.hpp"
#include "redfish_target.hpp"

namespace dcops::idrac {
namespace {

using agent::StepOutcome;
using State = redfish::TaskStatus::State;

constexpr const char* kSimpleUpdate = "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate";
constexpr const char* kFirmwareInventory = "/redfish/v1/UpdateService/FirmwareInventory";

// component id → "name=version", as one string a checkpoint can carry.
using Versions = std::map<std::string, std::pair<std::string, std::string>>;

Result<Versions> ReadVersions(redfish::Client& bmc) {
  auto root = bmc.Get("/redfish/v1");
  if (!root) return root.error();
  auto members = redfish::ReadMembers(bmc, kFirmwareInventory, {redfish::SupportsExpand(*root)});
  if (!members) return members.error();
  Versions out;
  for (const auto& m : *members) {
    auto row = FirmwareRow(m);
    if (!row) return row.error();
    if (!*row) continue;
    out[(*row)->Text("component_id").value_or("")] = {(*row)->Text("name").value_or(""),
                                                      (*row)->Text("version").value_or("")};
  }
  return out;
}

std::string EncodeVersions(const Versions& v) {
  std::string out;
  for (const auto& [id, nv] : v) out += id + "=" + nv.second + "\n";
  return out;
}

std::map<std::string, std::string> DecodeVersions(const std::string& s) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    const auto nl = s.find('\n', start);
    const std::string line = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    const auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

std::string UpdateBody(const std::string& uri) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("ImageURI");
  w.String(uri.c_str(), static_cast<rapidjson::SizeType>(uri.size()));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}


// The reboot a staged update waits for, written ahead ("rebooting" with the system's
// LastResetTime before it); a retry that finds the reset time moved does not reboot again.
Status RebootForUpdate(agent::StepContext& ctx, redfish::Client& bmc, Checkpoint& cp) {
  auto sys = bmc.Get(kSystemPath);
  if (!sys) return sys.error();
  const std::string last = sys->OptionalString("LastResetTime").value_or("");
  const bool sent = cp.Get("phase") == "rebooting" && !cp.Get("reset_before").empty() && last != cp.Get("reset_before");
  if (!sent) {
    cp.Set("phase", "rebooting").Set("reset_before", last);
    if (auto st = ctx.SaveCheckpoint(cp.Json()); !st) return st;
    const auto allowed = sys->Strings("Actions/#ComputerSystem.Reset/ResetType@Redfish.AllowableValues").value_or({});
    const bool on = sys->OptionalString("PowerState").value_or("On") != "Off";
    const std::string reset = !on ? "On"
                              : std::find(allowed.begin(), allowed.end(), "GracefulRestart") != allowed.end()
                                  ? "GracefulRestart" : "ForceRestart";
    ctx.Progress(50, "rebooting the server to apply the update (" + reset + ")");
    if (auto r = bmc.Post(std::string(kSystemPath) + "/Actions/ComputerSystem.Reset",
                          fmt::format(R"({{"ResetType":"{}"}})", reset)); !r) {
      return r.error();
    }
  }
  cp.Set("phase", "rebooted");
  return ctx.SaveCheckpoint(cp.Json());
}

struct UpdateParams {
  std::string image_uri;
  std::string reboot = "auto";  // auto / now: reboot when the update waits for one
  std::chrono::milliseconds timeout;
};

Result<UpdateParams> ReadParams(const std::string& json, const OperationOptions& options) {
  auto p = Params::Parse(json);
  if (!p) return p.error();
  auto method = p->RequiredText("method", {"simple_update", "push", "repository"});
  if (!method) return method.error();
  if (*method != "simple_update") {
    return MakeError("step.unsupported", fmt::format("params.method: '{}' is not implemented by this worker yet", *method));
  }
  auto uri = p->RequiredText("image_uri");
  if (!uri) return uri.error();
  auto reboot = p->Text("reboot", {"auto", "now", "next_reset", "never"});
  if (!reboot) return reboot.error();
  auto timeout = p->Int("timeout_seconds", 60, 86400);
  if (!timeout) return timeout.error();
  return UpdateParams{*uri, reboot->value_or("auto"),
                *timeout ? std::chrono::milliseconds(**timeout * 1000) : options.task_timeout};
}

}  // namespace

StepOutcome RunFirmwareUpdate(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options) {
  auto p = ReadParams(ctx.assignment().params_json, options);
  if (!p) return StepOutcome::Failed(p.error());
  Checkpoint cp = Checkpoint::Parse(ctx.assignment().checkpoint_json);
  auto save = [&ctx, &cp]() { return ctx.SaveCheckpoint(cp.Json()); };

  if (cp.Get("phase").empty() || cp.Get("phase") == "sending") {
    if (cp.Get("phase") == "sending") {
      auto adopted = UnfinishedJob(bmc, "FirmwareUpdate");
      if (!adopted) return StepOutcome::Failed(adopted.error());
      if (!adopted->empty()) {
        ctx.Event(LogLevel::kInfo, "resuming: following " + *adopted + " from an earlier attempt");
        cp.Set("phase", "following").Set("task", *adopted);
        if (auto st = save(); !st) return StepOutcome::Failed(st.error());
      }
    }
  }
  if (cp.Get("phase").empty() || cp.Get("phase") == "sending") {
    ctx.Progress(2, "waiting for the Lifecycle Controller to be ready");
    if (auto st = WaitForLcReady(ctx, bmc, options); !st) return FailedOrCancelled(ctx, st.error());
    ctx.Progress(5, "reading the installed firmware");
    auto before = ReadVersions(bmc);
    if (!before) return StepOutcome::Failed(before.error());
    cp.Set("phase", "sending").Set("before", EncodeVersions(*before));
    if (auto st = save(); !st) return StepOutcome::Failed(st.error());
    ctx.Progress(8, "SimpleUpdate " + p->image_uri);
    auto r = bmc.Post(kSimpleUpdate, UpdateBody(p->image_uri));
    if (!r) return StepOutcome::Failed(r.error());
    const std::string task = ResourcePath(r->Header("Location"));
    if (task.empty()) {
      return StepOutcome::Failed(MakeError("redfish.schema", std::string(kSimpleUpdate) + ": accepted without a Location header"));
    }
    cp.Set("phase", "following").Set("task", task);
    if (auto st = save(); !st) return StepOutcome::Failed(st.error());
    ctx.Event(LogLevel::kInfo, "update started: " + task);
  }

  const std::string task = cp.Get("task");
  bool reboot = cp.Get("phase") == "rebooting";  // a retry that may not have sent it
  Result<redfish::TaskStatus> status = redfish::TaskStatus{};
  if (!reboot) {
    status = FollowTask(ctx, bmc, task, options, p->timeout, cp.Get("phase") == "following", 10, 80);
    if (!status) return FailedOrCancelled(ctx, status.error());
    if (status->state == State::kScheduled) {
      if (p->reboot == "next_reset" || p->reboot == "never") {
        ctx.Progress(100, "staged: applies at the next reset");
        return StepOutcome::Succeeded(fmt::format(R"({{"task":"{}","state":"scheduled"}})", task));
      }
      reboot = true;
    }
  }
  if (reboot) {
    if (auto st = RebootForUpdate(ctx, bmc, cp); !st) return StepOutcome::Failed(st.error());
    status = FollowTask(ctx, bmc, task, options, p->timeout, false, 50, 80);
    if (!status) return FailedOrCancelled(ctx, status.error());
  }
  if (status->state == State::kFailed) {
    // "Same version installed" is what the operator wanted.
    if (status->message_id.find("SUP029") != std::string::npos) {
      ctx.Progress(100, "already at this version");
      return StepOutcome::Succeeded(fmt::format(R"({{"task":"{}","state":"unchanged"}})", task));
    }
    return StepOutcome::Failed(MakeError("firmware.job_failed",
                                         fmt::format("{} failed: {}: {}", task, status->message_id, status->message)));
  }

  // Verify: the iDRAC may be restarting onto its new firmware; wait for its inventory.
  ctx.Progress(85, "verifying the installed versions");
  const auto before = DecodeVersions(cp.Get("before"));
  std::vector<std::string> changed;
  Versions after_versions;
  auto end = WaitUntil(ctx, options.poll_interval, options.restart_timeout, [&]() -> Result<bool> {
    auto after = ReadVersions(bmc);
    if (!after) {
      if (after.error().code.rfind("http.", 0) == 0) return MakeError(after.error().code, after.error().message, true);
      return after.error();
    }
    after_versions = *after;
    return true;
  });
  if (!end) return StepOutcome::Failed(end.error());
  if (*end != WaitEnd::kDone) {
    return FailedOrCancelled(ctx, MakeError("idrac.unreachable", bmc.target().address + " did not come back after the update", true));
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("task");
  w.String(task.c_str());
  w.Key("updated");
  w.StartArray();
  for (const auto& [id, nv] : after_versions) {
    auto it = before.find(id);
    if (it == before.end() || it->second == nv.second) continue;
    changed.push_back(fmt::format("{} {} → {}", nv.first, it->second, nv.second));
    w.StartObject();
    w.Key("component_id");
    w.String(id.c_str());
    w.Key("name");
    w.String(nv.first.c_str());
    w.Key("from");
    w.String(it->second.c_str());
    w.Key("to");
    w.String(nv.second.c_str());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  if (changed.empty()) {
    return StepOutcome::Failed(MakeError("firmware.not_applied",
                                         task + " reported success, but no installed version changed"));
  }
  ctx.Progress(100, fmt::format("{}", fmt::join(changed, "; ")));
  return StepOutcome::Succeeded(std::string(buf.GetString(), buf.GetSize()));
}

}  // namespace dcops::idrac
