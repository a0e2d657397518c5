// server.firmware_update, methods simple_update (one package by URI) and push (packages the
// worker uploads from its package directory), applied in a safe order (firmware_packages.hpp);
// method repository is in firmware_repository.cpp.
//
// Checkpoint: "before" (the installed versions, read once), "phase" ("host", "rebooting",
// "rebooted", "idrac"), and per package i "sending.i" (written ahead of its POST) and
// "task.i" (the task or job the BMC started). A retried step resumes from its phase: it
// never sends a package twice (a lost answer is adopted from the job queue) and never
// reboots twice.
#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <filesystem>

#include "dcops/redfish/actions.hpp"
#include "dell.hpp"
#include "firmware_packages.hpp"
#include "firmware_update.hpp"
#include "operation_steps.hpp"
#include "redfish_target.hpp"

namespace dcops::idrac {
namespace {

using agent::StepOutcome;
using State = redfish::TaskStatus::State;

// What a checkpoint records for an update the BMC accepted without a task to follow (a 204):
// only the installed versions can then tell whether it happened.
constexpr const char* kNoTask = "none";

std::string SimpleUpdateBody(const std::string& uri) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("ImageURI");
  w.String(uri.c_str(), static_cast<rapidjson::SizeType>(uri.size()));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

// Starts one package: SimpleUpdate, or an upload to the BMC's MultipartHttpPushUri (host
// packages staged for the next reset, so one reboot applies them all; the iDRAC's at once).
Result<std::string> StartPackage(redfish::Client& bmc, const FirmwarePackage& pkg, const OperationOptions& options) {
  Result<http::Response> r = MakeError("internal", "");
  auto root = bmc.Root();
  if (!root) return root.error();
  if ((*root)->update_service.empty()) return MakeError("redfish.unsupported", bmc.target().address + " has no UpdateService");
  auto service = bmc.Get((*root)->update_service);
  if (!service) return service.error();
  std::string where;
  if (pkg.file_path.empty()) {
    auto simple = redfish::FindAction(bmc, *service, "#UpdateService.SimpleUpdate");
    if (!simple) return simple.error();
    where = simple->target;
    r = bmc.Post(where, SimpleUpdateBody(pkg.image_uri));
  } else {
    where = service->OptionalString("MultipartHttpPushUri").value_or("");
    if (where.empty()) {
      return MakeError("redfish.unsupported", bmc.target().address +
                                                  " takes no pushed packages (no MultipartHttpPushUri: iDRAC firmware "
                                                  "before 4.00); use method simple_update");
    }
    const std::string parameters = fmt::format(R"({{"Targets":[],"@Redfish.OperationApplyTime":"{}"}})",
                                               pkg.idrac ? "Immediate" : "OnReset");
    r = bmc.PostForm(where,
                     {{"UpdateParameters", "application/json", parameters, "", ""},
                      {"UpdateFile", "application/octet-stream", "", pkg.file_path, pkg.label}},
                     options.upload_timeout);
  }
  if (!r) return r.error();
  const std::string task = ResourcePath(r->Header("Location"));
  if (task.empty() && r->status == 204) return std::string(kNoTask);  // done or under way: no task to follow
  if (task.empty()) return MakeError("redfish.schema", where + ": accepted without a Location header");
  return task;
}

// The reboot staged updates wait for, written ahead ("rebooting" with the system's
// LastResetTime before it); a retry that finds the reset time moved does not reboot again.
Status RebootForUpdate(agent::StepContext& ctx, redfish::Client& bmc, Checkpoint& cp) {
  auto system = SystemOf(bmc);
  if (!system) return system.error();
  auto sys = bmc.Get(*system);
  if (!sys) return sys.error();
  auto reset_action = redfish::FindAction(bmc, *sys, "#ComputerSystem.Reset");
  if (!reset_action) return reset_action.error();
  const std::string last = sys->OptionalString("LastResetTime").value_or("");
  const bool sent = cp.Get("phase") == "rebooting" && !cp.Get("reset_before").empty() && last != cp.Get("reset_before");
  if (!sent) {
    cp.Set("phase", "rebooting").Set("reset_before", last);
    if (auto st = ctx.SaveCheckpoint(cp.Json()); !st) return st;
    const bool on = sys->OptionalString("PowerState").value_or("On") != "Off";
    const bool graceful = reset_action->allowable.count("ResetType") && reset_action->Allows("ResetType", "GracefulRestart");
    const std::string reset = !on ? "On" : graceful ? "GracefulRestart" : "ForceRestart";
    ctx.Progress(50, "rebooting the server to apply the staged updates (" + reset + ")");
    if (auto r = bmc.Post(reset_action->target, fmt::format(R"({{"ResetType":"{}"}})", reset)); !r) {
      return r.error();
    }
  }
  cp.Set("phase", "rebooted");
  return ctx.SaveCheckpoint(cp.Json());
}

struct UpdateParams {
  std::string method;
  std::vector<FirmwarePackage> packages;  // in the order they are applied
  std::string reboot = "auto";            // auto / now: reboot when updates wait for one
  std::chrono::milliseconds timeout;
  std::string catalog_url;
  bool dry_run = false;
};

std::string FileName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

Result<UpdateParams> ReadParams(const std::string& json, const OperationOptions& options) {
  auto p = Params::Parse(json);
  if (!p) return p.error();
  UpdateParams out;
  auto method = p->RequiredText("method", {"simple_update", "push", "repository"});
  if (!method) return method.error();
  out.method = *method;
  auto reboot = p->Text("reboot", {"auto", "now", "next_reset", "never"});
  if (!reboot) return reboot.error();
  out.reboot = reboot->value_or("auto");
  auto timeout = p->Int("timeout_seconds", 60, 86400);
  if (!timeout) return timeout.error();
  out.timeout = *timeout ? std::chrono::milliseconds(**timeout * 1000) : options.task_timeout;
  auto dry_run = p->Flag("dry_run");
  if (!dry_run) return dry_run.error();
  out.dry_run = dry_run->value_or(false);
  if (*method == "simple_update") {
    auto uri = p->RequiredText("image_uri");
    if (!uri) return uri.error();
    out.packages.push_back({FileName(*uri), *uri, "", IsIdracPackage(*uri)});
  } else if (*method == "push") {
    auto one = p->Text("package_path");
    if (!one) return one.error();
    auto many = p->TextList("package_paths");
    if (!many) return many.error();
    std::vector<std::pair<std::string, const char*>> paths;
    if (*one) paths.emplace_back(**one, "package_path");
    for (const auto& path : many->value_or(std::vector<std::string>{})) paths.emplace_back(path, "package_paths");
    if (paths.empty()) return BadParam("package_path", "is required for method push (or package_paths)");
    for (const auto& [path, key] : paths) {
      auto file = PackageFile(options.package_dir, path, key);
      if (!file) return file.error();
      out.packages.push_back({FileName(*file), "", *file, IsIdracPackage(*file)});
    }
    out.packages = SafeOrder(std::move(out.packages));
  } else {
    auto url = p->RequiredText("catalog_url");
    if (!url) return url.error();
    out.catalog_url = *url;
    if (p->Raw("components") != nullptr) {
      return BadParam("components", "cannot be chosen for a repository update: the iDRAC applies what the catalog has");
    }
  }
  if (out.dry_run && out.method != "repository") return BadParam("dry_run", "lists what would change for method repository only");
  return out;
}

std::string Key(const char* what, std::size_t i) { return fmt::format("{}.{}", what, i); }

// Older checkpoints of this step held one package as {"phase": "sending"|"following", "task"}.
void UpgradeCheckpoint(Checkpoint& cp, const UpdateParams& p) {
  const std::string phase = cp.Get("phase");
  if (phase != "sending" && phase != "following") return;
  if (phase == "sending") cp.Set(Key("sending", 0), "1");
  if (!cp.Get("task").empty()) cp.Set(Key("task", 0), cp.Get("task"));
  cp.Set("phase", !p.packages.empty() && p.packages[0].idrac ? "idrac" : "host");
}

// Sends package i unless it was sent before: written ahead, and after a lost answer the job
// it started is adopted instead of sending the package again.
Status EnsureSent(agent::StepContext& ctx, redfish::Client& bmc, Checkpoint& cp, const UpdateParams& p, std::size_t i,
                  const OperationOptions& options) {
  if (!cp.Get(Key("task", i)).empty()) return Status();
  if (!cp.Get(Key("sending", i)).empty()) {
    std::vector<std::string> known;
    for (std::size_t k = 0; k < p.packages.size(); ++k) {
      if (!cp.Get(Key("task", k)).empty()) known.push_back(cp.Get(Key("task", k)));
    }
    auto adopted = UnfinishedJob(bmc, "FirmwareUpdate", known);
    if (!adopted) return adopted.error();
    if (!adopted->empty()) {
      ctx.Event(LogLevel::kInfo, "resuming: following " + *adopted + " from an earlier attempt");
      cp.Set(Key("task", i), *adopted);
      return ctx.SaveCheckpoint(cp.Json());
    }
  }
  cp.Set(Key("sending", i), "1");
  if (auto st = ctx.SaveCheckpoint(cp.Json()); !st) return st;
  ctx.Progress(8, (p.packages[i].file_path.empty() ? "SimpleUpdate " : "uploading ") + p.packages[i].label);
  auto task = StartPackage(bmc, p.packages[i], options);
  if (!task) return task.error();
  cp.Set(Key("task", i), *task);
  ctx.Event(LogLevel::kInfo, fmt::format("{} started: {}", p.packages[i].label, *task));
  return ctx.SaveCheckpoint(cp.Json());
}

// A finished job that failed: "same version installed" (SUP029) is what the operator wanted.
bool AlreadyInstalled(const redfish::TaskStatus& s) {
  return s.state == State::kFailed && s.message_id.find("SUP029") != std::string::npos;
}

Error JobFailed(const std::string& label, const std::string& task, const redfish::TaskStatus& s) {
  return MakeError("firmware.job_failed", fmt::format("{} ({}) failed: {}: {}", label, task, s.message_id, s.message));
}

// Follows the task package i started; an update accepted without a task counts as completed
// here, and the version check at the end decides.
Result<redfish::TaskStatus> FollowPackage(agent::StepContext& ctx, redfish::Client& bmc, const std::string& task,
                                          const OperationOptions& options, std::chrono::milliseconds timeout,
                                          bool stop_when_scheduled, int from, int to) {
  if (task == kNoTask) {
    redfish::TaskStatus done;
    done.state = State::kCompleted;
    done.percent = 100;
    return done;
  }
  return FollowTask(ctx, bmc, task, options, timeout, stop_when_scheduled, from, to);
}

}  // namespace

StepOutcome RunFirmwareUpdate(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options) {
  auto p = ReadParams(ctx.assignment().params_json, options);
  if (!p) return StepOutcome::Failed(p.error());
  if (p->method == "repository") {
    // Dell's InstallFromRepository: an iDRAC's Lifecycle Controller reads the catalog.
    auto map = bmc.Map();
    if (!map) return StepOutcome::Failed(map.error());
    if (auto st = redfish::RequireIdrac(*map, "a catalog (repository) update"); !st) return StepOutcome::Failed(st.error());
    return RunRepositoryUpdate(ctx, bmc, options, p->catalog_url, p->reboot, p->dry_run, p->timeout);
  }
  Checkpoint cp = Checkpoint::Parse(ctx.assignment().checkpoint_json);
  UpgradeCheckpoint(cp, *p);
  auto save = [&ctx, &cp]() { return ctx.SaveCheckpoint(cp.Json()); };
  std::vector<std::size_t> host, idrac;
  for (std::size_t i = 0; i < p->packages.size(); ++i) (p->packages[i].idrac ? idrac : host).push_back(i);

  if (cp.Get("phase").empty()) {
    ctx.Progress(2, "waiting for the Lifecycle Controller to be ready");
    if (auto st = WaitForLcReady(ctx, bmc, options); !st) return FailedOrCancelled(ctx, st.error());
    ctx.Progress(5, "reading the installed firmware");
    auto before = ReadFirmwareVersions(bmc);
    if (!before) return StepOutcome::Failed(before.error());
    cp.Set("before", EncodeVersions(*before)).Set("phase", host.empty() ? "idrac" : "host");
    if (auto st = save(); !st) return StepOutcome::Failed(st.error());
  }

  std::vector<std::string> unchanged;
  const std::string phase = cp.Get("phase");
  if (phase == "host" || phase == "rebooting" || phase == "rebooted") {
    bool reboot = phase == "rebooting";
    if (phase == "host") {
      for (std::size_t i : host) {
        if (auto st = EnsureSent(ctx, bmc, cp, *p, i, options); !st) return StepOutcome::Failed(st.error());
      }
      std::vector<std::string> staged;
      for (std::size_t i : host) {
        auto s = FollowPackage(ctx, bmc, cp.Get(Key("task", i)), options, p->timeout, true, 10, 45);
        if (!s) return FailedOrCancelled(ctx, s.error());
        if (s->state == State::kFailed && !AlreadyInstalled(*s)) {
          return StepOutcome::Failed(JobFailed(p->packages[i].label, cp.Get(Key("task", i)), *s));
        }
        if (s->state == State::kScheduled) staged.push_back(cp.Get(Key("task", i)));
      }
      if (!staged.empty() && (p->reboot == "next_reset" || p->reboot == "never")) {
        ctx.Progress(100, fmt::format("staged: {} update(s) apply at the next reset", staged.size()));
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        w.StartObject();
        w.Key("state");
        w.String("scheduled");
        w.Key("tasks");
        w.StartArray();
        for (const auto& t : staged) w.String(t.c_str());
        w.EndArray();
        w.Key("not_applied");  // the iDRAC goes after the host updates, which wait for a reset
        w.StartArray();
        for (std::size_t i : idrac) w.String(p->packages[i].label.c_str());
        w.EndArray();
        w.EndObject();
        return StepOutcome::Succeeded(std::string(buf.GetString(), buf.GetSize()));
      }
      reboot = !staged.empty();
    }
    if (reboot) {
      if (auto st = RebootForUpdate(ctx, bmc, cp); !st) return StepOutcome::Failed(st.error());
    }
    for (std::size_t i : host) {
      auto s = FollowPackage(ctx, bmc, cp.Get(Key("task", i)), options, p->timeout, false, 50, 75);
      if (!s) return FailedOrCancelled(ctx, s.error());
      if (AlreadyInstalled(*s)) {
        unchanged.push_back(p->packages[i].label);
      } else if (s->state == State::kFailed) {
        return StepOutcome::Failed(JobFailed(p->packages[i].label, cp.Get(Key("task", i)), *s));
      }
    }
    cp.Set("phase", "idrac");
    if (auto st = save(); !st) return StepOutcome::Failed(st.error());
  }

  // The iDRAC last: its update restarts it. The step waits until it has restarted onto the
  // new firmware and answers healthily, so nothing after it meets an iDRAC going away.
  for (std::size_t i : idrac) {
    if (cp.Get(Key("task", i)).empty() && cp.Get(Key("sending", i)).empty()) {
      auto reset = ManagerLastReset(bmc);
      if (!reset) return StepOutcome::Failed(reset.error());
      cp.Set(Key("reset_before", i), *reset);
    }
    if (auto st = EnsureSent(ctx, bmc, cp, *p, i, options); !st) return StepOutcome::Failed(st.error());
    auto s = FollowPackage(ctx, bmc, cp.Get(Key("task", i)), options, p->timeout, false, 75, 85);
    if (!s) return FailedOrCancelled(ctx, s.error());
    if (AlreadyInstalled(*s)) {
      unchanged.push_back(p->packages[i].label);
      continue;
    }
    if (s->state == State::kFailed) {
      return StepOutcome::Failed(JobFailed(p->packages[i].label, cp.Get(Key("task", i)), *s));
    }
    auto healthy = WaitForIdracRestart(ctx, bmc, options, cp.Get(Key("reset_before", i)), false, options.restart_timeout);
    if (!healthy) return FailedOrCancelled(ctx, healthy.error());
  }
  std::vector<std::string> tasks;
  for (std::size_t i = 0; i < p->packages.size(); ++i) tasks.push_back(cp.Get(Key("task", i)));
  return VerifyFirmware(ctx, bmc, options, DecodeVersions(cp.Get("before")), tasks,
                        unchanged.size() == p->packages.size());
}

}  // namespace dcops::idrac
