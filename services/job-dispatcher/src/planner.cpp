#include "planner.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <set>

#include "address_ranges.hpp"
#include "plan_params.hpp"
#include "rolling_plan.hpp"
#include "zfs_plan.hpp"

namespace dcops::dispatcher {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, const std::string& s) { w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size())); }

// True when the job's params hold `key: true`.
bool ParamIsTrue(const std::string& params_json, const char* key) {
  rapidjson::Document doc;
  doc.Parse(params_json.empty() ? "{}" : params_json.c_str());
  return !doc.HasParseError() && doc.IsObject() && doc.HasMember(key) && doc[key].IsBool() && doc[key].GetBool();
}

// A credential test runs with the credential set it tests, not the server's own.
ServerRef WithCredentialUnderTest(ServerRef s, const std::string& params_json) {
  rapidjson::Document doc;
  doc.Parse(params_json.empty() ? "{}" : params_json.c_str());
  if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("credential_set_id") &&
      doc["credential_set_id"].IsString()) {
    s.credential_set_id = doc["credential_set_id"].GetString();
  }
  return s;
}

// How a plan adapts per server: the server it acts on, and a step that must follow (a reboot).
struct PerServerShape {
  std::function<ServerRef(ServerRef, const std::string&)> adapt;
  // When this returns true for the job's params, a graceful restart (forced after its
  // timeout) follows the step on the same server.
  std::function<bool(const std::string&)> reboot_after;
  // A firmware refresh follows the step, so the inventory shows what is installed now.
  bool refresh_firmware_after = false;
};

// One independent step per server of the scope (and a reboot after it when asked).
StepsPlanner PerServer(std::string step_kind, PerServerShape shape = {}) {
  return [step_kind, shape](const JobToPlan& job, ServerDirectory& dir)
             -> Result<std::vector<PlannedStep>> {
    auto servers = dir.Resolve(job.site, job.target_scope_json);
    if (!servers) return servers.error();
    if (servers->empty()) {
      return MakeError("plan.no_targets", "the target scope names no server with a BMC address");
    }
    std::vector<PlannedStep> steps;
    std::set<std::string> seen;
    const bool reboot = shape.reboot_after && shape.reboot_after(job.params_json);
    for (const auto& found : *servers) {
      const ServerRef s = shape.adapt ? shape.adapt(found, job.params_json) : found;
      if (!seen.insert(s.bmc_address).second) continue;
      const std::string key = fmt::format("{}:{}", step_kind, s.bmc_address);
      steps.push_back(PlannedStep{key, step_kind, "idrac:" + s.bmc_address, StepParams(job.params_json, s), {}});
      if (reboot) {
        steps.push_back(PlannedStep{fmt::format("server.power:{}", s.bmc_address), "server.power",
                                    "idrac:" + s.bmc_address,
                                    StepParams(R"({"action":"GracefulRestart","force_after_timeout":true})", s),
                                    {key}});
      }
      if (shape.refresh_firmware_after) {
        // Dependents run after a success only (a failed step skips them).
        steps.push_back(PlannedStep{fmt::format("server.refresh:{}", s.bmc_address), "server.refresh",
                                    "idrac:" + s.bmc_address,
                                    StepParams(R"({"components":["firmware"]})", s), {key}});
      }
    }
    return steps;
  };
}

