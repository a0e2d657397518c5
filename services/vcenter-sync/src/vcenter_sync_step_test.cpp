// inventory.vcenter_sync against the vCenter simulator (vim25 SOAP over HTTPS on loopback,
// pinned), with a recording step context standing in for the dispatcher's stream.
#include "vcenter_sync_step.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <map>
#include <set>

#include "dcops/agent/recording_context.hpp"
#include "dcops/http/transport.hpp"
#include "vc_server.hpp"

namespace dcops::vcsync {
namespace {

namespace vc = sim::vcenter;

vc::Estate SmallEstate() {
  vc::Estate e;
  e.datacenters = 2;
  e.hosts = 21;  // 20 in 2 clusters of 10, 1 standalone
  e.hosts_per_cluster = 10;
  e.vms_per_host = 3;
  e.datastores = 4;
  e.networks = 4;
  return e;
}

struct Rig {
  vc::Model model;
  vc::Server server;
  http::CurlTransport transport;
  http::Client http{http::ClientOptions{}, transport, SystemClock::Instance()};
  SessionPool pool;
  std::string address;
  Rig(const char* ip, vc::ServerOptions so = {}, vc::Estate e = SmallEstate())
      : model(e), server(model, ip, 18447, so), address(std::string(ip) + ":18447") {
    REQUIRE(server.Start().empty());
  }
  ~Rig() { pool.LogoutAll(); }
  agent::Assignment Assignment(const std::string& version = "", int page_size = 25) const {
    agent::Assignment a;
    a.task_id = "t1";
    a.step_kind = "inventory.vcenter_sync";
    a.target = "vcenter:v1";
    a.params_json = R"({"page_size":)" + std::to_string(page_size) + R"(,"_endpoint":{"id":"v1","address":")" + address +
                    R"(","version":")" + version + R"("}})";
    a.credentials = {"sync@vsphere.local", "vc-pass"};
    a.tls.pinned_sha256 = server.fingerprint();
    return a;
  }
  // Runs one sync; returns the outcome and what it sent, objects by class and moref.
  struct Run {
    agent::StepOutcome outcome;
    std::map<std::string, std::map<std::string, rapidjson::Document>> sent;  // class → moref → object
    std::vector<std::string> removed;
    rapidjson::Document result;
    std::vector<std::string> events;
  };
  Run Sync(const std::string& version = "", int page_size = 25) {
    agent::RecordingStepContext ctx(Assignment(version, page_size), SystemClock::Instance());
    Run r;
    r.outcome = RunVcenterSync(ctx, {http, pool});
    for (const auto& b : ctx.inventory()) {
      rapidjson::Document batch;
      batch.Parse(b.json.c_str());
      REQUIRE(batch.IsArray());
      for (auto& o : batch.GetArray()) {
        if (b.kind == "vcenter.removed") {
          r.removed.push_back(std::string(o["class"].GetString()) + ":" + o["moref"].GetString());
          continue;
        }
        rapidjson::Document d;
        d.CopyFrom(o, d.GetAllocator());
        r.sent[b.kind.substr(8)][o["moref"].GetString()] = std::move(d);
      }
    }
    if (r.outcome.kind == agent::StepOutcome::Kind::kSucceeded) r.result.Parse(r.outcome.result_json.c_str());
    r.events = ctx.events();
    return r;
  }
};

std::set<std::string> ModelMorefs(const vc::Model& m, const std::string& type) {
  std::set<std::string> out;
  for (const auto& o : m.Objects(type)) out.insert(o.moref);
  return out;
}

std::set<std::string> Keys(const std::map<std::string, rapidjson::Document>& objects) {
  std::set<std::string> out;
  for (const auto& [k, _] : objects) out.insert(k);
  return out;
}

std::string Str(const rapidjson::Value& v, const char* key) { return v[key].IsString() ? v[key].GetString() : "<null>"; }

