// Steps whose results live in their own tables (configuration backups, log entries), and the
// run-time data the dispatcher hands the next step (the backup to import, where the last log
// collection stopped): real migrations, the dispatcher's role, BuildAssign as it runs.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>
#include <tuple>

#include "assign.hpp"
#include "control_plane.hpp"
#include "dcops/common/clock.hpp"
#include "dcops/common/log.hpp"
#include "plan_pending.hpp"
#include "step_results.hpp"
#include "test_db.hpp"

namespace dcops::dispatcher {
namespace {

using testing::Exec;
using testing::Scalar;

std::string JsonText(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

struct Site {
  testing::TestDb tdb;
  db::Connection su = tdb.Connect();
  db::Connection conn = tdb.Connect();
  ControlPlane cp{conn};
  tls::SecretBox box = *tls::SecretBox::FromKeyBytes(tls::SecretBox::NewHexKey());
  SecretRegistry redact;
  Site() {
    testing::BecomeDispatcher(conn);
    auto set = cp.PutCredentialSet({"", "site", "idrac", "root", *box.Seal("calvin", "site"), box.KeyId()}, "test");
    REQUIRE(set.ok());
    Exec(su, "INSERT INTO servers(bmc_address, service_tag) VALUES ('127.0.90.1:443', 'SCP0001')");
  }

  // Creates a job on the server (or on `scope`), plans it and claims its one step.
  ClaimedStep OneStep(const std::string& job_type, const std::string& params,
                      const std::string& scope = R"({"bmc_addresses":["127.0.90.1:443"]})") {
    Exec(su, "SELECT dispatcher_v1_create_job('default', $1, $3::jsonb, $2::jsonb)", {job_type, params, scope});
    MemorySink sink;
    FakeClock clock;
    Logger log("test", sink, clock);
    DbServerDirectory dir(cp, conn);
    REQUIRE(PlanPendingJobs(cp, conn, dir, MakePlanners(), "default", log) == 1);
    auto claimed = cp.ClaimSteps({"default", "agent-1", {job_type}, 10, std::chrono::seconds(30), {}, 1, {}});
    REQUIRE(claimed.ok());
    REQUIRE(claimed->size() == 1);
    return claimed->front();
  }

  // The params an agent receives for the step.
  rapidjson::Document AssignedParams(const ClaimedStep& s) {
    auto m = BuildAssign(cp, s, box, redact, 0);
    REQUIRE(m.ok());
    rapidjson::Document d;
    d.Parse(m->assign().params_json().c_str());
    REQUIRE(d.IsObject());
    return d;
  }
};

TEST_CASE("An exported profile is kept once as a backup, and an import step is handed it", "[step_data]") {
  Site site;
  const auto exported = site.OneStep("server.scp_export", R"({"format":"XML","components":["BIOS","IDRAC"]})");
  const std::string profile = R"(<SystemConfiguration ServiceTag="SCP0001"><Component FQDD="BIOS.Setup.1-1">)"
                              R"(<Attribute Name="BootMode">Uefi</Attribute></Component></SystemConfiguration>)";
  rapidjson::Document result(rapidjson::kObjectType);
  auto& a = result.GetAllocator();
  result.AddMember("format", "XML", a);
  rapidjson::Value components(rapidjson::kArrayType);
  components.PushBack("BIOS", a).PushBack("IDRAC", a);
  result.AddMember("components", components, a);
  result.AddMember("content", rapidjson::Value(profile.c_str(), a), a);
  const std::string result_json = JsonText(result);

  auto effects = RecordStepResult(site.cp, "default", "server.scp_export", exported.task_id, "", result_json);
  REQUIRE(effects.ok());
  rapidjson::Document kept;
  kept.Parse(effects->stored_result.c_str());
  REQUIRE(kept.IsObject());
  const std::string backup_id = kept["backup_id"].GetString();
  CHECK(kept["size_bytes"].GetUint() == profile.size());  // the step keeps a summary, not the profile
  CHECK(Scalar(site.su, "SELECT format || ' ' || array_to_string(components, ',') || ' ' || (content = $2) || ' ' || "
                        "length(sha256) FROM server_config_backups WHERE id = $1",
               {backup_id, profile}) == "XML BIOS,IDRAC true 64");
  // The same result delivered again keeps one backup.
  auto again = RecordStepResult(site.cp, "default", "server.scp_export", exported.task_id, "", result_json);
  REQUIRE(again.ok());
  CHECK(Scalar(site.su, "SELECT count(*) FROM server_config_backups") == "1");

  const auto import = site.OneStep("server.scp_import", R"({"backup_id":")" + backup_id + R"(","shutdown_type":"Graceful"})");
  auto params = site.AssignedParams(import);
  REQUIRE(params.HasMember("_scp"));
  CHECK(std::string(params["_scp"]["content"].GetString()) == profile);
  CHECK(std::string(params["_scp"]["format"].GetString()) == "XML");
  // Nothing of it is stored with the job.
  CHECK(Scalar(site.su, "SELECT (params ? '_scp')::text FROM job_tasks WHERE id = $1", {import.task_id}) == "false");

  SECTION("a backup that does not exist fails the step with its id") {
    const auto missing = site.OneStep("server.scp_import", R"({"backup_id":"00000000-0000-0000-0000-00000000dead"})");
    auto m = BuildAssign(site.cp, missing, site.box, site.redact, 0);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().message == "params.backup_id: no backup 00000000-0000-0000-0000-00000000dead");
  }
  SECTION("a result without content is refused, and no backup is written") {
    auto bad = RecordStepResult(site.cp, "default", "server.scp_export", exported.task_id, "", R"({"format":"XML"})");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "server.scp_export: the result has no \"format\" and \"content\"");
  }
}

TEST_CASE("Log entries are kept once, and the next collection starts where the last one stopped", "[step_data]") {
  Site site;
  const auto first = site.OneStep("server.logs", "{}");
  // Nothing collected yet: the step gets no cursor.
  CHECK(site.AssignedParams(first)["_logs"].ObjectEmpty());
  const std::string result = R"({"logs": [
      {"log": "sel", "newest": {"id": "2", "created": "2026-11-27T10:00:05Z"}, "truncated": false, "entries": [
        {"id": "2", "created": "2026-11-27T10:00:05Z", "severity": "Critical", "message": "Fan 1 failed",
         "message_id": "FAN0001", "sensor_type": "Fan", "entry_code": "Assert"},
        {"id": "1", "created": "2026-11-27T10:00:00Z", "severity": "OK", "message": "Log cleared"}]},
      {"log": "lifecycle", "newest": {"id": "7041", "created": "2026-11-27T10:00:07Z"}, "truncated": true, "entries": [
        {"id": "7041", "created": "2026-11-27T10:00:07Z", "severity": "Informational", "message": "Login",
         "message_id": "USR0030"}]}]})";
  auto effects = RecordStepResult(site.cp, "default", "server.logs", first.task_id, "", result);
  REQUIRE(effects.ok());
  CHECK(effects->stored_result ==
        R"({"logs":[{"log":"sel","read":2,"new":2,"truncated":false},{"log":"lifecycle","read":1,"new":1,"truncated":true}]})");
  // Delivered twice: nothing new.
  auto again = RecordStepResult(site.cp, "default", "server.logs", first.task_id, "", result);
  REQUIRE(again.ok());
  CHECK(again->stored_result.find(R"("new":0)") != std::string::npos);
  CHECK(Scalar(site.su, "SELECT count(*) FROM server_log_entries") == "3");
  CHECK(Scalar(site.su, "SELECT severity || ' ' || message_id || ' ' || sensor_type FROM server_log_entries "
                        "WHERE log = 'sel' AND entry_id = '2'") == "Critical FAN0001 Fan");

  const auto next = site.OneStep("server.logs", R"({"logs":["sel"]})");
  auto params = site.AssignedParams(next);
  REQUIRE(params["_logs"].IsObject());
  CHECK(std::string(params["_logs"]["sel"]["id"].GetString()) == "2");
  CHECK(std::string(params["_logs"]["sel"]["created"].GetString()) == "2026-11-27T10:00:05Z");
  CHECK(std::string(params["_logs"]["lifecycle"]["id"].GetString()) == "7041");

  auto bad = RecordStepResult(site.cp, "default", "server.logs", next.task_id, "", R"({"logs": [{"log": "audit"}]})");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("result.logs[].log: must be sel, lifecycle, system or manager") != std::string::npos);
}