// discovery.scan: the scope's ranges in parts of at most kDiscoveryChunk addresses, each a
// step with the credential sets to try (the job's, else every BMC set in try order). A set
// scoped to some networks is tried only there: consecutive addresses that may be tried with
// the same sets share a part, so the dispatcher can release each part's sets whole.
Result<std::vector<PlannedStep>> DiscoveryScan(const JobToPlan& job, ServerDirectory& dir) {
  rapidjson::Document scope;
  scope.Parse(job.target_scope_json.c_str());
  if (scope.HasParseError() || !scope.IsObject() || !scope.HasMember("ranges") || !scope["ranges"].IsArray()) {
    return MakeError("plan.scope", "discovery.scan takes {\"ranges\": [...]}");
  }
  std::vector<std::string> ranges;
  for (const auto& r : scope["ranges"].GetArray()) {
    if (r.IsString()) ranges.emplace_back(r.GetString());
  }
  auto addresses = ExpandRanges(ranges);
  if (!addresses) return addresses.error();
  if (addresses->empty()) return MakeError("plan.no_targets", "the ranges hold no address");

  rapidjson::Document params;
  params.Parse(job.params_json.empty() ? "{}" : job.params_json.c_str());
  if (params.HasParseError() || !params.IsObject()) params.SetObject();
  std::optional<std::vector<std::string>> job_sets;
  if (params.HasMember("credential_set_ids") && params["credential_set_ids"].IsArray()) {
    job_sets.emplace();
    for (const auto& id : params["credential_set_ids"].GetArray()) {
      if (id.IsString()) job_sets->emplace_back(id.GetString());
    }
  }
  auto sets = dir.DiscoverySets(*addresses, job_sets);
  if (!sets) return sets.error();
  if (sets->size() != addresses->size()) return MakeError("db.result", "discovery sets: one list per address expected");
  std::vector<PlannedStep> steps;
  std::size_t start = 0;
  while (start < addresses->size()) {
    std::size_t end = start + 1;
    while (end < addresses->size() && end - start < kDiscoveryChunk && (*sets)[end] == (*sets)[start]) ++end;
    rapidjson::Document p;
    p.CopyFrom(params, p.GetAllocator());
    auto& a = p.GetAllocator();
    rapidjson::Value list(rapidjson::kArrayType);
    for (std::size_t i = start; i < end; ++i) list.PushBack(rapidjson::Value((*addresses)[i].c_str(), a), a);
    p.RemoveMember("addresses");
    p.AddMember("addresses", list, a);
    rapidjson::Value ids(rapidjson::kArrayType);
    for (const auto& id : (*sets)[start]) ids.PushBack(rapidjson::Value(id.c_str(), a), a);
    rapidjson::Value discovery(rapidjson::kObjectType);
    discovery.AddMember("credential_set_ids", ids, a);
    p.RemoveMember("_discovery");
    p.AddMember("_discovery", discovery, a);
    rapidjson::StringBuffer buf;
    Writer w(buf);
    p.Accept(w);
    const std::string range = fmt::format("{}+{}", (*addresses)[start], end - start);
    steps.push_back(PlannedStep{"discovery.scan:" + range, "discovery.scan", "site:discovery/" + range,
                                std::string(buf.GetString(), buf.GetSize()), {}});
    start = end;
  }
  return steps;
}

// bench.noop: one step per listed address, with no lookup and nothing to reach. The
// targets are names only ("site:bench/…"); no agent ever contacts them.
Result<std::vector<PlannedStep>> BenchNoop(const JobToPlan& job, ServerDirectory&) {
  rapidjson::Document scope;
  scope.Parse(job.target_scope_json.c_str());
  if (scope.HasParseError() || !scope.IsObject() || !scope.HasMember("bmc_addresses") ||
      !scope["bmc_addresses"].IsArray()) {
    return MakeError("plan.scope", "bench.noop takes {\"bmc_addresses\": [...]}");
  }
  std::vector<PlannedStep> steps;
  for (const auto& a : scope["bmc_addresses"].GetArray()) {
    if (!a.IsString()) continue;
    const std::string name = a.GetString();
    steps.push_back(PlannedStep{"bench.noop:" + name, "bench.noop", "site:bench/" + name, "{}", {}});
  }
  return steps;
}

// An inventory sync: one step on its endpoint ("ome:<id>", "vcenter:<id>": several endpoints
// sync in parallel, one sync per endpoint at a time); a cluster step likewise on its cluster. The endpoint's address and credentials
// are read when the step is assigned, so an edit between planning and running counts.
StepsPlanner EndpointSync(std::string step_kind, std::string scope_key, std::string target_prefix, std::string step_key = "sync") {
  return [step_kind, scope_key, target_prefix, step_key](const JobToPlan& job, ServerDirectory&) -> Result<std::vector<PlannedStep>> {
    rapidjson::Document scope;
    scope.Parse(job.target_scope_json.c_str());
    const bool ok = !scope.HasParseError() && scope.IsObject() && scope.HasMember(scope_key.c_str()) &&
                    scope[scope_key.c_str()].IsString();
    const std::string id = ok ? scope[scope_key.c_str()].GetString() : "";
    if (!IsUuid(id)) return MakeError("plan.scope", fmt::format("{} takes {{\"{}\": \"<uuid>\"}}", step_kind, scope_key));
    return std::vector<PlannedStep>{PlannedStep{step_key, step_kind, target_prefix + id, WithEndpoint(job.params_json, id), {}}};
  };
}

