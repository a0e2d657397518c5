// server.scp_export and server.scp_import: Dell Server Configuration Profiles.
//
// Export: a local export (no network share): the profile comes back from the task monitor
// once the LC job completes. It is checked to be whole (a profile cut short is an error,
// not a backup). Passwords are never in it: the export does not ask for password hashes.
//
// Import: always previewed first (the iDRAC checks the profile against this server), then
// imported with the shutdown type and end power state asked for. Checkpoint phases:
// "sending" (written ahead of the import POST; a retry adopts the import job an earlier
// attempt started instead of importing twice), "following" (+ "task").
#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "dcops/common/json_depth.hpp"
#include "dell.hpp"
#include "operation_steps.hpp"

namespace dcops::idrac {
namespace {

using agent::StepOutcome;
using State = redfish::TaskStatus::State;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr const char* kScpActions = "/redfish/v1/Managers/iDRAC.Embedded.1/Actions/Oem/EID_674_Manager.";

void Text(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string Finish(rapidjson::StringBuffer& buf) { return std::string(buf.GetString(), buf.GetSize()); }

// The Dell job behind a task monitor (…/TaskService/Tasks/JID_1 → …/Jobs/JID_1): an export's
// task monitor answers with the profile once done, so its progress is read from the job.
std::string JobOf(const std::string& task) { return std::string(kJobsPath) + task.substr(task.rfind('/')); }

// Starts an SCP action and returns its task monitor.
Result<std::string> StartAction(redfish::Client& bmc, const std::string& action, const std::string& body) {
  const std::string path = kScpActions + action;
  auto r = bmc.Post(path, body);
  if (!r) return r.error();
  const std::string task = ResourcePath(r->Header("Location"));
  if (task.empty()) return MakeError("redfish.schema", path + ": accepted without a Location header");
  return task;
}

// Whether `content` is a whole profile of `format`.
bool WholeProfile(const std::string& format, const std::string& content) {
  if (format == "XML") {
    return content.find("<SystemConfiguration") != std::string::npos &&
           content.find("</SystemConfiguration>") != std::string::npos;
  }
  if (!JsonNestingWithin(content, kMaxDeviceJsonNesting)) return false;
  rapidjson::Document d;
  d.Parse(content.c_str());
  return !d.HasParseError() && d.IsObject() && d.HasMember("SystemConfiguration") && d["SystemConfiguration"].IsObject();
}

std::string ImportBody(const std::string& content, const std::string& shutdown, const std::string& power, bool preview) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Text(w, "ImportBuffer", content);
  w.Key("ShareParameters");
  w.StartObject();
  Text(w, "Target", "ALL");
  w.EndObject();
  if (!preview) {
    Text(w, "ShutdownType", shutdown);
    Text(w, "HostPowerState", power);
  }
  w.EndObject();
  return Finish(buf);
}

}  // namespace

StepOutcome RunScpExport(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options) {
  auto p = Params::Parse(ctx.assignment().params_json);
  if (!p) return StepOutcome::Failed(p.error());
  auto format = p->Text("format", {"XML", "JSON"});
  if (!format) return StepOutcome::Failed(format.error());
  auto components = p->TextList("components");
  if (!components) return StepOutcome::Failed(components.error());
  const std::string fmt_name = format->value_or("XML");
  const std::vector<std::string> targets = components->value_or(std::vector<std::string>{"ALL"});
  Checkpoint cp = Checkpoint::Parse(ctx.assignment().checkpoint_json);

  std::string task = cp.Get("task");
  if (task.empty()) {
    ctx.Progress(2, "waiting for the Lifecycle Controller to be ready");
    if (auto st = WaitForLcReady(ctx, bmc, options); !st) return FailedOrCancelled(ctx, st.error());
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    Text(w, "ExportFormat", fmt_name);
    w.Key("ShareParameters");
    w.StartObject();
    Text(w, "Target", fmt::format("{}", fmt::join(targets, ",")));
    w.EndObject();
    Text(w, "ExportUse", "Default");
    Text(w, "IncludeInExport", "Default");
    w.EndObject();
    ctx.Progress(5, fmt::format("exporting {} as {}", fmt::join(targets, ","), fmt_name));
    auto started = StartAction(bmc, "ExportSystemConfiguration", Finish(buf));
    if (!started) return StepOutcome::Failed(started.error());
    task = *started;
    cp.Set("task", task);
    if (auto st = ctx.SaveCheckpoint(cp.Json()); !st) return StepOutcome::Failed(st.error());
  }
  auto status = FollowTask(ctx, bmc, JobOf(task), options, options.task_timeout, false, 10, 80);
  if (!status) return FailedOrCancelled(ctx, status.error());
  if (status->state == State::kFailed) {
    return StepOutcome::Failed(MakeError("scp.export_failed", fmt::format("{} failed: {}: {}", task, status->message_id, status->message)));
  }
  ctx.Progress(85, "reading the exported profile");
  auto profile = bmc.GetRaw(task);
  if (!profile) return StepOutcome::Failed(profile.error());
  if (profile->status != 200 || !WholeProfile(fmt_name, profile->body)) {
    return StepOutcome::Failed(MakeError("redfish.schema", fmt::format("{}: the exported profile is not a whole {} profile (HTTP {}, {} bytes)",
                                                                       task, fmt_name, profile->status, profile->body.size())));
  }
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Text(w, "format", fmt_name);
  w.Key("components");
  w.StartArray();
  for (const auto& t : targets) w.String(t.c_str());
  w.EndArray();
  Text(w, "task", task);
  Text(w, "content", profile->body);
  w.EndObject();
  ctx.Progress(100, fmt::format("exported {} bytes", profile->body.size()));
  return StepOutcome::Succeeded(Finish(buf));
}

StepOutcome RunScpImport(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options) {
  auto p = Params::Parse(ctx.assignment().params_json);
  if (!p) return StepOutcome::Failed(p.error());
  auto backup = p->RequiredText("backup_id");
  if (!backup) return StepOutcome::Failed(backup.error());
  auto preview_only = p->Flag("preview_only");
  if (!preview_only) return StepOutcome::Failed(preview_only.error());
  auto shutdown = p->Text("shutdown_type", {"Graceful", "Forced", "NoReboot"});
  if (!shutdown) return StepOutcome::Failed(shutdown.error());
  auto power = p->Text("end_power_state", {"On", "Off"});
  if (!power) return StepOutcome::Failed(power.error());
  const auto* scp = p->Raw("_scp");
  if (scp == nullptr || !scp->IsObject() || !scp->HasMember("content") || !(*scp)["content"].IsString()) {
    return StepOutcome::Failed(BadParam("_scp", "the dispatcher did not hand over the backup's content"));
  }
  const std::string content = (*scp)["content"].GetString();
  const std::string shutdown_type = shutdown->value_or("Graceful");
  Checkpoint cp = Checkpoint::Parse(ctx.assignment().checkpoint_json);
  auto save = [&ctx, &cp]() { return ctx.SaveCheckpoint(cp.Json()); };
  auto result = [&](const std::string& state, const std::string& task, const redfish::TaskStatus& s) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    Text(w, "backup_id", *backup);
    Text(w, "state", state);
    Text(w, "task", task);
    Text(w, "message_id", s.message_id);
    Text(w, "message", s.message);
    w.EndObject();
    return StepOutcome::Succeeded(Finish(buf));
  };

