#include "rolling_plan.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <set>

#include "plan_params.hpp"

namespace dcops::dispatcher {
namespace {

std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// The job's params, read once.
struct RollingParams {
  std::optional<std::string> firmware;  // server.firmware_update's params
  std::optional<std::string> esxi;      // host.esxi_upgrade's params
  bool backup = false;
  int quiet_seconds = kDefaultQuietSeconds;
  int parallel_hosts = 1;
  std::optional<int> min_hosts_up;
  std::string settings;  // cluster.settings apply's params; "" when the job changes nothing
  std::string check;  // what the safety checks take (min_hosts_up, evacuate_powered_off)
  std::string enter;  // what the entries take
};

Result<RollingParams> ReadParams(const std::string& params_json) {
  rapidjson::Document p;
  p.Parse(params_json.empty() ? "{}" : params_json.c_str());
  if (p.HasParseError() || !p.IsObject()) return MakeError("plan.params", "params: must be a JSON object");
  RollingParams out;
  if (p.HasMember("firmware")) {
    if (!p["firmware"].IsObject()) return MakeError("plan.params", "firmware: must be the params of a firmware update");
    rapidjson::Document fw;
    fw.CopyFrom(p["firmware"], fw.GetAllocator());
    // In maintenance the server may restart: the update applies now, not at some later reset.
    if (!fw.HasMember("reboot")) fw.AddMember("reboot", "auto", fw.GetAllocator());
    if (fw["reboot"] != "auto" && fw["reboot"] != "now") {
      return MakeError("plan.params", "firmware.reboot: a rolling update applies firmware while the host is in "
                                      "maintenance; use auto or now");
    }
    if (fw.HasMember("dry_run") && fw["dry_run"].IsTrue()) {
      return MakeError("plan.params", "firmware.dry_run: a rolling update takes every host out of service to apply "
                                      "firmware; preview with a server.firmware_update dry run instead");
    }
    out.firmware = Serialize(fw);
  }
  if (p.HasMember("esxi")) {
    if (!p["esxi"].IsObject()) return MakeError("plan.params", "esxi: must be the params of an ESXi upgrade");
    out.esxi = Serialize(p["esxi"]);
  }
  if (!out.firmware && !out.esxi) {
    return MakeError("plan.params", "a rolling update needs firmware, esxi or both: nothing to update");
  }
  out.backup = p.HasMember("backup") && p["backup"].IsTrue();
  if (p.HasMember("quiet_seconds") && p["quiet_seconds"].IsInt()) out.quiet_seconds = p["quiet_seconds"].GetInt();
  if (p.HasMember("parallel_hosts")) {
    if (!p["parallel_hosts"].IsInt() || p["parallel_hosts"].GetInt() < 1 || p["parallel_hosts"].GetInt() > 8) {
      return MakeError("plan.params", "parallel_hosts: must be a whole number from 1 to 8");
    }
    out.parallel_hosts = p["parallel_hosts"].GetInt();
  }
  if (p.HasMember("min_hosts_up") && p["min_hosts_up"].IsInt()) out.min_hosts_up = p["min_hosts_up"].GetInt();
  // Cluster settings the job changes for its length (restored at its end, however it ends).
  const bool disable_admission = p.HasMember("ha_admission_control") && p["ha_admission_control"] == "disable";
  const bool drs_full = p.HasMember("drs_behavior") && p["drs_behavior"] == "fullyAutomated";
  if (disable_admission || drs_full) {
    out.settings = std::string(R"({"action":"apply")") + (disable_admission ? R"(,"ha_admission_control":false)" : "") +
                   (drs_full ? R"(,"drs_behavior":"fullyAutomated")" : "") + "}";
  }
  rapidjson::Document check, enter;
  check.SetObject();
  enter.SetObject();
  enter.AddMember("action", "enter", enter.GetAllocator());
  auto copy = [&p](rapidjson::Document& to, const char* from, const char* as) {
    if (p.HasMember(from)) {
      to.AddMember(rapidjson::StringRef(as), rapidjson::Value(p[from], to.GetAllocator()), to.GetAllocator());
    }
  };
  copy(check, "min_hosts_up", "min_hosts_up");
  copy(check, "evacuate_powered_off", "evacuate_powered_off");
  copy(enter, "min_hosts_up", "min_hosts_up");
  copy(enter, "evacuate_powered_off", "evacuate_powered_off");
  copy(enter, "vsan_mode", "vsan_mode");
  copy(enter, "maintenance_timeout_seconds", "timeout_seconds");
  out.check = Serialize(check);
  out.enter = Serialize(enter);
  return out;
}

// The cluster the scope names.
Result<std::string> ReadScope(const std::string& scope_json) {
  rapidjson::Document scope;
  scope.Parse(scope_json.c_str());
  if (scope.HasParseError() || !scope.IsObject() || !scope.HasMember("cluster_id") || !scope["cluster_id"].IsString() ||
      !IsUuid(scope["cluster_id"].GetString())) {
    return MakeError("plan.scope", "cluster.rolling_update takes {\"cluster_id\": \"<uuid>\"}");
  }
  return std::string(scope["cluster_id"].GetString());
}

// The members every step of a host carries: which host, where in the job, what pauses it.
std::string Rolling(const RollingHost& h, std::size_t position, std::size_t of) {
  rapidjson::Document r;
  r.SetObject();
  auto& a = r.GetAllocator();
  r.AddMember("host_id", rapidjson::Value(h.host_id.c_str(), a), a);
  r.AddMember("host", rapidjson::Value(h.name.c_str(), a), a);
  r.AddMember("position", static_cast<std::uint64_t>(position), a);
  r.AddMember("of", static_cast<std::uint64_t>(of), a);
  return Serialize(r);
}

// Appends one host's chain to `plan`, after the steps `after` (none: it starts the job);
// returns the key of its exit, what the host's successor waits on. `quiet`: DRS settles what
// an earlier host got back before this host's check.
std::string PlanHost(Plan& plan, const RollingParams& params, const RollingHost& h, const std::string& key_name,
                     std::size_t position, std::size_t of, const std::vector<std::string>& after, bool quiet) {
  const std::string rolling = Rolling(h, position, of);
  const std::string target = "esxi:" + h.host_id;
  auto host_step = [&](const std::string& params_json) {
    return WithMember(WithEndpoint(params_json, h.host_id), "_rolling", rolling);
  };
  auto server_step = [&](const std::string& params_json) {
    return WithMember(StepParams(params_json, *h.server), "_rolling", rolling);
  };
  auto add = [&plan](std::string key, std::string kind, std::string step_target, std::string step_params,
                     std::vector<std::string> deps, std::string on_cancel = "") {
    plan.push_back(PlannedStep{std::move(key), std::move(kind), std::move(step_target), std::move(step_params),
                               std::move(deps), {}, std::move(on_cancel)});
    return plan.back().key;
  };
  const std::string idrac = h.server ? "idrac:" + h.server->bmc_address : "";

  std::string check_params = WithMember(params.check, "_pause_on", R"(["*"])");
  if (quiet && params.quiet_seconds > 0) {
    check_params = WithMember(check_params, "_quiet_seconds", std::to_string(params.quiet_seconds));
  }
  std::string last = add("check:" + key_name, "cluster.safety_check", target, host_step(check_params), after);
  if (params.backup) last = add("backup:" + key_name, "server.scp_export", idrac, server_step("{}"), {last});
  // A host found in maintenance when its turn comes (someone else's) is not taken over.
  std::string enter = WithMember(params.enter, "_refuse_found_in_maintenance", "true");
  if (params.parallel_hosts > 1) enter = WithMember(enter, "max_hosts_in_maintenance", std::to_string(params.parallel_hosts));
  const std::string entered = add(
      "enter:" + key_name, "host.maintenance", target,
      host_step(WithMember(enter, "_pause_on",
                           R"(["esxi.blocked","esxi.maintenance_timeout","esxi.host_not_connected","esxi.found_in_maintenance"])")),
      {last});
  last = entered;
  std::vector<std::string> in_maintenance{entered};  // the entry and what follows it: what the settle waits on
  // The upgrade first: it needs the host connected and reboots it itself (proving the build);
  // a firmware restart comes from the iDRAC, and only the exit waits for the host after it.
  // Neither is interrupted by a cancel once it runs (a half-installed image or half-flashed
  // firmware is worse than either finished).
  if (params.esxi) {
    last = add("upgrade:" + key_name, "host.esxi_upgrade", target, host_step(*params.esxi), {last}, "finish");
    in_maintenance.push_back(last);
  }
  if (params.firmware) {
    last = add("firmware:" + key_name, "server.firmware_update", idrac, server_step(*params.firmware), {last}, "finish");
    in_maintenance.push_back(last);
    last = add("refresh:" + key_name, "server.refresh", idrac, server_step(R"({"components":["firmware"]})"), {last});
    in_maintenance.push_back(last);
  }
  // After a firmware reboot the host comes back to vCenter on its own time: the exit waits for
  // it to reconnect.
  const std::string exit = add("exit:" + key_name, "host.maintenance", target,
                               host_step(R"({"action":"exit","_wait_connected_seconds":1800})"), {last});
  in_maintenance.push_back(exit);
  // The host's finalizer: once its entry and everything after it ended, however (a cancel, a
  // failure, an entry that timed out and may have entered after all), a host still in
  // maintenance through this job is brought back when it is healthy and nothing of its update
  // failed or was left unfinished, else left there with the reason (esxi-worker: settle).
  add("settle:" + key_name, "host.maintenance", target, host_step(R"({"action":"settle","_wait_connected_seconds":1800})"),
      {}, "run");
  plan.back().after_finished = std::move(in_maintenance);
  return exit;
}

// More than one host at a time: never on vSAN (each host's data must stay whole while it is
// away), and never more than the cluster can spare: its other hosts must stay up, as many as
// min_hosts_up asks (each entry's own safety check then judges capacity with the others
// counted as gone).
std::optional<Error> RefuseParallel(const RollingParams& params, const RollingCluster& cluster, std::size_t chosen) {
  const int n = params.parallel_hosts;
  if (n <= 1) return std::nullopt;
  if (cluster.vsan_enabled) {
    return MakeError("plan.params", fmt::format("parallel_hosts: cluster {} runs vSAN; its hosts are updated one at a "
                                                "time (parallel_hosts 1)", cluster.name));
  }
  int up = 0;
  for (const auto& h : cluster.hosts) {
    if (!h.maintenance_mode && (h.connection_state.empty() || h.connection_state == "connected")) ++up;
  }
  const int need = std::max(params.min_hosts_up.value_or(1), 1);
  if (up - n < need) {
    return MakeError("plan.params", fmt::format("parallel_hosts: {} of cluster {}'s {} hosts in service at once would "
                                                "leave {} up; it needs {} (min_hosts_up)", n, cluster.name, up, up - n, need));
  }
  if (static_cast<std::size_t>(n) > chosen) {
    return MakeError("plan.params", fmt::format("parallel_hosts: {} at a time, but only {} host(s) are to be updated", n, chosen));
  }
  return std::nullopt;
}

}  // namespace

Result<Plan> PlanRollingUpdate(const JobToPlan& job, ServerDirectory& dir) {
  auto scope = ReadScope(job.target_scope_json);
  if (!scope) return scope.error();
  auto params = ReadParams(job.params_json);
  if (!params) return params.error();
  auto cluster = dir.RollingHosts(job.site, *scope);
  if (!cluster) return cluster.error();
  if (!*cluster) return MakeError("plan.scope", fmt::format("cluster_id: no cluster {} in site {}", *scope, job.site));

  const bool needs_server = params->firmware.has_value() || params->backup;
  Plan plan;
  std::vector<const RollingHost*> chosen;
  for (const auto& h : (*cluster)->hosts) {
    if (h.maintenance_mode) {
      // Someone took it out of service: whether it comes back is theirs to say. (The checks of
      // the other hosts count it as down.)
      plan.notes.push_back(fmt::format("host {} is not touched: it is in maintenance already (out of service); "
                                       "update it on its own, or bring it back first",
                                       h.name));
      continue;
    }
    if (params->esxi && !h.ssh_ready) {
      plan.notes.push_back(fmt::format("host {} is not touched: an ESXi upgrade reaches it over SSH, and it has no SSH "
                                       "credential set or no pinned host key (vcenter_hosts.ssh_credential_set_id, ssh_host_key)",
                                       h.name));
      continue;
    }
    if (needs_server && !h.server) {
      plan.notes.push_back(fmt::format("host {} is not touched: {}", h.name,
                                       h.link_problem.empty() ? "it has no server link" : h.link_problem));
      continue;
    }
    chosen.push_back(&h);
  }
  if (chosen.empty()) {
    std::string why = "the cluster has no host to update";
    for (const auto& n : plan.notes) why += "; " + n;
    return MakeError("plan.no_targets", why);
  }
  if (auto refused = RefuseParallel(*params, **cluster, chosen.size())) return *refused;
  std::set<std::string> key_names;
  for (const RollingHost* h : chosen) key_names.insert(h->name);
  const bool names_unique = key_names.size() == chosen.size();

  std::vector<std::string> start;  // what every host's first check waits on
  if (!params->settings.empty()) {
    // Before any host: the settings change, proven, its old values recorded. Not interrupted
    // by a cancel, so the restore always knows what it found.
    plan.push_back(PlannedStep{"settings:apply", "cluster.settings", "cluster:" + *scope,
                               WithEndpoint(params->settings, *scope), {}, {}, "finish"});
    start.push_back(plan.back().key);
  }
  // Waves of `parallel_hosts` hosts, each wave after every exit of the wave before (so a
  // failure or a pause anywhere stops the next wave: later hosts stay untouched); the host
  // running this vCenter's own VM in a wave of its own, last.
  const std::size_t per_wave = static_cast<std::size_t>(params->parallel_hosts);
  std::vector<std::string> before = start;  // what the current wave waits on
  std::vector<std::string> wave;            // its hosts' exits so far
  bool first_wave = true;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    const RollingHost& h = *chosen[i];
    if (h.runs_vcenter) plan.notes.push_back(fmt::format("host {} runs this vCenter's own VM: it is updated last", h.name));
    if (wave.size() == per_wave || (h.runs_vcenter && !wave.empty())) {
      before = std::move(wave);
      wave.clear();
      first_wave = false;
    }
    wave.push_back(PlanHost(plan, *params, h, names_unique ? h.name : h.host_id, i + 1, chosen.size(), before, !first_wave));
  }
  if (!params->settings.empty()) {
    // The job's last step, whatever happened before it: the settings back as they were found
    // (those changed since by someone else are left, and said).
    std::vector<std::string> everything;
    for (const auto& s : plan) everything.push_back(s.key);
    plan.push_back(PlannedStep{"settings:restore", "cluster.settings", "cluster:" + *scope,
                               WithEndpoint(WithMember(params->settings, "action", R"("restore")"), *scope), {},
                               std::move(everything), "run"});
  }
  if ((*cluster)->vsan_enabled) {
    plan.notes.push_back(fmt::format("cluster {} runs vSAN: one host at a time, with its vSAN data mode", (*cluster)->name));
  }
  return plan;
}

}  // namespace dcops::dispatcher