TEST_CASE("A step is handed only credentials of a kind its agent speaks, and each release is audited", "[step_data][secrets][attack]") {
  Site site;
  auto vc = site.cp.PutCredentialSet({"", "vc-admin", "vcenter", "administrator@vsphere.local",
                                      *site.box.Seal("vc-secret", "vc-admin"), site.box.KeyId()}, "test");
  REQUIRE(vc.ok());
  // An operator names the vCenter set in a BMC step: the step gets nothing and fails, saying why.
  const auto probe = site.OneStep("server.credential_test", R"({"credential_set_id":")" + *vc + R"("})");
  auto refused = BuildAssign(site.cp, probe, site.box, site.redact, 0);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "step.credentials");
  CHECK(refused.error().message ==
        "credential set vc-admin is a vcenter set; server.credential_test steps take idrac or redfish sets only");
  CHECK(Scalar(site.su, "SELECT details ->> 'target' FROM audit_log WHERE action = 'credential.refused'") ==
        "idrac:127.0.90.1");
  // The site's own iDRAC set is released to a BMC step, and that is audited without the secret.
  const auto logs = site.OneStep("server.logs", "{}");
  auto ok = BuildAssign(site.cp, logs, site.box, site.redact, 0);
  REQUIRE(ok.ok());
  CHECK(ok->assign().credentials().password() == "calvin");
  CHECK(Scalar(site.su, "SELECT count(*) FROM audit_log WHERE action = 'credential.release' AND details ->> 'task_id' = $1",
               {logs.task_id}) == "1");
  CHECK(Scalar(site.su, "SELECT count(*) FROM audit_log WHERE details::text LIKE '%calvin%' OR details::text LIKE '%vc-secret%'") ==
        "0");
}

