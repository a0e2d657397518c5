// DbServerDirectory: what planning reads from the control plane (control_plane.hpp).
#include <rapidjson/document.h>

#include "control_plane.hpp"

namespace dcops::dispatcher {

Result<std::vector<std::vector<std::string>>> DbServerDirectory::DiscoverySets(
    const std::vector<std::string>& addresses, const std::optional<std::vector<std::string>>& job_sets) {
  auto rows = conn_.Exec(
      "SELECT array_to_json(set_ids)::text AS set_ids FROM dispatcher_v1_discovery_sets($1::text[], $2::uuid[])",
      {TextArray(addresses), job_sets ? db::Param(TextArray(*job_sets)) : db::Param()});
  if (!rows) return rows.error();
  std::vector<std::vector<std::string>> out;
  out.reserve(static_cast<std::size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) {
    rapidjson::Document ids;
    ids.Parse(rows->Str(i, "set_ids").c_str());
    if (ids.HasParseError() || !ids.IsArray()) return MakeError("db.result", "discovery sets: not a JSON array");
    std::vector<std::string> list;
    for (const auto& id : ids.GetArray()) {
      if (id.IsString()) list.emplace_back(id.GetString());
    }
    out.push_back(std::move(list));
  }
  return out;
}

Result<std::vector<ServerRef>> DbServerDirectory::Resolve(const std::string& site,
                                                          const std::string& scope_json) {
  // One round trip for what planning a job reads (it was three, per job planned): the
  // inventory's servers in the scope (part 0, in their order), the addresses the scope names
  // in the normal form the inventory uses (part 1), and on every row the BMC credential set a
  // server without its own uses.
  auto rows = conn_.Exec(
      "SELECT r.part, r.server_id, r.bmc_address, r.credential_set_id, r.tls_verify, r.tls_pin_sha256, "
      "       (SELECT c.id FROM dispatcher_v1_credential_sets_of_kind('idrac') c LIMIT 1) AS fallback "
      "  FROM (SELECT 0 AS part, s.ord, s.server_id, s.bmc_address, s.credential_set_id, s.tls_verify, "
      "               s.tls_pin_sha256 "
      "          FROM dispatcher_v1_resolve_servers($1, $2::jsonb) WITH ORDINALITY "
      "               AS s(server_id, bmc_address, service_tag, credential_set_id, tls_verify, tls_pin_sha256, ord) "
      "        UNION ALL "
      "        SELECT 1, a.ord, NULL, a.bmc_address, NULL, true, NULL "
      "          FROM dispatcher_v1_scope_addresses($2::jsonb) WITH ORDINALITY AS a(bmc_address, ord)) r "
      " ORDER BY r.part, r.ord",
      {site, scope_json});
  if (!rows) return rows.error();
  std::vector<ServerRef> out;
  const std::string fallback = rows->empty() ? std::string() : rows->Str(0, "fallback");  // one value, on every row
  for (int i = 0; i < rows->size(); ++i) {
    if (rows->Str(i, "part") == "0") {
      ServerRef s{rows->Str(i, "server_id"), rows->Str(i, "bmc_address"), rows->Str(i, "credential_set_id"),
                  rows->Bool(i, "tls_verify").value_or(true), rows->Str(i, "tls_pin_sha256")};
      if (s.credential_set_id.empty()) s.credential_set_id = fallback;
      out.push_back(std::move(s));
      continue;
    }
    // Addresses the inventory lacks are targets too.
    const std::string address = rows->Str(i, "bmc_address");
    bool known = false;
    for (const auto& s : out) known |= s.bmc_address == address;
    if (!known) out.push_back(ServerRef{"", address, fallback, true, ""});
  }
  return out;
}

Result<std::optional<RollingCluster>> DbServerDirectory::RollingHosts(const std::string& site,
                                                                      const std::string& cluster_id) {
  auto rows = conn_.Exec("SELECT dispatcher_v1_rolling_hosts($1, $2::uuid)::text AS cluster", {site, cluster_id});
  if (!rows) return rows.error();
  if (rows->size() == 0 || rows->IsNull(0, "cluster")) return std::optional<RollingCluster>();
  rapidjson::Document doc;
  doc.Parse(rows->Str(0, "cluster").c_str());
  auto text = [](const rapidjson::Value& o, const char* key) {
    return o.HasMember(key) && o[key].IsString() ? std::string(o[key].GetString()) : std::string();
  };
  auto flag = [](const rapidjson::Value& o, const char* key) { return o.HasMember(key) && o[key].IsTrue(); };
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("hosts") || !doc["hosts"].IsArray()) {
    return MakeError("db.result", "rolling hosts: not the expected JSON object");
  }
  auto fallback = cp_.DefaultCredentialSet("idrac");
  if (!fallback) return fallback.error();
  RollingCluster cluster{text(doc, "cluster_id"), text(doc, "name"), flag(doc, "vsan_enabled"), {}};
  for (const auto& h : doc["hosts"].GetArray()) {
    if (!h.IsObject()) return MakeError("db.result", "rolling hosts: a host is not a JSON object");
    RollingHost host{text(h, "host_id"), text(h, "name"), text(h, "connection_state"), flag(h, "maintenance_mode"),
                     flag(h, "runs_vcenter"), flag(h, "ssh_ready"), std::nullopt, text(h, "link_problem")};
    if (h.HasMember("server") && h["server"].IsObject()) {
      const auto& s = h["server"];
      host.server = ServerRef{text(s, "server_id"), text(s, "bmc_address"), text(s, "credential_set_id"),
                              !s.HasMember("tls_verify") || !s["tls_verify"].IsFalse(), text(s, "tls_pin_sha256")};
      if (host.server->credential_set_id.empty()) host.server->credential_set_id = *fallback;
      if (!host.link_problem.empty()) host.server.reset();  // a link in conflict is no link to act on
    }
    cluster.hosts.push_back(std::move(host));
  }
  return std::optional<RollingCluster>(std::move(cluster));
}

}  // namespace dcops::dispatcher