  if (cp.Get("phase") == "sending") {
    auto adopted = UnfinishedJob(bmc, "ImportConfiguration");
    if (!adopted) return StepOutcome::Failed(adopted.error());
    if (!adopted->empty()) {
      ctx.Event(LogLevel::kInfo, "resuming: following " + *adopted + " from an earlier attempt");
      cp.Set("phase", "following").Set("task", *adopted);
      if (auto st = save(); !st) return StepOutcome::Failed(st.error());
    }
  }
  if (cp.Get("phase") != "following") {
    ctx.Progress(2, "waiting for the Lifecycle Controller to be ready");
    if (auto st = WaitForLcReady(ctx, bmc, options); !st) return FailedOrCancelled(ctx, st.error());
    ctx.Progress(5, "previewing the profile on this server");
    auto preview = StartAction(bmc, "ImportSystemConfigurationPreview", ImportBody(content, "", "", true));
    if (!preview) return StepOutcome::Failed(preview.error());
    auto checked = FollowTask(ctx, bmc, JobOf(*preview), options, options.task_timeout, false, 5, 30);
    if (!checked) return FailedOrCancelled(ctx, checked.error());
    if (checked->state == State::kFailed) {
      return StepOutcome::Failed(MakeError("scp.preview_failed", fmt::format("the preview of backup {} failed: {}: {}", *backup,
                                                                             checked->message_id, checked->message)));
    }
    if (preview_only->value_or(false)) {
      ctx.Progress(100, "previewed: " + checked->message);
      return result("previewed", *preview, *checked);
    }
    ctx.Progress(35, fmt::format("importing (shutdown {}, then power {})", shutdown_type, power->value_or("On")));
    cp.Set("phase", "sending");
    if (auto st = save(); !st) return StepOutcome::Failed(st.error());
    auto started = StartAction(bmc, "ImportSystemConfiguration", ImportBody(content, shutdown_type, power->value_or("On"), false));
    if (!started) return StepOutcome::Failed(started.error());
    cp.Set("phase", "following").Set("task", *started);
    if (auto st = save(); !st) return StepOutcome::Failed(st.error());
  }
  const std::string task = cp.Get("task");
  auto status = FollowTask(ctx, bmc, JobOf(task), options, options.task_timeout, shutdown_type == "NoReboot", 40, 95);
  if (!status) return FailedOrCancelled(ctx, status.error());
  if (status->state == State::kScheduled) {
    ctx.Progress(100, "staged: the BIOS part applies at the next reboot");
    return result("staged", task, *status);
  }
  if (status->state == State::kFailed) {
    return StepOutcome::Failed(MakeError("scp.import_failed", fmt::format("{} failed: {}: {}", task, status->message_id, status->message)));
  }
  const bool unchanged = status->message_id.find("SYS069") != std::string::npos;
  ctx.Progress(100, unchanged ? "nothing to change: the server already matched" : "imported: " + status->message);
  return result(unchanged ? "unchanged" : "applied", task, *status);
}

}  // namespace dcops::idrac