// The critical finding of issue 13, as an operator would try it: name an address they control
// and wait for the site's BMC password to arrive there.
TEST_CASE("Credentials reach only known servers with a proven certificate, unless an admin's job allows first contact",
          "[step_data][secrets][attack]") {
  Site site;
  auto refusal = [&](const ClaimedStep& s) {
    auto m = BuildAssign(site.cp, s, site.box, site.redact, 0);
    return m.ok() ? std::string("released") : m.error().message;
  };
  // An address no server has: refused, and the refusal is audited with the reason.
  const auto stranger = site.OneStep("server.power", R"({"action":"On"})", R"({"bmc_addresses":["127.0.90.66"]})");
  CHECK(refusal(stranger) ==
        "credential set site may not be sent to 127.0.90.66: not a known server of site default (first contact needs "
        "an admin's job with target_scope.first_contact, or discovery)");
  CHECK(Scalar(site.su, "SELECT details ->> 'why' FROM audit_log WHERE action = 'credential.refused' "
                        "AND details ->> 'task_id' = $1", {stranger.task_id}).find("not a known server") != std::string::npos);
  // A known server that opted out of verification and has no pin is no proof either.
  Exec(site.su, "INSERT INTO servers(bmc_address, service_tag, tls_verify) VALUES ('127.0.90.2', 'SCP0002', false)");
  const auto unproven = site.OneStep("server.power", R"({"action":"On"})", R"({"bmc_addresses":["127.0.90.2"]})");
  CHECK(refusal(unproven).find("its certificate is neither pinned nor verified") != std::string::npos);
  Exec(site.su, "INSERT INTO servers(bmc_address, service_tag, tls_verify, tls_pin_sha256) "
                "VALUES ('127.0.90.3', 'SCP0003', false, repeat('ab', 32))");
  const auto pinned = site.OneStep("server.power", R"({"action":"On"})", R"({"bmc_addresses":["127.0.90.3"]})");
  CHECK(refusal(pinned) == "released");
  // First contact is an admin's decision: the scope says so, and the control plane refuses it
  // (and discovery) from an operator.
  const auto first = site.OneStep("server.power", R"({"action":"On"})",
                                  R"({"bmc_addresses":["127.0.90.67"],"first_contact":true})");
  CHECK(refusal(first) == "released");
  testing::BecomeUser(site.su, testing::AddUser(site.su, "operator"));
  CHECK(testing::ExecError(site.su, "SELECT create_job('server.power', '{\"bmc_addresses\":[\"127.0.90.68\"],"
                                    "\"first_contact\":true}', '{\"action\":\"On\"}')").sqlstate == "42501");
  CHECK(testing::ExecError(site.su, "SELECT create_job('discovery.scan', '{\"ranges\":[\"127.0.90.0/30\"]}')")
            .message.find("discovery.scan: requires the admin role") != std::string::npos);
  CHECK(testing::ExecError(site.su, "SELECT create_job('server.power', '{\"bmc_addresses\":[\"127.0.90.1\"],"
                                    "\"first_contact\":\"yes\"}', '{\"action\":\"On\"}')").sqlstate == "22023");
  testing::BecomeSuperuser(site.su);
  CHECK(Scalar(site.su, "SELECT count(*) FROM audit_log WHERE details::text LIKE '%calvin%'") == "0");
}

