#include "zfs_plan.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "plan_params.hpp"

namespace dcops::dispatcher {
namespace {

// The prune step of a replication: the pair's retention in zfs.prune's own terms.
std::string PruneParams(const rapidjson::Document& job) {
  rapidjson::Document out;
  out.SetObject();
  auto& a = out.GetAllocator();
  auto copy = [&](const char* from, const char* to) {
    if (job.HasMember(from)) out.AddMember(rapidjson::StringRef(to), rapidjson::Value(job[from], a), a);
  };
  copy("source_dataset", "dataset");
  copy("target_host_id", "target_host_id");
  copy("target_dataset", "target_dataset");
  copy("snapshot_prefix", "snapshot_prefix");
  copy("prune_source_grid", "source_grid");
  copy("prune_target_grid", "target_grid");
  copy("prune_keep_last", "keep_last");
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  out.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

Result<std::vector<PlannedStep>> PlanZfs(const JobToPlan& job, ServerDirectory&) {
  rapidjson::Document scope;
  scope.Parse(job.target_scope_json.c_str());
  const bool ok = !scope.HasParseError() && scope.IsObject() && scope.HasMember("zfs_host_id") && scope["zfs_host_id"].IsString();
  const std::string host = ok ? scope["zfs_host_id"].GetString() : "";
  if (!IsUuid(host)) return MakeError("plan.scope", job.job_type + " takes {\"zfs_host_id\": \"<uuid>\"}");
  const bool first_contact = scope.HasMember("first_contact") && scope["first_contact"].IsTrue();
  auto params = [&](const std::string& json) {
    const std::string with = WithEndpoint(json, host);
    return first_contact ? WithMember(with, "_first_contact", "true") : with;
  };
  const std::string target = "zfs:" + host;
  if (job.job_type == "zfs.health") return std::vector<PlannedStep>{{"health", "zfs.health", target, params(job.params_json), {}}};
  if (job.job_type == "zfs.prune") {
    // A pair is pruned by naming both its target host and dataset; one without the other would
    // release the target host's credentials for nothing.
    rapidjson::Document p;
    p.Parse(job.params_json.empty() ? "{}" : job.params_json.c_str());
    if (!p.HasParseError() && p.IsObject() && p.HasMember("target_host_id") != p.HasMember("target_dataset")) {
      return MakeError("plan.params", "zfs.prune: target_host_id and target_dataset name a pair together");
    }
    return std::vector<PlannedStep>{{"prune", "zfs.prune", target, params(job.params_json), {}}};
  }
  if (job.job_type != "zfs.replicate") return MakeError("plan.type", "not a ZFS job type: " + job.job_type);
  rapidjson::Document p;
  p.Parse(job.params_json.empty() ? "{}" : job.params_json.c_str());
  if (p.HasParseError() || !p.IsObject()) return MakeError("plan.params", "zfs.replicate: params must be a JSON object");
  std::vector<PlannedStep> steps{{"replicate", "zfs.replicate", target, params(job.params_json), {}}};
  if (p.HasMember("prune_target_grid") && !p.HasMember("prune_source_grid")) {
    return MakeError("plan.params", "prune_target_grid: needs prune_source_grid (the pair is pruned on both sides or the source alone)");
  }
  if (p.HasMember("prune_source_grid")) steps.push_back({"prune", "zfs.prune", target, params(PruneParams(p)), {"replicate"}});
  return steps;
}

}  // namespace dcops::dispatcher
