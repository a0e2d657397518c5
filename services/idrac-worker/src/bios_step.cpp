// server.bios: read BIOS attributes, or set some as pending settings with an apply time and
// (Immediate) follow the BIOS job through the reboot the iDRAC does, then verify.
//
// Checkpoint phases: "sending" (written ahead of the PATCH), "scheduled" (+ "job"). A retry
// that finds "sending" looks at the pending settings: if they hold the change, the PATCH
// went through and the BIOS job in the queue is adopted; nothing is sent twice.
#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <fmt/ranges.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <optional>

#include "attributes.hpp"
#include "dell.hpp"
#include "operation_steps.hpp"
#include "redfish_target.hpp"

namespace dcops::idrac {
namespace {

using agent::StepOutcome;

// Where the BIOS resource and its settings object are: the system's Bios link, and the
// SettingsObject its @Redfish.Settings names (a service without one takes the PATCH on the
// resource itself), with the apply times it supports ("" = it says nothing), and the Bios
// resource as read.
struct BiosPlaces {
  std::string bios;
  std::string settings;
  std::vector<std::string> apply_times;
  std::optional<redfish::Document> current;
};

Result<BiosPlaces> FindBios(redfish::Client& bmc) {
  auto system = SystemOf(bmc);
  if (!system) return system.error();
  auto sys = bmc.Get(*system);
  if (!sys) return sys.error();
  BiosPlaces places;
  places.bios = sys->OptionalString("Bios/@odata.id").value_or("");
  if (places.bios.empty()) return MakeError("redfish.unsupported", *system + " offers no Bios resource");
  auto bios = bmc.Get(places.bios);
  if (!bios) return bios.error();
  places.settings = bios->OptionalString("@Redfish.Settings/SettingsObject/@odata.id").value_or(places.bios);
  places.apply_times = bios->Strings("@Redfish.Settings/SupportedApplyTimes").value_or(std::vector<std::string>{});
  places.current = std::move(*bios);
  return places;
}

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
  auto places = FindBios(bmc);
  if (!places) return StepOutcome::Failed(places.error());
  const std::string& bios_path = places->bios;
  const std::string& settings_path = places->settings;
  auto map = bmc.Map();
  if (!map) return StepOutcome::Failed(map.error());
  const bool idrac = map->idrac;
  const redfish::Document& current = *places->current;
  const auto* attrs = current.Find("Attributes");
  if (attrs == nullptr || !attrs->IsObject()) {
    return StepOutcome::Failed(MakeError("redfish.schema", bios_path + ": Attributes is missing or not an object"));
  }
  if (wanted == nullptr || wanted->ObjectEmpty()) {
    auto pending = bmc.Get(settings_path);
    const auto* p = pending ? pending->Find("Attributes") : nullptr;
    ctx.Progress(100, fmt::format("{} attribute(s)", attrs->MemberCount()));
    return StepOutcome::Succeeded(fmt::format(R"({{"attributes":{},"pending":{}}})", JsonText(*attrs),
                                              p != nullptr && p->IsObject() ? JsonText(*p) : "{}"));
  }
  // Immediate needs a service that applies settings itself (an iDRAC's BIOS job reboots the
  // server); elsewhere it must be among the apply times the settings object advertises.
  const std::string apply_time = apply->value_or("OnReset");
  if (apply_time == "Immediate" && !idrac &&
      std::find(places->apply_times.begin(), places->apply_times.end(), "Immediate") == places->apply_times.end()) {
    return StepOutcome::Failed(MakeError(
        "step.unsupported",
        fmt::format("{} does not apply BIOS settings immediately (it advertises: {}); use apply_time OnReset and a "
                    "server.power restart",
                    DescribeSystem(*map),
                    places->apply_times.empty() ? std::string("no apply times") : fmt::format("{}", fmt::join(places->apply_times, ", ")))));
  }
  bool any = false;
  auto diff = AttributeDifference(*wanted, current, "BIOS", &any);
  if (!diff) return StepOutcome::Failed(diff.error());

  Checkpoint cp = Checkpoint::Parse(ctx.assignment().checkpoint_json);
  if (!any && cp.Get("phase").empty()) {
    ctx.Progress(100, "every attribute already has the wanted value");
    return StepOutcome::Succeeded(R"({"changed":{},"state":"unchanged"})");
  }
  if (cp.Get("phase") == "sending" && idrac) {
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
    if (idrac) {
      if (auto st = WaitForLcReady(ctx, bmc, options); !st) return FailedOrCancelled(ctx, st.error());
    }
    cp.Set("phase", "sending").Set("changes", *diff);
    if (auto st = ctx.SaveCheckpoint(cp.Json()); !st) return StepOutcome::Failed(st.error());
    ctx.Progress(20, "setting " + *diff + " (" + apply->value_or("OnReset") + ")");
    // The apply time goes only to a service that has them (an iDRAC, or one that lists them).
    const bool with_time = idrac || !places->apply_times.empty();
    auto r = bmc.Patch(settings_path,
                       with_time ? fmt::format(R"({{"Attributes":{},"@Redfish.SettingsApplyTime":{{"ApplyTime":"{}"}}}})",
                                               *diff, apply_time)
                                 : fmt::format(R"({{"Attributes":{}}})", *diff));
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
    auto after = bmc.Get(bios_path);
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