TEST_CASE("A scoped credential set goes only inside its scope, for steps and for discovery", "[step_data][secrets][attack]") {
  Site site;
  auto scope = site.cp.SetCredentialScope("site", {"127.0.91.0/24"}, {"bmc-7.lab"}, "test");
  REQUIRE(scope.ok());
  CHECK(site.cp.SetCredentialScope("site", {"not-a-network"}, {}, "test").error().message ==
        "SQLSTATE 22023: networks: not-a-network is not a network in CIDR form (10.0.0.0/24, fd00::/64)");
  // The known, verified server at 127.0.90.1 is outside the set's networks now.
  const auto outside = site.OneStep("server.logs", "{}");
  auto m = BuildAssign(site.cp, outside, site.box, site.redact, 0);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().message == "credential set site may not be sent to 127.0.90.1: outside its scope (127.0.91.0/24, bmc-7.lab)");
  Exec(site.su, "INSERT INTO servers(bmc_address, service_tag) VALUES ('127.0.91.9:8443', 'SCP0009')");
  const auto inside = site.OneStep("server.logs", "{}", R"({"bmc_addresses":["127.0.91.9:8443"]})");
  CHECK(BuildAssign(site.cp, inside, site.box, site.redact, 0).ok());
  // Discovery: the set is tried only on the part of the range inside its scope.
  Exec(site.su, "SELECT dispatcher_v1_create_job('default', 'discovery.scan', '{\"ranges\":[\"127.0.90.10-127.0.90.11\",\"127.0.91.10-127.0.91.11\"]}')");
  MemorySink sink;
  FakeClock clock;
  Logger log("test", sink, clock);
  DbServerDirectory dir(site.cp, site.conn);
  REQUIRE(PlanPendingJobs(site.cp, site.conn, dir, MakePlanners(), "default", log) == 1);
  auto claimed = site.cp.ClaimSteps({"default", "agent-1", {"discovery.scan"}, 10, std::chrono::seconds(30), {}, 1, {}});
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 2);
  for (const auto& step : *claimed) {
    INFO(step.target);
    auto assigned = BuildAssign(site.cp, step, site.box, site.redact, 0);
    REQUIRE(assigned.ok());
    const bool in_scope = step.target == "site:discovery/127.0.91.10+2";
    CHECK(assigned->assign().credential_sets_size() == (in_scope ? 1 : 0));
    CHECK((step.target == "site:discovery/127.0.90.10+2" || in_scope));
  }
  // A part forged to hold an address outside the scope gets nothing: the database checks every address.
  Exec(site.su, "UPDATE job_tasks SET params = jsonb_set(params, '{addresses}', '[\"127.0.91.10\", \"10.9.9.9\"]') "
                "WHERE target = 'site:discovery/127.0.91.10+2'");
  for (const auto& step : *claimed) {
    if (step.target != "site:discovery/127.0.91.10+2") continue;
    auto forged = BuildAssign(site.cp, step, site.box, site.redact, 0);
    REQUIRE_FALSE(forged.ok());
    CHECK(forged.error().message.find("may not be sent to 10.9.9.9: outside its scope") != std::string::npos);
  }
}

