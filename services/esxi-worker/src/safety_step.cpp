#include "safety_step.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "dcops/agent/params.hpp"
#include "dcops/vsphere/client.hpp"
#include "safety_reader.hpp"
#include "safety_report_json.hpp"

namespace dcops::esxi {
namespace {

// A dispatcher-added object param's string member ("_endpoint"."address"), or "".
std::string Member(const agent::Params& params, const char* key, const char* member) {
  const rapidjson::Value* v = params.Raw(key);
  if (v == nullptr || !v->IsObject() || !v->HasMember(member) || !(*v)[member].IsString()) return "";
  return (*v)[member].GetString();
}

// The host part of "vcsa-01.lab.local:443" or "https://vcsa-01.lab.local".
std::string HostOf(std::string address) {
  if (const auto scheme = address.find("://"); scheme != std::string::npos) address = address.substr(scheme + 3);
  if (!address.empty() && address.front() == '[') return address.substr(1, address.find(']') - 1);
  return address.substr(0, address.find_first_of(":/"));
}

}  // namespace

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
  const std::string address = Member(*params, "_endpoint", "address");
  const std::string cluster = Member(*params, "_endpoint", "cluster_moref");
  if (address.empty()) return agent::StepOutcome::Failed(agent::BadParam("_endpoint", "the dispatcher did not say where vCenter is"));
  if (cluster.empty()) return agent::StepOutcome::Failed(agent::BadParam("_endpoint", "the dispatcher did not say which cluster"));

  vsphere::Endpoint ep;
  ep.base_url = address.rfind("https://", 0) == 0 ? address : "https://" + address;
  ep.username = a.credentials.username;
  ep.password = a.credentials.password;
  ep.tls.verify = a.tls.verify;
  ep.tls.pinned_sha256 = a.tls.pinned_sha256;
  vsphere::Client vcenter(http, ep);
  if (auto st = vcenter.Login(); !st) return agent::StepOutcome::Failed(st.error());
  ctx.Progress(10, "reading the cluster from vCenter");
  auto inputs = ReadSafetyInputs(vcenter, cluster, HostOf(address));
  vcenter.Logout();
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
                                           inputs->vcenter_vms.size(), HostOf(address)));
  }
  ctx.Event(LogLevel::kInfo, fmt::format("cluster {}: {} of {} host(s) may enter maintenance; {} usable, {} needed",
                                         inputs->cluster.name, report.verdicts.size() - blocked, report.verdicts.size(),
                                         report.usable, report.required));
  return agent::StepOutcome::Succeeded(SafetyReportJson(inputs->cluster, report));
}

agent::StepRegistry MakeSteps(http::Client& http) {
  agent::StepRegistry r;
  r.Add("cluster.safety_check", [&http](agent::StepContext& ctx) { return RunSafetyCheck(ctx, http); });
  return r;
}

}  // namespace dcops::esxi
