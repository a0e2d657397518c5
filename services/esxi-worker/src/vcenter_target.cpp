#include "vcenter_target.hpp"

#include "host_step.hpp"

namespace dcops::esxi {
namespace {

// A dispatcher-added object param's string member ("_endpoint"."address"), or "".
std::string Member(const agent::Params& params, const char* key, const char* member) {
  const rapidjson::Value* v = params.Raw(key);
  if (v == nullptr || !v->IsObject() || !v->HasMember(member) || !(*v)[member].IsString()) return "";
  return (*v)[member].GetString();
}

}  // namespace

std::string HostOf(std::string address) {
  if (const auto scheme = address.find("://"); scheme != std::string::npos) address = address.substr(scheme + 3);
  if (!address.empty() && address.front() == '[') return address.substr(1, address.find(']') - 1);
  return address.substr(0, address.find_first_of(":/"));
}

Result<VcenterTarget> ReadVcenterTarget(const agent::Params& params, const agent::Assignment& a, bool host_step) {
  VcenterTarget t;
  const std::string address = Member(params, "_endpoint", "address");
  t.cluster_moref = Member(params, "_endpoint", "cluster_moref");
  t.cluster_name = Member(params, "_endpoint", "cluster_name");
  if (address.empty()) return agent::BadParam("_endpoint", "the dispatcher did not say where vCenter is");
  if (host_step) {
    t.host = {"HostSystem", Member(params, "_endpoint", "host_moref")};
    t.host_name = Member(params, "_endpoint", "host_name");
    if (t.host.empty()) return agent::BadParam("_endpoint", "the dispatcher did not say which host");
    if (t.host_name.empty()) t.host_name = t.host.value;
  } else if (t.cluster_moref.empty()) {
    return agent::BadParam("_endpoint", "the dispatcher did not say which cluster");
  }
  t.vcenter_host = HostOf(address);
  t.endpoint.base_url = address.rfind("https://", 0) == 0 ? address : "https://" + address;
  t.endpoint.username = a.credentials.username;
  t.endpoint.password = a.credentials.password;
  t.endpoint.tls.verify = a.tls.verify;
  t.endpoint.tls.pinned_sha256 = a.tls.pinned_sha256;
  return t;
}

Result<HostStepInput> ReadHostStepInput(const agent::StepContext& ctx) {
  auto params = agent::Params::Parse(ctx.assignment().params_json);
  if (!params) return params.error();
  auto target = ReadVcenterTarget(*params, ctx.assignment(), true);
  if (!target) return target.error();
  return HostStepInput{std::move(*params), std::move(*target)};
}

}  // namespace dcops::esxi