TEST_CASE("A cluster step is handed its cluster's vCenter and moref, and that vCenter's credentials only inside their scope",
          "[step_data][secrets][attack]") {
  Site site;
  auto set = site.cp.PutCredentialSet({"", "vc-admin", "vcenter", "administrator@vsphere.local",
                                       *site.box.Seal("vc-secret", "vc-admin"), site.box.KeyId()},
                                      "test");
  REQUIRE(set.ok());
  const std::string vc = Scalar(site.su, "INSERT INTO vcenters(name, address, credential_set_id, tls_pin_sha256) "
                                         "VALUES ('vc', '127.0.92.5:443', (SELECT id FROM credential_sets WHERE name = 'vc-admin'), "
                                         "repeat('ab', 32)) RETURNING id");
  const std::string cluster =
      Scalar(site.su, "INSERT INTO vcenter_clusters(vcenter_id, moref, name) VALUES ($1, 'domain-c8', 'prod') RETURNING id", {vc});
  const auto step = site.OneStep("cluster.safety_check", R"({"min_hosts_up":2})", R"({"cluster_id":")" + cluster + R"("})");
  CHECK(step.target == "cluster:" + cluster);
  auto m = BuildAssign(site.cp, step, site.box, site.redact, 0);
  REQUIRE(m.ok());
  CHECK(m->assign().credentials().password() == "vc-secret");
  std::string pin;
  for (int i = 0; i < 32; ++i) pin += "ab";
  CHECK(m->assign().tls().pinned_sha256() == pin);
  rapidjson::Document params;
  params.Parse(m->assign().params_json().c_str());
  REQUIRE(params.IsObject());
  CHECK(std::string(params["_endpoint"]["address"].GetString()) == "127.0.92.5:443");
  CHECK(std::string(params["_endpoint"]["cluster_moref"].GetString()) == "domain-c8");
  CHECK(params["min_hosts_up"].GetInt() == 2);
  // The set scoped away from the vCenter: the cluster step gets nothing, and says why.
  REQUIRE(site.cp.SetCredentialScope("vc-admin", {"127.0.93.0/24"}, {}, "test").ok());
  auto refused = BuildAssign(site.cp, step, site.box, site.redact, 0);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message == "credential set vc-admin may not be sent to 127.0.92.5: outside its scope (127.0.93.0/24)");
}

