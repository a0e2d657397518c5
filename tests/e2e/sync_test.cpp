// End to end, inventory syncs: the real dispatcher and sync agents as processes, real gRPC,
// the private PostgreSQL; the device simulators (OME over HTTPS, vCenter over SOAP) run in
// this process on loopback so each test can change the estate between two syncs.
#include <fmt/format.h>
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <set>

#include "ome_server.hpp"
#include "site.hpp"
#include "vc_server.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;

bool AgentsOnline(Site& site, int n) {
  return WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == std::to_string(n); },
                   seconds(30));
}

std::set<std::string> OmeServerTags(const sim::ome::Model& model) {
  std::set<std::string> tags;
  for (const auto& d : model.AllDevices()) {
    if (d.type == 1000) tags.insert(d.service_tag);
  }
  return tags;
}

std::set<std::string> Rows(Site& site, const std::string& sql) {
  std::set<std::string> out;
  const std::string joined = site.Sql("SELECT coalesce(string_agg(x, '|'), '') FROM (" + sql + ") AS q(x)");
  std::size_t start = 0;
  while (start < joined.size()) {
    const auto bar = joined.find('|', start);
    out.insert(joined.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  return out;
}

TEST_CASE("OME syncs through the CLI: servers written, changes picked up, a broken answer keeps the last inventory",
          "[e2e][sync]") {
  SiteOptions o;
  o.bmcs = 1;
  o.first_bmc = "127.0.78.10";
  o.register_servers = false;
  Site site(o);
  sim::ome::Options estate;
  estate.servers = 25;
  estate.chassis = 2;
  sim::ome::Model model(estate);
  sim::ome::Server ome(model, "127.0.78.1", 18448);
  REQUIRE(ome.Start().empty());
  site.StartAgent(DCOPS_OME_SYNC, "ome-sync-a");
  REQUIRE(AgentsOnline(site, 1));
  const std::string endpoint =
      site.AddEndpoint("ome_endpoints", "ome", "127.0.78.1:18448", "admin", estate.password, ome.fingerprint());

  auto first = site.Cli({"job", "create", "inventory.ome_sync", "--target", "ome:" + endpoint, "--param", "page_size=10",
                         "--param", "details=true", "--watch"});
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK(Rows(site, "SELECT service_tag FROM servers WHERE source = 'ome'") == OmeServerTags(model));
  CHECK(site.Sql("SELECT count(*) FROM servers WHERE bmc_address NOT LIKE '127.%'") == "0");
  CHECK(first.output.find("OME sync applied: 25 servers (25 new), 0 no longer listed, 0 unreadable") != std::string::npos);
  CHECK(site.Sql("SELECT count(*) FROM server_processors") == "50");  // the details: 2 CPUs per server
  CHECK(site.Sql("SELECT count(*) FROM server_firmware WHERE component_id = 'Installed-25227__iDRAC.Embedded.1-1'") == "25");
  CHECK(model.SessionCount() == 0);  // logged out

  // OME changes: a server leaves, one arrives, one record breaks.
  const auto devices = model.AllDevices();
  const auto& gone = devices[3];
  const auto& broken = devices[4];
  model.RemoveDevice(gone.id);
  model.AddServer("NEWTAG1", "127.0.78.200");
  model.GarbleDevice(broken.id);
  auto second = site.Cli({"job", "create", "inventory.ome_sync", "--target", "ome:" + endpoint, "--watch"});
  INFO(second.output);
  REQUIRE(second.exit_code == 0);
  CHECK(site.Sql("SELECT count(*) FROM servers") == "26");
  CHECK(Rows(site, "SELECT service_tag FROM servers WHERE ome_missing_since IS NOT NULL") ==
        std::set<std::string>{gone.service_tag});
  CHECK(site.Sql("SELECT bmc_address FROM servers WHERE service_tag = 'NEWTAG1'") == "127.0.78.200");
  CHECK(site.Sql("SELECT last_sync_error FROM ome_endpoints") == "1 device(s) could not be read");
  CHECK(site.Sql("SELECT t.result -> 'failed' -> 0 ->> 'id' FROM job_tasks t JOIN jobs j ON j.id = t.job_id "
                 "ORDER BY j.created_at DESC LIMIT 1") == std::to_string(broken.id));

  // A broken answer fails the sync and leaves the inventory as it was.
  const std::string before = site.Sql("SELECT string_agg(service_tag || coalesce(ome_missing_since::text, ''), ',' "
                                      "ORDER BY service_tag) FROM servers");
  ome.SetFault(sim::ome::Fault::kTruncated);
  auto failed = site.Cli({"job", "create", "inventory.ome_sync", "--target", "ome:" + endpoint, "--watch"});
  INFO(failed.output);
  CHECK(failed.exit_code != 0);
  CHECK(site.Sql("SELECT string_agg(service_tag || coalesce(ome_missing_since::text, ''), ',' ORDER BY service_tag) "
                 "FROM servers") == before);
  CHECK(site.Sql("SELECT last_sync_error LIKE 'ome.schema:%' FROM ome_endpoints") == "t");
  CHECK(site.Sql("SELECT count(*) FROM inventory_staging") == "0");
  CHECK(model.SessionCount() == 0);
  CHECK(site.AllLogs().find(estate.password) == std::string::npos);
}

TEST_CASE("A schedule creates a sync job when due and the sync runs", "[e2e][sync]") {
  SiteOptions o;
  o.bmcs = 1;
  o.first_bmc = "127.0.78.20";
  o.register_servers = false;
  Site site(o);
  sim::ome::Options estate;
  estate.servers = 5;
  sim::ome::Model model(estate);
  sim::ome::Server ome(model, "127.0.78.2", 18448);
  REQUIRE(ome.Start().empty());
  site.StartAgent(DCOPS_OME_SYNC, "ome-sync-a");
  REQUIRE(AgentsOnline(site, 1));
  const std::string endpoint =
      site.AddEndpoint("ome_endpoints", "ome", "127.0.78.2:18448", "admin", estate.password, ome.fingerprint());
  site.Sql("INSERT INTO schedules(name, job_type, target_scope, interval_seconds) VALUES "
           "('ome hourly', 'inventory.ome_sync', jsonb_build_object('ome_endpoint_id', $1::text), 3600) RETURNING 1",
           {endpoint});
  std::string job;
  REQUIRE(WaitUntil([&] {
    job = site.Sql("SELECT coalesce((SELECT id::text FROM jobs WHERE created_via = 'schedule'), '')");
    return !job.empty();
  }, seconds(30)));
  CHECK(site.WaitForJob(job, seconds(60)) == "succeeded");
  CHECK(site.Sql("SELECT count(*) FROM servers WHERE ome_endpoint_id IS NOT NULL") == "5");
  // The next run is an interval away, and the schedule made exactly one job.
  CHECK(site.Sql("SELECT next_run_at > now() + interval '50 minutes' FROM schedules") == "t");
  CHECK(site.Sql("SELECT count(*) FROM jobs WHERE created_via = 'schedule'") == "1");
}

// Every host of the model as "moref/cluster/maintenance", as the tables should hold them.
std::set<std::string> ModelHosts(const sim::vcenter::Model& model) {
  std::set<std::string> out;
  for (const auto& o : model.Objects("HostSystem")) {
    const auto& h = std::get<sim::vcenter::Host>(o.body);
    out.insert(o.moref + "/" + h.cluster + "/" + (h.maintenance ? "true" : "false"));
  }
  return out;
}

std::set<std::string> ModelMorefs(const sim::vcenter::Model& model, const std::string& type) {
  std::set<std::string> out;
  for (const auto& o : model.Objects(type)) out.insert(o.moref);
  return out;
}

const char* kDbHosts =
    "SELECT h.moref || '/' || coalesce(c.moref, '') || '/' || h.maintenance_mode FROM vcenter_hosts h "
    "LEFT JOIN vcenter_clusters c ON c.id = h.cluster_id";

TEST_CASE("vCenter syncs into Postgres: full, then incremental after changes, hosts linked to servers both ways",
          "[e2e][sync]") {
  SiteOptions o;
  o.bmcs = 1;
  o.first_bmc = "127.0.78.30";
  o.register_servers = false;
  Site site(o);
  sim::vcenter::Estate estate;
  estate.hosts = 40;
  estate.hosts_per_cluster = 8;
  estate.vms_per_host = 5;
  sim::vcenter::Model model(estate);
  sim::vcenter::Server vcenter(model, "127.0.78.3", 18449);
  REQUIRE(vcenter.Start().empty());
  site.StartAgent(DCOPS_VCENTER_SYNC, "vcenter-sync-a");
  REQUIRE(AgentsOnline(site, 1));
  // Servers a Redfish refresh found before vCenter was synced (one by tag, one by serial only).
  site.Sql("SELECT dispatcher_v1_upsert_server('default', '{\"bmc_address\":\"127.0.78.31\",\"service_tag\":\"VC00000\"}')");
  const std::string vc = site.AddEndpoint("vcenters", "vcenter", "127.0.78.3:18449", "sync@vsphere.local", "vc-pass",
                                     vcenter.fingerprint());

  auto first = site.Cli({"job", "create", "inventory.vcenter_sync", "--target", "vcenter:" + vc, "--param", "page_size=50", "--watch"});
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK(site.Sql("SELECT t.result ->> 'mode' FROM job_tasks t ORDER BY t.created_at DESC LIMIT 1") == "full");
  CHECK(first.output.find("vCenter full sync applied: 40 hosts, 200 VMs") != std::string::npos);
  CHECK(Rows(site, kDbHosts) == ModelHosts(model));
  CHECK(Rows(site, "SELECT moref FROM vcenter_vms") == ModelMorefs(model, "VirtualMachine"));
  CHECK(Rows(site, "SELECT moref FROM vcenter_clusters") == ModelMorefs(model, "ClusterComputeResource"));
  CHECK(Rows(site, "SELECT moref FROM vcenter_networks") == ModelMorefs(model, "Network"));
  CHECK(site.Sql("SELECT count(*) FROM vcenter_datastores") == std::to_string(estate.datastores));
  // Every cluster and host knows its datacenter, those in nested folders and standalone too.
  CHECK(site.Sql("SELECT (SELECT count(*) FROM vcenter_hosts WHERE datacenter IS NULL) + "
                 "(SELECT count(*) FROM vcenter_clusters WHERE datacenter IS NULL)") == "0");
  CHECK(site.Sql("SELECT datacenter FROM vcenter_clusters WHERE moref = 'domain-c1002'") == "dc-01");  // in a nested folder
  // Linked from the server's side first (the server was there before the host)...
  CHECK(site.Sql("SELECT s.service_tag FROM vcenter_hosts h JOIN servers s ON s.id = h.server_id") == "VC00000");
  // ...and from the host's side: a server refreshed after the sync links to its host.
  site.Sql("SELECT dispatcher_v1_upsert_server('default', '{\"bmc_address\":\"127.0.78.32\",\"service_tag\":\"vc00003\"}')");
  CHECK(Rows(site, "SELECT h.moref FROM vcenter_hosts h JOIN servers s ON s.id = h.server_id") ==
        std::set<std::string>{"host-5000", "host-5003"});
  CHECK(site.Sql("SELECT count(*) FROM audit_log WHERE action = 'host.link'") == "2");

  // vCenter changes: a host added, a VM removed, a host moved to another cluster, maintenance
  // mode toggled. The next sync is incremental and leaves the tables equal to vCenter.
  const auto calls_before = vcenter.Calls();
  model.AddHost("domain-c1001", "NEWVC01");
  model.RemoveObject("vm-100007");
  model.MoveHost("host-5002", "domain-c1003");
  model.SetMaintenance("host-5010", true);
  model.SetMaintenance("host-5049", false);
  auto second = site.Cli({"job", "create", "inventory.vcenter_sync", "--target", "vcenter:" + vc, "--watch"});
  INFO(second.output);
  REQUIRE(second.exit_code == 0);
  CHECK(site.Sql("SELECT t.result ->> 'mode' FROM job_tasks t ORDER BY t.created_at DESC LIMIT 1") == "incremental");
  CHECK(second.output.find("vCenter incremental sync applied: 3 hosts, 0 VMs, 0 clusters, 0 datastores, 0 networks upserted; 1 removed") !=
        std::string::npos);
  CHECK(vcenter.Calls().at("CreateFilter") == calls_before.at("CreateFilter"));  // no full read
  CHECK(Rows(site, kDbHosts) == ModelHosts(model));
  CHECK(Rows(site, "SELECT moref FROM vcenter_vms") == ModelMorefs(model, "VirtualMachine"));
  CHECK(site.Sql("SELECT sync_version FROM vcenters") ==
        site.Sql("SELECT t.result ->> 'version' FROM job_tasks t ORDER BY t.created_at DESC LIMIT 1"));

  // A sync that breaks half-way leaves the inventory as it was, with the error on the vCenter.
  model.ExpireSessions();  // the next sync must read everything
  model.RemoveObject("vm-100008");
  vcenter.SetFault(sim::vcenter::Fault::kTruncatedNextPage);
  const std::string before = site.Sql("SELECT count(*) FROM vcenter_vms");
  auto broken = site.Cli({"job", "create", "inventory.vcenter_sync", "--target", "vcenter:" + vc, "--param", "page_size=50", "--watch"});
  INFO(broken.output);
  CHECK(broken.exit_code != 0);
  CHECK(site.Sql("SELECT count(*) FROM vcenter_vms") == before);
  CHECK(site.Sql("SELECT last_sync_error LIKE 'vsphere.schema: WaitForUpdatesEx%' FROM vcenters") == "t");
  CHECK(site.Sql("SELECT t.attempt FROM job_tasks t ORDER BY t.created_at DESC LIMIT 1") == "1");  // not worth a retry
  CHECK(site.Sql("SELECT count(*) FROM inventory_staging") == "0");
  CHECK(site.AllLogs().find("vc-pass") == std::string::npos);
}

TEST_CASE("Syncs of two vCenters created together each land in their own inventory", "[e2e][sync]") {
  SiteOptions o;
  o.bmcs = 1;
  o.first_bmc = "127.0.78.40";
  o.register_servers = false;
  Site site(o);
  sim::vcenter::Estate small;
  small.hosts = 6;
  small.vms_per_host = 4;
  sim::vcenter::Model model_a(small), model_b(small);
  model_b.RemoveObject("vm-100000");  // the two differ
  sim::vcenter::Server vc_a(model_a, "127.0.78.4", 18449), vc_b(model_b, "127.0.78.5", 18449);
  REQUIRE(vc_a.Start().empty());
  REQUIRE(vc_b.Start().empty());
  site.StartAgent(DCOPS_VCENTER_SYNC, "vcenter-sync-a");
  REQUIRE(AgentsOnline(site, 1));
  const std::string a = site.AddEndpoint("vcenters", "vcenter", "127.0.78.4:18449", "sync@vsphere.local", "vc-pass", vc_a.fingerprint());
  const std::string b = site.Sql("INSERT INTO vcenters(name, address, credential_set_id, tls_pin_sha256) VALUES "
                                 "('vcenter-b', '127.0.78.5:18449', (SELECT id FROM credential_sets WHERE name = 'vcenter-lab'), $1) "
                                 "RETURNING id",
                                 {vc_b.fingerprint()});
  const std::string job_a = site.CreateJob("inventory.vcenter_sync", R"({"vcenter_id":")" + a + R"("})", "{}");
  const std::string job_b = site.CreateJob("inventory.vcenter_sync", R"({"vcenter_id":")" + b + R"("})", "{}");
  CHECK(site.WaitForJob(job_a, seconds(60)) == "succeeded");
  CHECK(site.WaitForJob(job_b, seconds(60)) == "succeeded");
  CHECK(site.Sql("SELECT count(*) FROM vcenter_vms WHERE vcenter_id = $1", {a}) == "24");
  CHECK(site.Sql("SELECT count(*) FROM vcenter_vms WHERE vcenter_id = $1", {b}) == "23");
  CHECK(site.Sql("SELECT count(*) FROM vcenter_hosts") == "12");
}

// A vCenter of eight hosts, its sync agent and one full sync behind it: what the failure tests
// below start from.
struct SyncedVcenter {
  sim::vcenter::Model model;
  sim::vcenter::Server server;
  std::string id;
  SyncedVcenter(Site& site, const char* address)
      : model([] {
          sim::vcenter::Estate e;
          e.hosts = 8;
          e.hosts_per_cluster = 4;
          e.vms_per_host = 2;
          return e;
        }()),
        server(model, address, 18449) {
    REQUIRE(server.Start().empty());
    site.StartAgent(DCOPS_VCENTER_SYNC, "vcenter-sync-a");
    REQUIRE(AgentsOnline(site, 1));
    id = site.AddEndpoint("vcenters", "vcenter", std::string(address) + ":18449", "sync@vsphere.local", "vc-pass",
                          server.fingerprint());
    auto first = site.Cli({"job", "create", "inventory.vcenter_sync", "--target", "vcenter:" + id, "--watch"});
    INFO(first.output);
    REQUIRE(first.exit_code == 0);
  }
};

TEST_CASE("The database away for 60 s while a sync applies: the failure is on record, the sync runs again, nothing lost",
          "[e2e][sync]") {
  SiteOptions o;
  o.bmcs = 1;
  o.first_bmc = "127.0.121.30";
  o.register_servers = false;
  Site site(o);
  SyncedVcenter vc(site, "127.0.121.3");
  vc.model.AddHost("domain-c1001", "NEWVC01");

  // The apply waits on a lock held here, so the outage starts while it is inside the database.
  db::DbOptions admin_options;
  admin_options.dsn = testing::Pg().admin_dsn;
  const auto at = admin_options.dsn.find("dbname=postgres");
  REQUIRE(at != std::string::npos);
  admin_options.dsn.replace(at, 15, "dbname=" + site.Sql("SELECT current_database()"));
  auto holder = db::Connection::Open(admin_options);
  REQUIRE(holder.ok());
  REQUIRE(holder->Exec("BEGIN").ok());
  REQUIRE(holder->Exec("LOCK TABLE public.vcenter_hosts IN SHARE MODE").ok());
  const std::string job = site.CreateJob("inventory.vcenter_sync", fmt::format(R"({{"vcenter_id":"{}"}})", vc.id), "{}");
  REQUIRE(WaitUntil([&] {
    return site.Sql("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'job-dispatcher:%' "
                    "AND wait_event_type = 'Lock' AND query LIKE '%apply_vcenter_sync%'") == "1";
  }, seconds(60)));
  // No new connections; the dispatcher's session (with the apply) ends first, then the rest.
  db::DbOptions server_admin;
  server_admin.dsn = testing::Pg().admin_dsn;
  auto admin = db::Connection::Open(server_admin);
  REQUIRE(admin.ok());
  testing::Exec(*admin, fmt::format("ALTER DATABASE \"{}\" ALLOW_CONNECTIONS false", site.Sql("SELECT current_database()")));
  CHECK(site.TerminateDispatcherSessions(0) >= 1);
  site.CutDatabase();
  const auto outage_ends = std::chrono::steady_clock::now() + seconds(60);
  const bool noticed = WaitUntil([&] { return site.Readyz(0) == "database unreachable\n"; }, seconds(30));
  WaitUntil([&] { return std::chrono::steady_clock::now() >= outage_ends; }, seconds(61));  // the outage itself
  site.RestoreDatabase();
  REQUIRE(noticed);

  const std::string status = site.WaitForJob(job, seconds(180));
  INFO(site.Sql("SELECT coalesce(string_agg(level || ': ' || message, ' | ' ORDER BY id), '') FROM job_events "
                "WHERE job_id = $1", {job}));
  REQUIRE(status == "succeeded");
  // The attempt that met the outage failed on record and the next one applied everything.
  CHECK(site.Sql("SELECT attempt FROM job_tasks WHERE job_id = $1", {job}) == "2");
  CHECK(site.Sql("SELECT count(*) > 0 FROM job_events WHERE job_id = $1 AND level IN ('warn', 'error') "
                 "AND message LIKE '%inventory.vcenter_sync%'", {job}) == "t");
  CHECK(Rows(site, kDbHosts) == ModelHosts(vc.model));
  CHECK(site.Sql("SELECT count(*) FROM inventory_staging") == "0");
  CHECK(site.Sql("SELECT last_sync_error IS NULL FROM vcenters") == "t");
}

TEST_CASE("A rotated credential is used by the next sync: a wrong one fails it, the right one is back at once",
          "[e2e][sync][secrets]") {
  SiteOptions o;
  o.bmcs = 1;
  o.first_bmc = "127.0.121.60";
  o.register_servers = false;
  Site site(o);
  SyncedVcenter vc(site, "127.0.121.4");
  // An operator rotates the stored password, wrongly: the agent's kept session must not hide it.
  auto wrong = site.Cli({"credentials", "set", "vcenter-lab", "--kind", "vcenter", "--user", "sync@vsphere.local",
                         "--password-stdin"}, "Ch4nged-Wrong\n");
  REQUIRE(wrong.exit_code == 0);
  auto refused = site.Cli({"job", "create", "inventory.vcenter_sync", "--target", "vcenter:" + vc.id, "--watch"});
  INFO(refused.output);
  CHECK(refused.exit_code != 0);
  CHECK(site.Sql("SELECT last_sync_error LIKE 'vsphere.invalid_login%' FROM vcenters") == "t");
  // Put right, the next sync logs in with it.
  auto right = site.Cli({"credentials", "set", "vcenter-lab", "--kind", "vcenter", "--user", "sync@vsphere.local",
                         "--password-stdin"}, "vc-pass\n");
  REQUIRE(right.exit_code == 0);
  auto again = site.Cli({"job", "create", "inventory.vcenter_sync", "--target", "vcenter:" + vc.id, "--watch"});
  INFO(again.output);
  CHECK(again.exit_code == 0);
  CHECK(site.Sql("SELECT t.result ->> 'mode' FROM job_tasks t ORDER BY t.created_at DESC LIMIT 1") == "full");
  CHECK(site.AllLogs().find("Ch4nged-Wrong") == std::string::npos);
}

// Tells `agent` to stop while `gate` holds its read, then lets the read go: the agent must
// finish its step, deliver it and exit cleanly.
void StopAgentMidRead(Process& agent, sim::RequestGate& gate) {
  REQUIRE(gate.WaitUntilHeld(seconds(60)));
  agent.Signal(SIGTERM);
  REQUIRE(WaitUntil([&] { return agent.Log().find("draining") != std::string::npos; }, seconds(30)));
  gate.Release();
  REQUIRE(WaitUntil([&] { return !agent.Running(); }, seconds(90)));
  CHECK(agent.exit_code() == 0);
  CHECK(agent.Log().find("drained") != std::string::npos);
}

TEST_CASE("A vCenter sync agent told to stop mid-sync finishes the sync and delivers it before it exits", "[e2e][sync]") {
  SiteOptions o;
  o.bmcs = 1;
  o.first_bmc = "127.0.121.90";
  o.register_servers = false;
  Site site(o);
  sim::vcenter::Estate estate;
  estate.hosts = 8;
  estate.hosts_per_cluster = 4;
  estate.vms_per_host = 40;  // 320 VMs: several pages at page_size 50
  sim::vcenter::Model model(estate);
  sim::vcenter::Server vcenter(model, "127.0.121.5", 18449);
  REQUIRE(vcenter.Start().empty());
  auto& agent = site.StartAgent(DCOPS_VCENTER_SYNC, "vcenter-sync-leaving");
  REQUIRE(AgentsOnline(site, 1));
  const std::string vc = site.AddEndpoint("vcenters", "vcenter", "127.0.121.5:18449", "sync@vsphere.local", "vc-pass",
                                          vcenter.fingerprint());
  vcenter.gate().HoldNext("WaitForUpdatesEx");  // the sync is inside its read when told to stop
  const std::string job = site.CreateJob("inventory.vcenter_sync", fmt::format(R"({{"vcenter_id":"{}"}})", vc),
                                         R"({"page_size":50})");
  StopAgentMidRead(agent, vcenter.gate());
  // One attempt, applied from this agent's batches (the agent is gone; nobody else could
  // have run it); no rescue.
  REQUIRE(site.WaitForJob(job, seconds(60)) == "succeeded");
  CHECK(site.Sql("SELECT status || ' ' || attempt FROM job_tasks WHERE job_id = $1", {job}) == "succeeded 1");
  CHECK(Rows(site, "SELECT moref FROM vcenter_vms") == ModelMorefs(model, "VirtualMachine"));
  CHECK(site.Sql("SELECT count(*) FROM inventory_staging") == "0");
}

TEST_CASE("An OME sync agent told to stop mid-sync finishes the sync and delivers it before it exits", "[e2e][sync]") {
  SiteOptions o;
  o.bmcs = 1;
  o.first_bmc = "127.0.121.120";
  o.register_servers = false;
  Site site(o);
  sim::ome::Options estate;
  estate.servers = 25;
  sim::ome::Model model(estate);
  sim::ome::Server ome(model, "127.0.121.6", 18448);
  REQUIRE(ome.Start().empty());
  auto& agent = site.StartAgent(DCOPS_OME_SYNC, "ome-sync-leaving");
  REQUIRE(AgentsOnline(site, 1));
  const std::string endpoint =
      site.AddEndpoint("ome_endpoints", "ome", "127.0.121.6:18448", "admin", estate.password, ome.fingerprint());
  ome.gate().HoldNext("devices page");  // a later page of the device list
  const std::string job = site.CreateJob("inventory.ome_sync", fmt::format(R"({{"ome_endpoint_id":"{}"}})", endpoint),
                                         R"({"page_size":10})");
  StopAgentMidRead(agent, ome.gate());
  REQUIRE(site.WaitForJob(job, seconds(60)) == "succeeded");
  CHECK(site.Sql("SELECT status || ' ' || attempt FROM job_tasks WHERE job_id = $1", {job}) == "succeeded 1");
  CHECK(Rows(site, "SELECT service_tag FROM servers WHERE source = 'ome'") == OmeServerTags(model));
  CHECK(site.Sql("SELECT count(*) FROM inventory_staging") == "0");
  CHECK(model.SessionCount() == 0);  // logged out on the way out
}

}  // namespace
}  // namespace dcops::e2e