TEST_CASE("A full vCenter sync reads every object in pages and keeps the session for the next", "[vcenter_sync][net]") {
  Rig rig("127.0.77.1");
  auto run = rig.Sync();
  REQUIRE(run.outcome.kind == agent::StepOutcome::Kind::kSucceeded);
  CHECK(std::string(run.result["mode"].GetString()) == "full");
  CHECK(Keys(run.sent["hosts"]) == ModelMorefs(rig.model, "HostSystem"));
  CHECK(Keys(run.sent["vms"]) == ModelMorefs(rig.model, "VirtualMachine"));
  CHECK(Keys(run.sent["clusters"]) == ModelMorefs(rig.model, "ClusterComputeResource"));
  CHECK(Keys(run.sent["datastores"]) == ModelMorefs(rig.model, "Datastore"));
  CHECK(Keys(run.sent["networks"]) == ModelMorefs(rig.model, "Network"));  // port groups included, once
  CHECK(run.result["objects"]["vms"].GetInt() == 63);
  CHECK(run.result["batches"].GetInt() > 5);  // pages of 25 objects

  const auto& host0 = run.sent["hosts"]["host-5000"];
  CHECK(Str(host0, "service_tag") == "VC00000");  // from otherIdentifyingInfo ServiceTag
  CHECK(Str(host0, "cluster_moref") == "domain-c1000");
  CHECK(Str(host0, "datacenter") == "dc-01");
  CHECK(Str(host0, "esxi_version") == "8.0.2");
  CHECK(Str(host0, "system_uuid") == "4c4c4544-0000-1000-8000-000000000000");
  // Host 4 reports its tag only as the Dell system serial number.
  CHECK(Str(run.sent["hosts"]["host-5004"], "service_tag") == "VC00004");
  CHECK(run.sent["hosts"]["host-5020"]["cluster_moref"].IsNull());  // the standalone host...
  CHECK(Str(run.sent["hosts"]["host-5020"], "datacenter") == "dc-01");  // ...still has its datacenter
  CHECK(Str(run.sent["clusters"]["domain-c1001"], "datacenter") == "dc-02");
  const auto& cluster = run.sent["clusters"]["domain-c1000"];
  CHECK(cluster["host_count"].GetInt() == 10);
  CHECK(cluster["ha_enabled"].GetBool());
  CHECK(cluster["vsan_enabled"].GetBool());
  const auto& vm = run.sent["vms"]["vm-100000"];
  CHECK(Str(vm, "host_moref") == "host-5000");
  REQUIRE(vm["ip_addresses"].Size() == 2);
  CHECK(std::string(vm["ip_addresses"][0].GetString()) == "127.200.0.0");
  CHECK(std::string(vm["datastores"][0].GetString()) == "datastore-100");
  const auto& off = run.sent["vms"]["vm-100008"];  // every 9th VM is off: no guest identity
  CHECK(Str(off, "power_state") == "poweredOff");
  CHECK(off["guest_hostname"].IsNull());
  CHECK(off["ip_addresses"].Empty());
  CHECK(run.sent["networks"]["dvportgroup-201"]["vlan_id"].GetInt() == 101);
  CHECK(Str(run.sent["networks"]["dvportgroup-201"], "network_type") == "DistributedVirtualPortgroup");
  CHECK(run.sent["networks"]["network-200"]["vlan_id"].IsNull());
  CHECK(rig.pool.size() == 1);
  CHECK(rig.model.SessionCount() == 1);
}