TEST_CASE("A host step is handed the host and its vCenter, and one host of a cluster enters maintenance at a time, across jobs",
          "[step_data][maintenance]") {
  Site site;
  auto set = site.cp.PutCredentialSet({"", "vc-admin", "vcenter", "administrator@vsphere.local",
                                       *site.box.Seal("vc-secret", "vc-admin"), site.box.KeyId()},
                                      "test");
  REQUIRE(set.ok());
  const std::string vc = Scalar(site.su, "INSERT INTO vcenters(name, address, credential_set_id, tls_pin_sha256) "
                                         "VALUES ('vc', '127.0.92.6:443', (SELECT id FROM credential_sets WHERE name = 'vc-admin'), "
                                         "repeat('ab', 32)) RETURNING id");
  auto cluster = [&](const std::string& moref, const std::string& name) {
    return Scalar(site.su, "INSERT INTO vcenter_clusters(vcenter_id, moref, name) VALUES ($1, $2, $3) RETURNING id", {vc, moref, name});
  };
  auto host = [&](const std::string& c, const std::string& moref) {
    return Scalar(site.su, "INSERT INTO vcenter_hosts(vcenter_id, cluster_id, moref, name) VALUES ($1, $2, $3, 'esx-' || $3) RETURNING id",
                  {vc, c, moref});
  };
  const std::string prod = cluster("domain-c8", "prod"), lab = cluster("domain-c9", "lab");
  const std::string h1 = host(prod, "host-1"), h2 = host(prod, "host-2"), h3 = host(lab, "host-3"), h4 = host(lab, "host-4");
  auto create = [&](const std::string& hosts) {
    return Scalar(site.su, "SELECT dispatcher_v1_create_job('default', 'host.maintenance', $1::jsonb, '{\"action\":\"enter\"}')",
                  {R"({"vcenter_host_ids":[)" + hosts + "]}"});
  };
  const std::string job_a = create('"' + h1 + '"'), job_b = create('"' + h2 + '"'), job_c = create('"' + h3 + "\",\"" + h4 + '"');
  MemorySink sink;
  FakeClock clock;
  Logger log("test", sink, clock);
  DbServerDirectory dir(site.cp, site.conn);
  REQUIRE(PlanPendingJobs(site.cp, site.conn, dir, MakePlanners(), "default", log) == 3);
  // Each entry follows a safety check of its host, on the host.
  CHECK(Scalar(site.su, "SELECT count(*) FROM job_tasks WHERE step_kind = 'cluster.safety_check' AND target LIKE 'esxi:%'") == "4");
  CHECK(Scalar(site.su, "SELECT count(*) FROM job_tasks WHERE step_kind = 'host.maintenance' AND status = 'blocked'") == "4");
  Exec(site.su, "UPDATE job_tasks SET status = 'ready' WHERE step_kind = 'host.maintenance'");  // as if the checks passed
  auto claimed = site.cp.ClaimSteps({"default", "agent-1", {"host.maintenance"}, 10, std::chrono::seconds(30), {}, 1, {}});
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 4);
  std::map<std::string, ClaimedStep> by_host;
  for (const auto& s : *claimed) by_host[s.target.substr(5)] = s;

  auto first = BuildAssign(site.cp, by_host[h1], site.box, site.redact, 0);
  REQUIRE(first.ok());
  CHECK(first->assign().credentials().password() == "vc-secret");
  rapidjson::Document params;
  params.Parse(first->assign().params_json().c_str());
  REQUIRE(params.IsObject());
  CHECK(std::string(params["_endpoint"]["address"].GetString()) == "127.0.92.6:443");
  CHECK(std::string(params["_endpoint"]["host_moref"].GetString()) == "host-1");
  CHECK(std::string(params["_endpoint"]["host_name"].GetString()) == "esx-host-1");
  CHECK(std::string(params["_endpoint"]["cluster_moref"].GetString()) == "domain-c8");

  // Another job's host of the same cluster waits, said once on its job.
  auto second = BuildAssign(site.cp, by_host[h2], site.box, site.redact, 0);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == kStepMustWait);
  CHECK(second.error().message.find("esx-host-1 of cluster prod is in maintenance through job " + job_a) != std::string::npos);
  CHECK(Scalar(site.su, "SELECT count(*) FROM job_events WHERE job_id = $1 AND message LIKE 'waiting: esx-host-1%'", {job_b}) == "1");
  // A wait has a bound, counted from its first event: past it, the entry is refused.
  Exec(site.su, "UPDATE job_events SET ts = ts - interval '3 hours' WHERE job_id = $1 AND message LIKE 'waiting: %'", {job_b});
  auto waited = BuildAssign(site.cp, by_host[h2], site.box, site.redact, 0);
  REQUIRE_FALSE(waited.ok());
  CHECK(waited.error().code == "step.params");
  CHECK(waited.error().message.find("waited more than 7200 s for the maintenance slot of cluster prod") != std::string::npos);
  Exec(site.su, "UPDATE job_events SET ts = now() WHERE job_id = $1 AND message LIKE 'waiting: %'", {job_b});
  // A step on another host of the cluster counts the slot holder as leaving.
  CHECK(Scalar(site.su, "SELECT dispatcher_v1_sync_endpoint('esxi', $1::uuid) -> 'hosts_leaving'", {h2}) == R"(["host-1"])");

  // One job with two hosts of one cluster: the second can never have the slot, and is told so.
  auto lab_first = BuildAssign(site.cp, by_host[h3], site.box, site.redact, 0);
  REQUIRE(lab_first.ok());
  auto lab_second = BuildAssign(site.cp, by_host[h4], site.box, site.redact, 0);
  REQUIRE_FALSE(lab_second.ok());
  CHECK(lab_second.error().code == "step.params");
  CHECK(lab_second.error().message.find("max_hosts_in_maintenance") != std::string::npos);

  // The first host entered: it keeps the slot; its exit gives it back.
  auto entered = RecordStepResult(site.cp, "default", "host.maintenance", by_host[h1].task_id, by_host[h1].lease_id,
                                  R"({"action":"enter","outcome":"entered","in_maintenance":true})");
  REQUIRE(entered.ok());
  CHECK(entered->summary.find("holds its cluster's maintenance slot") != std::string::npos);
  CHECK(Scalar(site.su, "SELECT maintenance_mode FROM vcenter_hosts WHERE id = $1", {h1}) == "t");
  CHECK_FALSE(BuildAssign(site.cp, by_host[h2], site.box, site.redact, 0).ok());
  auto exited = RecordStepResult(site.cp, "default", "host.maintenance", by_host[h1].task_id, by_host[h1].lease_id,
                                 R"({"action":"exit","outcome":"exited","in_maintenance":false})");
  REQUIRE(exited.ok());
  CHECK(exited->summary.find("free again") != std::string::npos);
  CHECK(BuildAssign(site.cp, by_host[h2], site.box, site.redact, 0).ok());
  CHECK(Scalar(site.su, "SELECT count(*) FROM cluster_maintenance_slots WHERE cluster_id = $1", {prod}) == "1");
}

