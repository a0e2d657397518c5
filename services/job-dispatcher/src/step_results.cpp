#include "step_results.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "dcops/common/json_depth.hpp"

namespace dcops::dispatcher {
namespace {

// Far deeper than any step's result (an inventory is a few levels deep).
constexpr std::size_t kMaxResultNesting = 64;

std::string Json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

int IntMember(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsInt() ? v[key].GetInt() : 0;
}

// A refresh's inventory, identity resolved by the database. A conflict leaves the inventory
// unwritten (the step keeps it as its result) and is counted there and in an event.
Result<StepResultEffects> RecordRefresh(ControlPlane& cp, const std::string& site, const std::string& task_id,
                                        const std::string& result_json) {
  auto recorded = cp.RecordRefresh(site, task_id, result_json);
  if (!recorded) return recorded.error();
  rapidjson::Document outcome;
  outcome.Parse(recorded->c_str());
  StepResultEffects effects;
  effects.identity_conflicts = IntMember(outcome, "conflicts");
  if (effects.identity_conflicts == 0) return effects;
  const bool written = outcome.IsObject() && outcome.HasMember("server_id") && outcome["server_id"].IsString();
  rapidjson::Document result;
  result.Parse(result_json.c_str());
  if (!result.HasParseError() && result.IsObject()) {
    result.AddMember("identity_conflicts", effects.identity_conflicts, result.GetAllocator());
    result.AddMember("inventory_written", written, result.GetAllocator());
    effects.stored_result = Json(result);
  }
  effects.summary = written ? fmt::format("refresh written; {} identity conflict(s) recorded (dcops conflicts)",
                                          effects.identity_conflicts)
                            : "refresh NOT written: its identity evidence contradicts the inventory (dcops conflicts)";
  return effects;
}

Result<StepResultEffects> RecordDiscovery(ControlPlane& cp, const std::string& site, const std::string& task_id,
                                          const std::string& result_json) {
  rapidjson::Document result;
  result.Parse(result_json.c_str());
  if (result.HasParseError() || !result.IsObject() || !result.HasMember("found") || !result["found"].IsArray()) {
    return MakeError("step.result", "discovery.scan: the result has no \"found\" list");
  }
  auto recorded = cp.RecordDiscovery(site, task_id, Json(result["found"]));
  if (!recorded) return recorded.error();
  rapidjson::Document summary;
  summary.Parse(recorded->c_str());
  StepResultEffects effects;
  if (summary.IsObject() && summary.HasMember("added") && summary["added"].IsInt()) {
    effects.servers_added = summary["added"].GetInt();
  }
  effects.identity_conflicts = IntMember(summary, "conflicts");
  if (effects.identity_conflicts > 0) {
    result.AddMember("identity_conflicts", effects.identity_conflicts, result.GetAllocator());
    effects.stored_result = Json(result);
    effects.summary = fmt::format("discovery: {} identity conflict(s) recorded; those services were not added (dcops conflicts)",
                                  effects.identity_conflicts);
  }
  const bool refresh = !result.HasMember("refresh") || !result["refresh"].IsBool() || result["refresh"].GetBool();
  if (!refresh || !summary.IsObject() || !summary.HasMember("refresh") || !summary["refresh"].IsArray() ||
      summary["refresh"].Empty()) {
    return effects;
  }
  rapidjson::Document scope(rapidjson::kObjectType);
  rapidjson::Value addresses;
  addresses.CopyFrom(summary["refresh"], scope.GetAllocator());
  scope.AddMember("bmc_addresses", addresses, scope.GetAllocator());
  NewJob job;
  job.site = site;
  job.job_type = "server.refresh";
  job.target_scope_json = Json(scope);
  job.idempotency_key = "discovery-refresh:" + task_id;
  job.actor = "discovery";
  auto id = cp.CreateJob(job);
  if (!id) return id.error();
  effects.refresh_job_id = *id;
  return effects;
}

Result<StepResultEffects> RecordConfigBackup(ControlPlane& cp, const std::string& task_id,
                                             const std::string& result_json) {
  rapidjson::Document result;
  result.Parse(result_json.c_str());
  if (result.HasParseError() || !result.IsObject() || !result.HasMember("content") || !result["content"].IsString() ||
      !result.HasMember("format") || !result["format"].IsString()) {
    return MakeError("step.result", "server.scp_export: the result has no \"format\" and \"content\"");
  }
  auto id = cp.RecordConfigBackup(task_id, result_json);
  if (!id) return id.error();
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("backup_id");
  w.String(id->c_str());
  w.Key("format");
  w.String(result["format"].GetString());
  w.Key("size_bytes");
  w.Uint(result["content"].GetStringLength());
  w.EndObject();
  StepResultEffects effects;
  effects.stored_result.assign(buf.GetString(), buf.GetSize());
  return effects;
}

Result<StepResultEffects> RecordLogEntries(ControlPlane& cp, const std::string& task_id,
                                           const std::string& result_json) {
  rapidjson::Document result;
  result.Parse(result_json.c_str());
  if (result.HasParseError() || !result.IsObject() || !result.HasMember("logs") || !result["logs"].IsArray()) {
    return MakeError("step.result", "server.logs: the result has no \"logs\" list");
  }
  auto inserted = cp.RecordLogEntries(task_id, result_json);
  if (!inserted) return inserted.error();
  rapidjson::Document added;
  added.Parse(inserted->c_str());
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("logs");
  w.StartArray();
  for (const auto& log : result["logs"].GetArray()) {
    if (!log.IsObject() || !log.HasMember("log") || !log["log"].IsString()) continue;
    const char* name = log["log"].GetString();
    w.StartObject();
    w.Key("log");
    w.String(name);
    w.Key("read");
    w.Uint(log.HasMember("entries") && log["entries"].IsArray() ? log["entries"].Size() : 0);
    w.Key("new");
    w.Int(added.IsObject() && added.HasMember(name) && added[name].IsInt() ? added[name].GetInt() : 0);
    w.Key("truncated");
    w.Bool(log.HasMember("truncated") && log["truncated"].IsBool() && log["truncated"].GetBool());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  StepResultEffects effects;
  effects.stored_result.assign(buf.GetString(), buf.GetSize());
  return effects;
}

Result<StepResultEffects> ApplySync(ControlPlane& cp, const std::string& step_kind, const std::string& task_id,
                                    const std::string& lease_id, const std::string& result_json) {
  auto applied = cp.ApplySync(step_kind, task_id, lease_id, result_json);
  if (!applied) return applied.error();
  rapidjson::Document result, counts;
  result.Parse(result_json.c_str());
  counts.Parse(applied->c_str());
  if (result.HasParseError() || !result.IsObject() || counts.HasParseError()) return StepResultEffects{};
  result.RemoveMember("applied");
  result.AddMember("applied", rapidjson::Value(counts, result.GetAllocator()), result.GetAllocator());
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  result.Accept(w);
  StepResultEffects effects;
  effects.stored_result.assign(buf.GetString(), buf.GetSize());
  auto count = [&](const char* cls, const char* what) {
    return counts.IsObject() && counts.HasMember(cls) && counts[cls].IsObject() && counts[cls].HasMember(what) &&
                   counts[cls][what].IsInt()
               ? counts[cls][what].GetInt()
               : 0;
  };
  auto number = [&](const char* key) { return counts.IsObject() && counts.HasMember(key) && counts[key].IsInt() ? counts[key].GetInt() : 0; };
  effects.identity_conflicts = number("conflicts");
  if (step_kind == "inventory.ome_sync") {
    effects.summary = fmt::format("OME sync applied: {} servers ({} new), {} no longer listed, {} unreadable, "
                                  "{} identity conflict(s), {} without a usable address, {} without a service tag",
                                  number("devices"), number("added"), number("newly_missing"), number("failed"),
                                  number("conflicts"), number("no_address"), number("untagged"));
    if (counts.IsObject() && counts.HasMember("detailed")) {
      effects.summary += fmt::format("; details written for {}, {} whose details could not be read", number("detailed"),
                                     number("details_failed"));
    }
  } else {
    const std::string mode = counts.IsObject() && counts.HasMember("mode") && counts["mode"].IsString() ? counts["mode"].GetString() : "";
    effects.summary = fmt::format("vCenter {} sync applied: {} hosts, {} VMs, {} clusters, {} datastores, {} networks upserted; "
                                  "{} removed; {} host link conflict(s)",
                                  mode, count("hosts", "upserted"), count("vms", "upserted"), count("clusters", "upserted"),
                                  count("datastores", "upserted"), count("networks", "upserted"),
                                  mode == "full" ? count("hosts", "removed") + count("vms", "removed") + count("clusters", "removed") +
                                                       count("datastores", "removed") + count("networks", "removed")
                                                 : number("removed"),
                                  number("conflicts"));
  }
  return effects;
}

}  // namespace

std::string EndpointKind(const std::string& step_kind, const std::string& target) {
  if (step_kind == "inventory.ome_sync") return "ome";
  if (step_kind == "inventory.vcenter_sync") return "vcenter";
  if (step_kind.rfind("zfs.", 0) == 0 && target.rfind("zfs:", 0) == 0) return "zfs";
  if (step_kind == "cluster.safety_check" || step_kind == "cluster.settings" || step_kind.rfind("host.", 0) == 0) {
    if (target.rfind("esxi:", 0) == 0) return "esxi";
    if (target.rfind("cluster:", 0) == 0) return "cluster";
  }
  return "";
}

bool IsSyncStep(const std::string& step_kind) {
  return step_kind == "inventory.ome_sync" || step_kind == "inventory.vcenter_sync";
}

Result<StepResultEffects> RecordStepResult(ControlPlane& cp, const std::string& site, const std::string& step_kind,
                                           const std::string& task_id, const std::string& lease_id,
                                           const std::string& result_json) {
  // An agent's result is parsed by a recursive parser: a hostile depth is refused first.
  if (!JsonNestingWithin(result_json, kMaxResultNesting)) {
    return MakeError("step.result", fmt::format("{}: the result is nested deeper than {} levels", step_kind, kMaxResultNesting));
  }
  if (IsSyncStep(step_kind)) return ApplySync(cp, step_kind, task_id, lease_id, result_json.empty() ? "{}" : result_json);
  if (result_json.empty()) return StepResultEffects{};
  if (step_kind == "server.refresh") return RecordRefresh(cp, site, task_id, result_json);
  if (step_kind == "discovery.scan") return RecordDiscovery(cp, site, task_id, result_json);
  if (step_kind == "server.scp_export") return RecordConfigBackup(cp, task_id, result_json);
  if (step_kind == "server.logs") return RecordLogEntries(cp, task_id, result_json);
  if (step_kind.rfind("zfs.", 0) == 0) {
    auto said = cp.RecordZfs(task_id, result_json);
    if (!said) return said.error();
    StepResultEffects effects;
    effects.summary = *said;
    return effects;
  }
  if (step_kind == "host.maintenance" || step_kind == "host.esxi_upgrade") {
    auto said = step_kind == "host.maintenance" ? cp.RecordMaintenance(task_id, result_json) : cp.RecordEsxiUpgrade(task_id, result_json);
    if (!said) return said.error();
    StepResultEffects effects;
    effects.summary = *said;
    return effects;
  }
  return StepResultEffects{};
}

std::string FailureMessage(const std::string& step_kind, const std::string& target, const std::string& why,
                           const ControlPlane::FailReport* report) {
  if (report == nullptr) return fmt::format("{} failed on {}: {}", step_kind, target, why);
  if (report->outcome == "retry_scheduled") {
    return fmt::format("{} on {}: attempt {} of {} failed: {}; retrying in {}s", step_kind, target, report->attempt,
                       report->max_attempts, why, (report->retry_in_ms + 999) / 1000);
  }
  if (report->outcome == "paused") {
    return fmt::format("{} on {} paused its job: {}; an operator resumes it (retry, evacuate, skip_host) or cancels it",
                       step_kind, target, why);
  }
  return fmt::format("{} failed on {} (attempt {} of {}): {}", step_kind, target, report->attempt,
                     report->max_attempts, why);
}

}  // namespace dcops::dispatcher