TEST_CASE("An incremental vCenter sync sends only what changed, whole, and what left", "[vcenter_sync][net]") {
  Rig rig("127.0.77.2");
  auto full = rig.Sync();
  REQUIRE(full.outcome.kind == agent::StepOutcome::Kind::kSucceeded);
  const std::string v1 = full.result["version"].GetString();
  const auto calls_before = rig.server.Calls();

  rig.model.MoveHost("host-5001", "domain-c1001");
  rig.model.SetMaintenance("host-5002", true);
  rig.model.RemoveObject("vm-100003");
  rig.model.SetVmPower("vm-100004", "poweredOff");
  const std::string added = rig.model.AddHost("domain-c1000", "NEWTAG9");
  auto inc = rig.Sync(v1);
  REQUIRE(inc.outcome.kind == agent::StepOutcome::Kind::kSucceeded);
  CHECK(std::string(inc.result["mode"].GetString()) == "incremental");
  CHECK(Keys(inc.sent["hosts"]) == std::set<std::string>{"host-5001", "host-5002", added});
  CHECK(Keys(inc.sent["vms"]) == std::set<std::string>{"vm-100004"});
  CHECK(inc.removed == std::vector<std::string>{"vms:vm-100003"});
  // Whole objects: the moved host still has its name and tag, not only the changed parent.
  CHECK(Str(inc.sent["hosts"]["host-5001"], "cluster_moref") == "domain-c1001");
  CHECK(Str(inc.sent["hosts"]["host-5001"], "service_tag") == "VC00001");
  CHECK(inc.sent["hosts"]["host-5002"]["maintenance_mode"].GetBool());
  CHECK(Str(inc.sent["hosts"][added], "service_tag") == "NEWTAG9");
  CHECK(inc.sent["vms"]["vm-100004"]["guest_hostname"].IsNull());  // unset by the update
  CHECK(Str(inc.sent["vms"]["vm-100004"], "name") == "vm-000004");
  // No full read: no new filters or views, one WaitForUpdatesEx.
  const auto calls = rig.server.Calls();
  CHECK(calls.at("CreateFilter") == calls_before.at("CreateFilter"));
  CHECK(calls.at("WaitForUpdatesEx") == calls_before.at("WaitForUpdatesEx") + 1);

  // Nothing changed since: an incremental sync with nothing to send keeps the version.
  const std::string v2 = inc.result["version"].GetString();
  auto idle = rig.Sync(v2);
  REQUIRE(idle.outcome.kind == agent::StepOutcome::Kind::kSucceeded);
  CHECK(std::string(idle.result["mode"].GetString()) == "incremental");
  CHECK(idle.result["batches"].GetInt() == 0);
  CHECK(std::string(idle.result["version"].GetString()) == v2);
}

TEST_CASE("A vCenter sync reads everything again when the database or vCenter lost the version", "[vcenter_sync][net]") {
  Rig rig("127.0.77.3");
  auto full = rig.Sync();
  REQUIRE(full.outcome.kind == agent::StepOutcome::Kind::kSucceeded);
  // The database is not where this agent is (the last apply failed): full.
  auto mismatch = rig.Sync("12");
  REQUIRE(mismatch.outcome.kind == agent::StepOutcome::Kind::kSucceeded);
  CHECK(std::string(mismatch.result["mode"].GetString()) == "full");
  // vCenter restarted: the kept session is gone; the step says so and reads everything.
  rig.model.ExpireSessions();
  auto restarted = rig.Sync(mismatch.result["version"].GetString());
  REQUIRE(restarted.outcome.kind == agent::StepOutcome::Kind::kSucceeded);
  CHECK(std::string(restarted.result["mode"].GetString()) == "full");
  REQUIRE_FALSE(restarted.events.empty());
  CHECK(restarted.events[0].find("incremental read failed") != std::string::npos);
  CHECK(Keys(restarted.sent["vms"]) == ModelMorefs(rig.model, "VirtualMachine"));
}