TEST_CASE("An upgrade gets the host's SSH set only when the host's key is pinned or an admin allows first contact",
          "[step_data][secrets][attack]") {
  Site site;
  for (const auto& [name, kind, secret] : {std::tuple{"vc-admin", "vcenter", "vc-secret"}, std::tuple{"esx-root", "esxi", "esx-secret"},
                                           std::tuple{"other-root", "esxi", "other-secret"}}) {
    REQUIRE(site.cp.PutCredentialSet({"", name, kind, "root", *site.box.Seal(secret, name), site.box.KeyId()}, "test").ok());
  }
  const std::string vc = Scalar(site.su, "INSERT INTO vcenters(name, address, credential_set_id, tls_pin_sha256) "
                                         "VALUES ('vc', '127.0.92.7:443', (SELECT id FROM credential_sets WHERE name = 'vc-admin'), "
                                         "repeat('ab', 32)) RETURNING id");
  const std::string host = Scalar(site.su,
                                  "INSERT INTO vcenter_hosts(vcenter_id, moref, name, ssh_address, ssh_port, ssh_credential_set_id) "
                                  "VALUES ($1, 'host-7', 'esx-7', '127.0.92.8', 2222, (SELECT id FROM credential_sets WHERE name = 'esx-root')) "
                                  "RETURNING id",
                                  {vc});
  const std::string scope = R"({"vcenter_host_ids":[")" + host + R"("]})";
  const auto step = site.OneStep("host.esxi_upgrade", R"({"depot":"https://depot.lab/index.xml","profile":"ESXi-8.0U2b-23305546-standard"})",
                                 scope);
  // No key pinned, no first contact: the SSH secret stays here, said why.
  auto refused = BuildAssign(site.cp, step, site.box, site.redact, 0);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("its SSH host key is not pinned") != std::string::npos);
  CHECK(refused.error().message.find("esx-secret") == std::string::npos);
  // Pinned: the vCenter's set as the step's credentials, the host's as its SSH set.
  const std::string key = "SHA256:" + std::string(43, 'A');
  Exec(site.su, "UPDATE vcenter_hosts SET ssh_host_key = $1 WHERE id = $2", {key, host});
  auto m = BuildAssign(site.cp, step, site.box, site.redact, 0);
  REQUIRE(m.ok());
  CHECK(m->assign().credentials().password() == "vc-secret");
  REQUIRE(m->assign().credential_sets_size() == 1);
  CHECK(m->assign().credential_sets(0).credentials().password() == "esx-secret");
  rapidjson::Document params;
  params.Parse(m->assign().params_json().c_str());
  CHECK(std::string(params["_endpoint"]["ssh_address"].GetString()) == "127.0.92.8");
  CHECK(params["_endpoint"]["ssh_port"].GetInt() == 2222);
  CHECK(std::string(params["_endpoint"]["ssh_host_key"].GetString()) == key);
  // The result of a first contact pins a key only where none is: a pinned key is never replaced.
  CHECK(Scalar(site.conn, "SELECT dispatcher_v1_record_esxi_upgrade($1::uuid, $2::jsonb)",
               {step.task_id, R"({"build_after":"23305546","ssh_host_key_new":true,"ssh_host_key":"SHA256:)" + std::string(43, 'B') + R"("})"}) == "");
  CHECK(Scalar(site.su, "SELECT ssh_host_key FROM vcenter_hosts WHERE id = $1", {host}) == key);
  CHECK(Scalar(site.su, "SELECT esxi_build FROM vcenter_hosts WHERE id = $1", {host}) == "23305546");
  Exec(site.su, "UPDATE vcenter_hosts SET ssh_host_key = NULL WHERE id = $1", {host});
  CHECK(Scalar(site.conn, "SELECT dispatcher_v1_record_esxi_upgrade($1::uuid, $2::jsonb)",
               {step.task_id, R"({"ssh_host_key_new":true,"ssh_host_key":"SHA256:)" + std::string(43, 'B') + R"("})"})
            .find("pinned") != std::string::npos);
  CHECK(Scalar(site.su, "SELECT count(*) FROM audit_log WHERE action = 'ssh_host_key.pinned' AND object_id = $1", {host}) == "1");
  // Another esxi set than the host's own is never released to it.
  Exec(site.su, "UPDATE vcenter_hosts SET ssh_credential_set_id = (SELECT id FROM credential_sets WHERE name = 'other-root'), "
                "ssh_host_key = $1 WHERE id = $2", {key, host});
  CHECK(site.cp.CredentialSetForStep(Scalar(site.su, "SELECT id FROM credential_sets WHERE name = 'esx-root'"), step.task_id)
            .error().message.find("is not the SSH set of ESXi host") != std::string::npos);
}

}  // namespace
}  // namespace dcops::dispatcher
