#include "safety_step.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "dcops/agent/params.hpp"
#include "dcops/vsphere/client.hpp"
#include "quiet_period.hpp"
#include "safety_reader.hpp"
#include "safety_report_json.hpp"
#include "task_json.hpp"
#include "vcenter_target.hpp"

namespace dcops::esxi {
agent::StepOutcome RunSafetyCheck(agent::StepContext& ctx, http::Client& http) {
  const auto& a = ctx.assignment();
  auto params = agent::Params::Parse(a.params_json);
  if (!params) return agent::StepOutcome::Failed(params.error());
  auto min_hosts = params->Int("min_hosts_up", 1, 64);
  if (!min_hosts) return agent::StepOutcome::Failed(min_hosts.error());
  auto evacuate = params->Flag("evacuate_powered_off");
  if (!evacuate) return agent::StepOutcome::Failed(evacuate.error());
  std::vector<std::string> asked;
  if (const rapidjson::Value* hosts = params->Raw("hosts")) {
    if (!hosts->IsArray()) return agent::StepOutcome::Failed(agent::BadParam("hosts", "must be a list of host morefs"));
    for (const auto& h : hosts->GetArray()) {
      if (!h.IsString() || h.GetStringLength() == 0) {
        return agent::StepOutcome::Failed(agent::BadParam("hosts", "must be a list of host morefs"));
      }
      asked.emplace_back(h.GetString());
    }
  }
  // In a rolling update, after the host before this one: the cluster settles first.
  auto quiet = params->Int("_quiet_seconds", 0, 3600);
  if (!quiet) return agent::StepOutcome::Failed(quiet.error());
  if (auto ended = WaitQuietPeriod(ctx, std::chrono::seconds(quiet->value_or(0)))) return *ended;
  // On a host ("esxi:<id>", a step of a host job): that host's cluster, judging that host.
  const rapidjson::Value* endpoint = params->Raw("_endpoint");
  const bool on_host = endpoint != nullptr && endpoint->IsObject() && endpoint->HasMember("host_moref");
  auto target = ReadVcenterTarget(*params, a, on_host);
  if (!target) return agent::StepOutcome::Failed(target.error());
  if (on_host && asked.empty()) asked.push_back(target->host.value);
  if (on_host && target->cluster_moref.empty()) {
    const std::string note = fmt::format("{} is a standalone host (in no cluster): nothing to keep running without it, "
                                         "and no DRS to move its VMs", target->host_name);
    ctx.Event(LogLevel::kInfo, note);
    return agent::StepOutcome::Succeeded(JsonObject({{"host", target->host.value}, {"note", note}}, {{"standalone", true}}));
  }
  VcenterSession vcenter(http, target->endpoint);
  if (auto st = vcenter.Login(); !st) return agent::StepOutcome::Failed(st.error());
  ctx.Progress(10, "reading the cluster from vCenter");
  auto inputs = ReadSafetyInputs(vcenter.client(), target->cluster_moref, target->vcenter_host);
  if (!inputs) return agent::StepOutcome::Failed(inputs.error());

  SafetyOptions options;
  options.evacuate_powered_off = evacuate->value_or(false);
  options.min_healthy_hosts = static_cast<int>(min_hosts->value_or(0));
  const auto report = CheckSafety(inputs->cluster, inputs->hosts, inputs->vms, inputs->datastores, asked, options);
  int blocked = 0;
  for (const auto& v : report.verdicts) {
    if (v.can_enter_maintenance()) continue;
    ++blocked;
    std::vector<std::string> why = v.capacity_problems;
    for (const auto& b : v.blockers) why.push_back(b.vm_name.empty() ? b.kind : fmt::format("{} ({})", b.kind, b.vm_name));
    ctx.Event(LogLevel::kWarn, fmt::format("{} cannot enter maintenance: {}", v.name.empty() ? v.moref : v.name, fmt::join(why, "; ")));
  }
  if (inputs->vcenter_vms.size() > 1) {
    ctx.Event(LogLevel::kWarn, fmt::format("{} VMs answer to vCenter's name {}; each is treated as vCenter's own",
                                           inputs->vcenter_vms.size(), target->vcenter_host));
  }
  ctx.Event(LogLevel::kInfo, fmt::format("cluster {}: {} of {} host(s) may enter maintenance; {} usable, {} needed",
                                         inputs->cluster.name, report.verdicts.size() - blocked, report.verdicts.size(),
                                         report.usable, report.required));
  return agent::StepOutcome::Succeeded(SafetyReportJson(inputs->cluster, report));
}

}  // namespace dcops::esxi