TEST_CASE("A vCenter sync fails clearly on broken answers and logs out, keeping nothing", "[vcenter_sync][net]") {
  Rig rig("127.0.77.4");
  rig.server.SetFault(vc::Fault::kTruncated);
  auto truncated = rig.Sync();
  REQUIRE(truncated.outcome.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(truncated.outcome.error.code == "vsphere.schema");
  CHECK(truncated.outcome.error.message.find("WaitForUpdatesEx") != std::string::npos);

  rig.server.SetFault(vc::Fault::kFaultNextPage);
  auto mid_page = rig.Sync();
  REQUIRE(mid_page.outcome.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(mid_page.outcome.error.message.find("A general system error occurred") != std::string::npos);

  rig.server.SetFault(vc::Fault::kNone);
  rig.server.ExpireSessionsAfter(12);  // vCenter restarts in the middle of the read
  auto expired = rig.Sync();
  REQUIRE(expired.outcome.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(expired.outcome.error.code == "vsphere.not_authenticated");

  rig.server.SetFault(vc::Fault::kHtml);
  auto html = rig.Sync();
  REQUIRE(html.outcome.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(html.outcome.error.message.find("RetrieveServiceContent") != std::string::npos);
  rig.server.SetFault(vc::Fault::kNone);

  CHECK(rig.pool.size() == 0);
  CHECK(rig.model.SessionCount() == 0);

  auto a = rig.Assignment();
  a.credentials.password = "Wr0ng-Secret";
  agent::RecordingStepContext denied(a, SystemClock::Instance());
  auto out = RunVcenterSync(denied, {rig.http, rig.pool});
  REQUIRE(out.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "vsphere.invalid_login");
  CHECK(out.error.message.find("Wr0ng-Secret") == std::string::npos);
}

TEST_CASE("A password changed since the last sync is what the next sync uses, not the kept session", "[vcenter_sync][net]") {
  Rig rig("127.0.77.7");
  auto first = rig.Sync();
  REQUIRE(first.outcome.kind == agent::StepOutcome::Kind::kSucceeded);
  REQUIRE(rig.pool.size() == 1);
  // The stored password was changed to a wrong one: the kept session must not hide it.
  auto a = rig.Assignment(first.result["version"].GetString());
  a.credentials.password = "Ch4nged-Wrong";
  agent::RecordingStepContext denied(a, SystemClock::Instance());
  auto out = RunVcenterSync(denied, {rig.http, rig.pool});
  REQUIRE(out.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "vsphere.invalid_login");
  CHECK(rig.model.SessionCount() == 0);  // the old session was logged out, not left behind
  // Put right again, the next sync logs in afresh and reads everything.
  auto again = rig.Sync(first.result["version"].GetString());
  REQUIRE(again.outcome.kind == agent::StepOutcome::Kind::kSucceeded);
  CHECK(std::string(again.result["mode"].GetString()) == "full");
}

TEST_CASE("A vCenter that binds the schema-instance namespace to another prefix syncs the same", "[vcenter_sync][net]") {
  vc::ServerOptions so;
  so.xsi_prefix = "q1";
  Rig rig("127.0.77.5", so);
  auto run = rig.Sync();
  REQUIRE(run.outcome.kind == agent::StepOutcome::Kind::kSucceeded);
  CHECK(run.sent["networks"]["dvportgroup-201"]["vlan_id"].GetInt() == 101);
  CHECK(Keys(run.sent["hosts"]) == ModelMorefs(rig.model, "HostSystem"));
}

TEST_CASE("Kept vCenter sessions are touched while in use and logged out once idle or gone", "[vcenter_sync][net]") {
  Rig rig("127.0.77.6");
  REQUIRE(rig.Sync().outcome.kind == agent::StepOutcome::Kind::kSucceeded);
  REQUIRE(rig.pool.size() == 1);
  const auto now = std::chrono::steady_clock::now();
  rig.pool.Tend(now, std::chrono::hours(2));  // in use: kept, and touched
  CHECK(rig.pool.size() == 1);
  CHECK(rig.server.Calls().at("CurrentTime") == 1);
  CHECK(rig.model.SessionCount() == 1);
  rig.pool.Tend(now + std::chrono::hours(3), std::chrono::hours(2));  // idle too long: logged out
  CHECK(rig.pool.size() == 0);
  CHECK(rig.model.SessionCount() == 0);

  REQUIRE(rig.Sync().outcome.kind == agent::StepOutcome::Kind::kSucceeded);
  rig.model.ExpireSessions();  // vCenter dropped it: the keep-alive finds out and lets it go
  rig.pool.Tend(std::chrono::steady_clock::now(), std::chrono::hours(2));
  CHECK(rig.pool.size() == 0);
}

}  // namespace
}  // namespace dcops::vcsync
