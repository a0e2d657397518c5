#include "assign.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "step_results.hpp"

namespace dcops::dispatcher {
namespace {

// A step's endpoint as it is now: address, credential set, TLS trust and (vCenter) the
// version the last sync reached, (cluster) the cluster's vCenter and moref. A deleted or
// disabled endpoint fails the step, by name.
Result<rapidjson::Document> EndpointNow(ControlPlane& cp, const ClaimedStep& s, const rapidjson::Document& params) {
  const std::string kind = EndpointKind(s.step_kind, s.target);
  const char* what = kind == "ome"       ? "OME endpoint"
                     : kind == "cluster" ? "cluster"
                     : kind == "esxi"    ? "ESXi host"
                     : kind == "zfs"     ? "ZFS host"
                                         : "vCenter";
  if (params.HasParseError() || !params.IsObject() || !params.HasMember("_endpoint") ||
      !params["_endpoint"].IsObject() || !params["_endpoint"].HasMember("id") || !params["_endpoint"]["id"].IsString()) {
    return MakeError("step.params", std::string("the step does not name its ") + what);
  }
  const std::string id = params["_endpoint"]["id"].GetString();
  auto endpoint = cp.SyncEndpoint(kind, id);
  if (!endpoint) return endpoint.error();
  if (!*endpoint) return MakeError("step.params", std::string("no ") + what + " " + id + " (deleted since the job was created)");
  rapidjson::Document e;
  e.Parse((*endpoint)->c_str());
  if (e.HasParseError() || !e.IsObject()) return MakeError("db.result", "_endpoint: not JSON");
  if (e.HasMember("enabled") && e["enabled"].IsFalse()) {
    return MakeError("step.params", std::string(what) + " " +
                                        (e.HasMember("name") && e["name"].IsString() ? e["name"].GetString() : id) +
                                        " is disabled");
  }
  if (!e.HasMember("credential_set_id") || !e["credential_set_id"].IsString() ||
      e["credential_set_id"].GetStringLength() == 0) {
    return MakeError("step.credentials", std::string(what) + " " + id + " has no credential set");
  }
  return e;
}

// What some steps need from the database at the moment they run, added to their params under
// a key of the dispatcher's ("_logs", "_scp", "_endpoint" as `endpoint` holds it): read now,
// not at planning, so it is current. Nothing of it is stored with the job.
Result<std::string> WithRunTimeData(ControlPlane& cp, const ClaimedStep& s, rapidjson::Document& params,
                                    const rapidjson::Value& endpoint) {
  if (params.HasParseError() || !params.IsObject()) return s.params_json;
  auto& a = params.GetAllocator();
  std::string data;
  const char* key = nullptr;
  if (s.step_kind == "server.logs") {
    const auto bmc = params.FindMember("_bmc");
    if (bmc == params.MemberEnd() || !bmc->value.IsObject() || !bmc->value.HasMember("server_id") ||
        !bmc->value["server_id"].IsString() || bmc->value["server_id"].GetStringLength() == 0) {
      return s.params_json;  // not a known server: every entry is new
    }
    auto cursors = cp.LogCursors(bmc->value["server_id"].GetString());
    if (!cursors) return cursors.error();
    data = std::move(*cursors);
    key = "_logs";
  } else if (s.step_kind == "server.scp_import") {
    if (!params.HasMember("backup_id") || !params["backup_id"].IsString()) {
      return MakeError("step.params", "params.backup_id: is required");
    }
    auto backup = cp.ConfigBackup(params["backup_id"].GetString());
    if (!backup) return backup.error();
    if (!*backup) {
      return MakeError("step.params",
                       std::string("params.backup_id: no backup ") + params["backup_id"].GetString());
    }
    data = std::move(**backup);
    key = "_scp";
  } else if (!EndpointKind(s.step_kind, s.target).empty()) {
    key = "_endpoint";
  } else {
    return s.params_json;
  }
  rapidjson::Document value;
  if (!EndpointKind(s.step_kind, s.target).empty()) {
    value.CopyFrom(endpoint, value.GetAllocator());
  } else {
    value.Parse(data.c_str());
  }
  if (value.HasParseError()) return MakeError("db.result", std::string(key) + ": not JSON");
  params.RemoveMember(key);
  params.AddMember(rapidjson::Value(key, a), rapidjson::Value(value, a), a);
  // A rolling update's finalizers also get what happened before them ("_finalizer").
  const std::string action = params.HasMember("action") && params["action"].IsString() ? params["action"].GetString() : "";
  if ((s.step_kind == "cluster.settings" && action == "restore") || (s.step_kind == "host.maintenance" && action == "settle")) {
    auto context = cp.FinalizerContext(s.task_id);
    if (!context) return context.error();
    rapidjson::Document c;
    c.Parse(context->c_str());
    if (c.HasParseError() || !c.IsObject()) return MakeError("db.result", "_finalizer: not a JSON object");
    params.RemoveMember("_finalizer");
    params.AddMember("_finalizer", rapidjson::Value(c, a), a);
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  params.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// Releases credential set `set_id` to the step as one of its named sets (an SSH set beside the
// step's own credentials), under the database's rules for this step (CredentialSetForStep),
// its secret registered for redaction. `what` names the set in the error.
Status AddNamedSet(ControlPlane& cp, const ClaimedStep& s, const tls::SecretBox& secrets, SecretRegistry& redact, const std::string& set_id,
                   const std::string& what, agent::v1::Assign& a) {
  auto set = cp.CredentialSetForStep(set_id, s.task_id);
  if (!set) return set.error();
  std::optional<std::string> opened;
  if (set->has_value()) {
    if (auto o = secrets.Open((*set)->ciphertext, (*set)->name)) opened = *o;
  }
  if (!opened) return MakeError("step.credentials", what + " is missing or cannot be decrypted with this dispatcher's key");
  redact.Add(*opened);
  auto* named = a.add_credential_sets();
  named->set_id(set_id);
  named->set_name((*set)->name);
  named->mutable_credentials()->set_username((*set)->username);
  named->mutable_credentials()->set_password(*opened);
  return {};
}

}  // namespace

Result<agent::v1::DispatcherMessage> BuildAssign(ControlPlane& cp, const ClaimedStep& s,
                                                 const tls::SecretBox& secrets, SecretRegistry& redact,
                                                 int min_interval_ms) {
  // "_bmc" in the step's params (added by the planner) says how to reach the target; a sync
  // or cluster step's endpoint is read now.
  // A host entering maintenance takes its cluster's slot first (held across jobs).
  if (s.step_kind == "host.maintenance") {
    auto slot = cp.MaintenanceSlot(s.task_id);
    if (!slot) return slot.error();
    if (slot->rfind("refused: ", 0) == 0) return MakeError("step.params", slot->substr(9));
    if (!slot->empty()) return MakeError(kStepMustWait, *slot, true);
  }
  rapidjson::Document params;
  params.Parse(s.params_json.c_str());
  std::string cred_id, pin;
  bool verify = true;
  rapidjson::Document endpoint;
  if (!EndpointKind(s.step_kind, s.target).empty()) {
    auto e = EndpointNow(cp, s, params);
    if (!e) return e.error();
    endpoint = std::move(*e);
  }
  const rapidjson::Value* reach = nullptr;
  if (endpoint.IsObject()) {
    reach = &endpoint;
  } else if (!params.HasParseError() && params.IsObject() && params.HasMember("_bmc") && params["_bmc"].IsObject()) {
    reach = &params["_bmc"];
  }
  if (reach != nullptr) {
    const auto& b = *reach;
    if (b.HasMember("credential_set_id") && b["credential_set_id"].IsString()) cred_id = b["credential_set_id"].GetString();
    if (b.HasMember("tls_pin_sha256") && b["tls_pin_sha256"].IsString()) pin = b["tls_pin_sha256"].GetString();
    if (b.HasMember("tls_verify") && b["tls_verify"].IsBool()) verify = b["tls_verify"].GetBool();
  }
  agent::v1::DispatcherMessage m;
  auto* a = m.mutable_assign();
  // Secrets only for a step whose kind takes the set's kind (a vCenter password never goes to
  // a BMC step, whichever set id the job's params name); the database audits each release.
  if (!cred_id.empty()) {
    auto set = cp.CredentialSetForStep(cred_id, s.task_id);
    if (!set && set.error().code == "step.credentials") return set.error();
    std::optional<std::string> password;
    if (set && set->has_value()) {
      if (auto opened = secrets.Open((*set)->ciphertext, (*set)->name)) {
        redact.Add(*opened);
        password = *opened;
        a->mutable_credentials()->set_username((*set)->username);
      }
    }
    if (!password) {
      return MakeError("step.credentials", "the credential set for " + s.target +
                                               " is missing or cannot be decrypted with this dispatcher's key");
    }
    a->mutable_credentials()->set_password(*password);
  }
  // An upgrade also reaches the host over SSH, with the host's own set (kind esxi), released
  // under its own rules (credential_reach_refusal: the host's key pinned, or first contact).
  if (s.step_kind == "host.esxi_upgrade" && endpoint.IsObject()) {
    const std::string ssh_set = endpoint.HasMember("ssh_credential_set_id") && endpoint["ssh_credential_set_id"].IsString()
                                    ? endpoint["ssh_credential_set_id"].GetString()
                                    : "";
    if (ssh_set.empty()) return MakeError("step.credentials", s.target + " has no SSH credential set (vcenter_hosts.ssh_credential_set_id)");
    if (auto st = AddNamedSet(cp, s, secrets, redact, ssh_set, "the SSH credential set of " + s.target, *a); !st) return st.error();
  }
  // A replication (and the pruning of a pair) also reaches the pair's target host: its
  // endpoint as `_peer`, its own set released to it alone (credential_reach_refusal).
  if ((s.step_kind == "zfs.replicate" || s.step_kind == "zfs.prune") && !params.HasParseError() && params.IsObject() &&
      params.HasMember("target_host_id") && params["target_host_id"].IsString()) {
    const std::string peer_id = params["target_host_id"].GetString();
    auto peer = cp.SyncEndpoint("zfs", peer_id);
    if (!peer) return peer.error();
    if (!*peer) return MakeError("step.params", "params.target_host_id: no ZFS host " + peer_id + " (deleted since the job was created)");
    rapidjson::Document p;
    p.Parse((*peer)->c_str());
    if (p.HasParseError() || !p.IsObject()) return MakeError("db.result", "_peer: not JSON");
    if (p.HasMember("enabled") && p["enabled"].IsFalse()) return MakeError("step.params", "the target ZFS host " + peer_id + " is disabled");
    const std::string set_id = p.HasMember("credential_set_id") && p["credential_set_id"].IsString() ? p["credential_set_id"].GetString() : "";
    if (set_id.empty()) return MakeError("step.credentials", "the target ZFS host " + peer_id + " has no credential set");
    if (auto st = AddNamedSet(cp, s, secrets, redact, set_id, "the credential set of the target ZFS host " + peer_id, *a); !st) {
      return st.error();
    }
    auto& alloc = params.GetAllocator();
    params.RemoveMember("_peer");
    params.AddMember("_peer", rapidjson::Value(p, alloc), alloc);
  }
  // What the recorded pairs of the datasets still need (a pruning keeps it) and the pair's
  // send flags (a replication keeps them).
  if ((s.step_kind == "zfs.replicate" || s.step_kind == "zfs.prune") && !params.HasParseError() && params.IsObject()) {
    auto pair = cp.ZfsPair(s.task_id);
    if (!pair) return pair.error();
    rapidjson::Document pd;
    pd.Parse(pair->c_str());
    if (pd.HasParseError() || !pd.IsObject()) return MakeError("db.result", "_pair: not a JSON object");
    auto& alloc = params.GetAllocator();
    params.RemoveMember("_pair");
    if (pd.MemberCount() > 0) params.AddMember("_pair", rapidjson::Value(pd, alloc), alloc);
  }
  // Discovery tries several sets in order; each password is registered for redaction too.
  // A set deleted since planning is left out (the step reports the sets it tried).
  if (!params.HasParseError() && params.IsObject() && params.HasMember("_discovery") &&
      params["_discovery"].IsObject() && params["_discovery"].HasMember("credential_set_ids") &&
      params["_discovery"]["credential_set_ids"].IsArray()) {
    for (const auto& id : params["_discovery"]["credential_set_ids"].GetArray()) {
      if (!id.IsString()) continue;
      auto set = cp.CredentialSetForStep(id.GetString(), s.task_id);
      if (!set) return set.error();
      if (!set->has_value()) continue;
      auto opened = secrets.Open((*set)->ciphertext, (*set)->name);
      if (!opened) continue;
      redact.Add(*opened);
      auto* named = a->add_credential_sets();
      named->set_id(id.GetString());
      named->set_name((*set)->name);
      named->mutable_credentials()->set_username((*set)->username);
      named->mutable_credentials()->set_password(*opened);
    }
  }
  auto params_json = WithRunTimeData(cp, s, params, endpoint);
  if (!params_json) return params_json.error();
  a->set_task_id(s.task_id);
  a->set_lease_id(s.lease_id);
  a->set_job_id(s.job_id);
  a->set_step_kind(s.step_kind);
  a->set_target(s.target);
  a->set_params_json(*params_json);
  a->set_checkpoint_json(s.checkpoint_json);
  a->set_traceparent(s.traceparent);
  a->set_attempt(s.attempt);
  a->set_max_attempts(s.max_attempts);
  a->mutable_tls()->set_verify(verify);
  a->mutable_tls()->set_pinned_sha256(pin);
  a->mutable_pacing()->set_min_interval_ms(min_interval_ms);
  return m;
}

}  // namespace dcops::dispatcher