// A host job: one step per ESXi host of {"vcenter_host_ids": [...]} on "esxi:<id>" (limits
// hold per host; the host's vCenter is read when the step is assigned). Steps that take a
// host out of service follow a fresh safety check of its cluster on the same host
// (`check_first`), whose report is stored with the job; the step itself checks again just
// before it acts.
StepsPlanner HostSteps(std::string step_kind, std::function<bool(const std::string&)> check_first) {
  return [step_kind, check_first](const JobToPlan& job, ServerDirectory&) -> Result<std::vector<PlannedStep>> {
    rapidjson::Document scope;
    scope.Parse(job.target_scope_json.c_str());
    if (scope.HasParseError() || !scope.IsObject() || !scope.HasMember("vcenter_host_ids") ||
        !scope["vcenter_host_ids"].IsArray()) {
      return MakeError("plan.scope", step_kind + " takes {\"vcenter_host_ids\": [\"<uuid>\", ...]}");
    }
    std::vector<PlannedStep> steps;
    std::set<std::string> seen;
    const bool check = check_first && check_first(job.params_json);
    std::string check_params = "{}";
    if (check) {
      rapidjson::Document params, out;
      params.Parse(job.params_json.empty() ? "{}" : job.params_json.c_str());
      out.SetObject();
      for (const char* key : {"min_hosts_up", "evacuate_powered_off"}) {
        if (!params.HasParseError() && params.IsObject() && params.HasMember(key)) {
          out.AddMember(rapidjson::StringRef(key), rapidjson::Value(params[key], out.GetAllocator()), out.GetAllocator());
        }
      }
      rapidjson::StringBuffer buf;
      Writer w(buf);
      out.Accept(w);
      check_params.assign(buf.GetString(), buf.GetSize());
    }
    // An admin's first contact (target_scope.first_contact) lets an upgrade reach a host whose
    // SSH key is not pinned yet, and record the key it saw.
    const bool first_contact = scope.HasMember("first_contact") && scope["first_contact"].IsTrue();
    const std::string step_params = first_contact ? WithMember(job.params_json, "_first_contact", "true") : job.params_json;
    for (const auto& h : scope["vcenter_host_ids"].GetArray()) {
      const std::string id = h.IsString() ? h.GetString() : "";
      if (!IsUuid(id)) return MakeError("plan.scope", "vcenter_host_ids: each must be a host's id (a UUID)");
      if (!seen.insert(id).second) continue;
      const std::string key = fmt::format("{}:{}", step_kind, id);
      std::vector<std::string> deps;
      if (check) {
        const std::string check_key = "check:" + id;
        steps.push_back(PlannedStep{check_key, "cluster.safety_check", "esxi:" + id, WithEndpoint(check_params, id), {}});
        deps.push_back(check_key);
      }
      steps.push_back(PlannedStep{key, step_kind, "esxi:" + id, WithEndpoint(step_params, id), deps});
    }
    if (steps.empty()) return MakeError("plan.no_targets", "the target scope names no ESXi host");
    return steps;
  };
}

}  // namespace

PlannerRegistry& PlannerRegistry::Add(std::string job_type, Planner planner) {
  planners_[std::move(job_type)] = std::move(planner);
  return *this;
}

PlannerRegistry& PlannerRegistry::Add(std::string job_type, StepsPlanner planner) {
  return Add(std::move(job_type), Planner([planner = std::move(planner)](const JobToPlan& job, ServerDirectory& dir) -> Result<Plan> {
               auto steps = planner(job, dir);
               if (!steps) return steps.error();
               return Plan(std::move(*steps));
             }));
}

