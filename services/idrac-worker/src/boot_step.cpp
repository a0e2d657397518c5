// server.boot: boot override and boot order, read first and verified after.
#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "operation_steps.hpp"
#include "redfish_target.hpp"

namespace dcops::idrac {
namespace {

using agent::StepOutcome;

std::string BootPatch(const std::optional<std::string>& target, const std::optional<std::string>& enabled,
                      const std::optional<std::vector<std::string>>& order) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("Boot");
  w.StartObject();
  if (target) {
    w.Key("BootSourceOverrideTarget");
    w.String(target->c_str());
  }
  if (enabled) {
    w.Key("BootSourceOverrideEnabled");
    w.String(enabled->c_str());
  }
  if (order) {
    w.Key("BootOrder");
    w.StartArray();
    for (const auto& o : *order) w.String(o.c_str());
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

Status SetBootOverride(redfish::Client& bmc, const std::string& target, const std::string& enabled) {
  auto system = SystemOf(bmc);
  if (!system) return system.error();
  const std::string& system_path = *system;
  auto sys = bmc.Get(system_path);
  if (!sys) return sys.error();
  if (auto allowed = sys->Strings("Boot/BootSourceOverrideTarget@Redfish.AllowableValues")) {
    if (std::find(allowed->begin(), allowed->end(), target) == allowed->end()) {
      return MakeError("step.unsupported", fmt::format("{} cannot boot from '{}' (it allows: {})",
                                                       bmc.target().address, target, fmt::join(*allowed, ", ")));
    }
  }
  if (sys->OptionalString("Boot/BootSourceOverrideTarget") == target &&
      sys->OptionalString("Boot/BootSourceOverrideEnabled") == enabled) {
    return Status();  // already so
  }
  if (auto r = bmc.Patch(system_path, BootPatch(target, enabled, std::nullopt)); !r) return r.error();
  auto after = bmc.Get(system_path);
  if (!after) return after.error();
  if (after->OptionalString("Boot/BootSourceOverrideTarget") != target ||
      after->OptionalString("Boot/BootSourceOverrideEnabled") != enabled) {
    return MakeError("redfish.not_applied",
                     fmt::format("{}: the boot override reads {}/{} after setting {}/{}", system_path,
                                 after->OptionalString("Boot/BootSourceOverrideTarget").value_or("?"),
                                 after->OptionalString("Boot/BootSourceOverrideEnabled").value_or("?"), target, enabled));
  }
  return Status();
}

StepOutcome RunBoot(agent::StepContext& ctx, redfish::Client& bmc) {
  auto params = Params::Parse(ctx.assignment().params_json);
  if (!params) return StepOutcome::Failed(params.error());
  auto mode = params->RequiredText("mode", {"once", "persistent"});
  if (!mode) return StepOutcome::Failed(mode.error());
  auto target = params->Text("target");
  if (!target) return StepOutcome::Failed(target.error());
  auto order = params->TextList("boot_order");
  if (!order) return StepOutcome::Failed(order.error());
  if (!*target && !*order) return StepOutcome::Failed(BadParam("target", "is required unless boot_order is given"));
  if (*order && *mode == "once") return StepOutcome::Failed(BadParam("boot_order", "applies to mode 'persistent' only"));

  std::vector<std::string> done;
  if (*target) {
    // Redfish says None with Disabled: no override.
    const std::string enabled = **target == "None" ? "Disabled" : *mode == "once" ? "Once" : "Continuous";
    ctx.Progress(20, fmt::format("boot override: {} ({})", **target, enabled));
    if (auto st = SetBootOverride(bmc, **target, enabled); !st) return StepOutcome::Failed(st.error());
    done.push_back(fmt::format("override {} {}", **target, enabled));
  }
  if (*order) {
    auto system = SystemOf(bmc);
    if (!system) return StepOutcome::Failed(system.error());
    const std::string& system_path = *system;
    auto sys = bmc.Get(system_path);
    if (!sys) return StepOutcome::Failed(sys.error());
    auto current = sys->Strings("Boot/BootOrder");
    if (!current) return StepOutcome::Failed(current.error());
    if (*current != **order) {
      ctx.Progress(60, "setting the boot order");
      if (auto r = bmc.Patch(system_path, BootPatch(std::nullopt, std::nullopt, *order)); !r) {
        return StepOutcome::Failed(r.error());
      }
      auto after = bmc.Get(system_path);
      if (!after) return StepOutcome::Failed(after.error());
      if (after->Strings("Boot/BootOrder").value_or({}) != **order) {
        return StepOutcome::Failed(MakeError("redfish.not_applied", std::string(system_path) + ": BootOrder did not change"));
      }
    }
    done.push_back(fmt::format("order {}", fmt::join(**order, ",")));
  }
  ctx.Progress(100, fmt::format("{}", fmt::join(done, "; ")));
  return StepOutcome::Succeeded(R"({"applied":true})");
}

}  // namespace dcops::idrac
