// server.bios: read BIOS attributes, or set some as pending settings with an apply time and
// (Immediate) follow the BIOS job through the reboot the iDRAC does, then verify.
//
// Checkpoint phases: "sending" (written ahead of the PATCH), "scheduled" (+ "job"). A retry
// that finds "sending" looks at the pending settings: if they hold the change, the PATCH
// went through and the BIOS job in the queue is adopted; nothing is sent twice.
#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "attributes.hpp"
#include "dell.hpp"
#include "operation_steps.hpp"
#include "redfish_target.hpp"

namespace dcops::idrac {
namespace {

using agent::StepOutcome;

const std::string kBios = std::string(kSystemPath) + "/Bios";
const std::string kBiosSettings = kBios + "/Settings";


}  // namespace

StepOutcome RunBios(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options) {
  auto params = Params::Parse(ctx.assignment().params_json);
  if (!params) return StepOutcome::Failed(params.error());
  auto apply = params->Text("apply_time", {"Immediate", "OnReset"});
  if (!apply) return StepOutcome::Failed(apply.error());
  auto verify = params->Flag("verify");
  if (!verify) return StepOutcome::Failed(verify.error());
  const auto* wanted = params->Raw("attributes");
  if (wanted != nullptr && !wanted->IsObject()) return StepOutcome::Failed(BadParam("attributes", "must be an object"));

  ctx.Progress(5, "reading the BIOS attributes");
  auto current = bmc.Get(kBios);
  if (!current) return StepOutcome::Failed(current.error());
  const auto* attrs = current->Find("Attributes");
  if (attrs == nullptr || !attrs->IsObject()) {
    return StepOutcome::Failed(MakeError("redfish.schema", kBios + ": Attributes is missing or not an object"));
  }
  if (wanted == nullptr || wanted->ObjectEmpty()) {
    auto pending = bmc.Get(kBiosSettings);
    const auto* p = pending ? pending->Find("Attributes") : nullptr;
    ctx.Progress(100, fmt::format("{} attribute(s)", attrs->MemberCount()));
    return StepOutcome::Succeeded(fmt::format(R"({{"attributes":{},"pending":{}}})", JsonText(*attrs),
                                              p != nullptr && p->IsObject() ? JsonText(*p) : "{}"));
  }
  bool any = false;
  auto diff = AttributeDifference(*wanted, *current, "BIOS", &any);
  if (!diff) return StepOutcome::Failed(diff.error());

  Checkpoint cp = Checkpoint::Parse(ctx.assignment().checkpoint_json);
  if (!any && cp.Get("phase").empty()) {
    ctx.Progress(100, "every attribute already has the wanted value");
    return StepOutcome::Succeeded(R"({"changed":{},"state":"unchanged"})");
  }
  if (cp.Get("phase") == "sending") {
    // Did the earlier PATCH land? Then its job is in the queue (or it already ran).
    auto job = UnfinishedJob(bmc, "BIOSConfiguration");
    if (!job) return StepOutcome::Failed(job.error());
    if (!job->empty()) {
      ctx.Event(LogLevel::kInfo, "resuming: following " + *job + " from an earlier attempt");
      cp.Set("phase", "scheduled").Set("job", *job);
      if (auto st = ctx.SaveCheckpoint(cp.Json()); !st) return StepOutcome::Failed(st.error());
    }
  }
  if (cp.Get("phase").empty() || cp.Get("phase") == "sending") {
    if (!any) {
      ctx.Progress(100, "every attribute already has the wanted value");
      return StepOutcome::Succeeded(R"({"changed":{},"state":"unchanged"})");
    }
    if (auto st = WaitForLcReady(ctx, bmc, options); !st) return FailedOrCancelled(ctx, st.error());
    cp.Set("phase", "sending").Set("changes", *diff);
    if (auto st = ctx.SaveCheckpoint(cp.Json()); !st) return StepOutcome::Failed(st.error());
    ctx.Progress(20, "setting " + *diff + " (" + apply->value_or("OnReset") + ")");
    auto r = bmc.Patch(kBiosSettings, fmt::format(R"({{"Attributes":{},"@Redfish.SettingsApplyTime":{{"ApplyTime":"{}"}}}})",
                                                  *diff, apply->value_or("OnReset")));
    if (!r) return StepOutcome::Failed(r.error());
    cp.Set("phase", "scheduled").Set("job", ResourcePath(r->Header("Location")));
    if (auto st = ctx.SaveCheckpoint(cp.Json()); !st) return StepOutcome::Failed(st.error());
  }

  const std::string job = cp.Get("job");
  if (apply->value_or("OnReset") == "OnReset") {
    ctx.Progress(100, "pending: applies at the next reset");
    return StepOutcome::Succeeded(fmt::format(R"({{"changed":{},"state":"pending","job":"{}"}})", cp.Get("changes"), job));
  }
  if (!job.empty()) {
    auto status = FollowTask(ctx, bmc, job, options, options.task_timeout, false, 30, 90);
    if (!status) return FailedOrCancelled(ctx, status.error());
    if (status->state == redfish::TaskStatus::State::kFailed) {
      return StepOutcome::Failed(MakeError("bios.job_failed", fmt::format("{} failed: {}: {}", job, status->message_id,
                                                                          status->message)));
    }
  }
  if (verify->value_or(true)) {
    ctx.Progress(92, "verifying the applied values");
    auto after = bmc.Get(kBios);
    if (!after) return StepOutcome::Failed(after.error());
    bool left = false;
    auto still = AttributeDifference(*wanted, *after, "BIOS", &left);
    if (!still) return StepOutcome::Failed(still.error());
    if (left) {
      return StepOutcome::Failed(MakeError("bios.not_applied", "after the job, these still differ: " + *still));
    }
  }
  ctx.Progress(100, "applied and verified");
  return StepOutcome::Succeeded(fmt::format(R"({{"changed":{},"state":"applied","job":"{}"}})", cp.Get("changes"), job));
}

}  // namespace dcops::idrac