const Planner* PlannerRegistry::Find(const std::string& job_type) const {
  auto it = planners_.find(job_type);
  return it == planners_.end() ? nullptr : &it->second;
}

std::vector<std::string> PlannerRegistry::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : planners_) out.push_back(name);
  return out;
}

PlannerRegistry MakePlanners(bool bench_job_types) {
  PlannerRegistry r;
  r.Add("server.power", PerServer("server.power"))
      .Add("server.refresh", PerServer("server.refresh"))
      .Add("server.credential_test", PerServer("server.credential_test", {WithCredentialUnderTest, {}}))
      .Add("server.idrac_reset", PerServer("server.idrac_reset"))
      .Add("server.job_queue_clear", PerServer("server.job_queue_clear"))
      .Add("server.boot", PerServer("server.boot",
                                    {{}, [](const std::string& p) { return ParamIsTrue(p, "reboot"); }}))
      .Add("server.virtual_media", PerServer("server.virtual_media",
                                             {{}, [](const std::string& p) { return ParamIsTrue(p, "boot_once"); }}))
      .Add("server.bios", PerServer("server.bios"))
      .Add("server.idrac_settings", PerServer("server.idrac_settings"))
      .Add("server.firmware_update", PerServer("server.firmware_update", {{}, {}, true}))
      .Add("server.scp_export", PerServer("server.scp_export"))
      .Add("server.scp_import", PerServer("server.scp_import"))
      .Add("server.logs", PerServer("server.logs"))
      .Add("discovery.scan", DiscoveryScan)
      .Add("inventory.ome_sync", EndpointSync("inventory.ome_sync", "ome_endpoint_id", "ome:"))
      .Add("inventory.vcenter_sync", EndpointSync("inventory.vcenter_sync", "vcenter_id", "vcenter:"))
      // Cluster work on its cluster ("cluster:<id>"): the cluster's vCenter and moref are read
      // when the step is assigned, as a sync's endpoint is.
      .Add("cluster.safety_check", EndpointSync("cluster.safety_check", "cluster_id", "cluster:", "check"))
      // Host work on its host ("esxi:<id>"); an entry into maintenance after its safety check.
      .Add("host.maintenance", HostSteps("host.maintenance", [](const std::string& p) {
             rapidjson::Document d;
             d.Parse(p.empty() ? "{}" : p.c_str());
             return !d.HasParseError() && d.IsObject() && d.HasMember("action") && d["action"] == "enter";
           }))
      .Add("host.reboot", HostSteps("host.reboot", {}))
      .Add("host.esxi_upgrade", HostSteps("host.esxi_upgrade", {}))
      // A whole cluster, host by host, across agents (rolling_plan.hpp).
      .Add("cluster.rolling_update", Planner(PlanRollingUpdate))
      // ZFS work on its host ("zfs:<id>"), the pair's target read at assignment (zfs_plan.hpp).
      .Add("zfs.replicate", StepsPlanner(PlanZfs))
      .Add("zfs.prune", StepsPlanner(PlanZfs))
      .Add("zfs.health", StepsPlanner(PlanZfs));
  if (bench_job_types) r.Add("bench.noop", BenchNoop);
  return r;
}

std::string StepsJson(const std::vector<PlannedStep>& steps) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const auto& s : steps) {
    w.StartObject();
    w.Key("key");
    Str(w, s.key);
    w.Key("kind");
    Str(w, s.kind);
    w.Key("target");
    Str(w, s.target);
    w.Key("params");
    w.RawValue(s.params_json.c_str(), s.params_json.size(), rapidjson::kObjectType);
    w.Key("depends_on");
    w.StartArray();
    for (const auto& d : s.depends_on) Str(w, d);
    w.EndArray();
    if (!s.after_finished.empty()) {
      w.Key("after_finished");
      w.StartArray();
      for (const auto& d : s.after_finished) Str(w, d);
      w.EndArray();
    }
    if (!s.on_cancel.empty()) {
      w.Key("on_cancel");
      Str(w, s.on_cancel);
    }
    w.EndObject();
  }
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace dcops::dispatcher
