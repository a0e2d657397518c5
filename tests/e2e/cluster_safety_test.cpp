// cluster.safety_check end to end: the real dispatcher, vcenter-sync and esxi-worker as
// processes, the vCenter simulator, PostgreSQL with the real migrations. The cluster comes
// into the inventory by a sync; the check is created through the CLI on that cluster.
#include <catch2/catch.hpp>

#include <functional>
#include <map>

#include "site.hpp"
#include "vc_server.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;

TEST_CASE("A safety check on a synced cluster reports each kind of blocker on its host through the CLI", "[e2e][esxi]") {
  SiteOptions o;
  o.bmcs = 1;
  o.first_bmc = "127.0.125.30";
  o.register_servers = false;
  Site site(o);
  sim::vcenter::Estate estate;
  estate.datacenters = 1;
  estate.hosts = 4;
  estate.hosts_per_cluster = 4;
  estate.standalone_hosts = 0;
  estate.vms_per_host = 2;
  estate.datastores = 2;
  sim::vcenter::Model model(estate);
  sim::vcenter::Server vcenter(model, "127.0.125.1", 18452);
  REQUIRE(vcenter.Start().empty());
  namespace vcs = sim::vcenter;
  std::string cluster_moref;
  for (const auto& c : model.Objects("ClusterComputeResource")) cluster_moref = c.moref;
  std::vector<std::string> hosts;
  for (const auto& h : model.Objects("HostSystem")) hosts.push_back(h.moref);
  std::map<std::string, std::vector<std::string>> vms;  // host → its VMs
  for (const auto& v : model.Objects("VirtualMachine")) vms[std::get<vcs::Vm>(v.body).host].push_back(v.moref);
  REQUIRE(hosts.size() == 4);
  auto vm = [&](const std::string& moref, const std::function<void(vcs::Vm&)>& fn) {
    model.Edit(moref, [&](vcs::Object& o) { fn(std::get<vcs::Vm>(o.body)); });
  };
  // One blocker of each kind vCenter's inventory shows, two per host.
  const std::string gpu_vm = vms[hosts[0]][0];
  vm(gpu_vm, [](vcs::Vm& v) { v.vgpu = 1; });
  vm(vms[hosts[0]][1], [](vcs::Vm& v) { v.fault_tolerance = "running"; });
  vm(vms[hosts[1]][0], [](vcs::Vm& v) { v.media = {{"cdrom", "host_device", "", true}}; });
  const std::string local_ds = model.Objects("Datastore").back().moref;
  model.Edit(local_ds, [&](vcs::Object& o) { std::get<vcs::Datastore>(o.body).hosts = {hosts[2]}; });
  vm(vms[hosts[2]][0], [&](vcs::Vm& v) { v.datastores = {local_ds}; });
  model.Edit(cluster_moref, [&](vcs::Object& o) {
    auto& c = std::get<vcs::Cluster>(o.body);
    c.drs_vm_behavior[vms[hosts[1]][1]] = "manual";
    c.rules.push_back({"pinned", true, true, {vms[hosts[3]][0]}, {hosts[3]}, {}});
  });

  site.StartAgent(DCOPS_VCENTER_SYNC, "vcenter-sync-a");
  site.StartAgent(DCOPS_ESXI_WORKER, "esxi-worker-a");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "2"; }, seconds(30)));
  const std::string vc = site.AddEndpoint("vcenters", "vcenter", "127.0.125.1:18452", "sync@vsphere.local", "vc-pass",
                                          vcenter.fingerprint());
  auto sync = site.Cli({"job", "create", "inventory.vcenter_sync", "--target", "vcenter:" + vc, "--watch"});
  INFO(sync.output);
  REQUIRE(sync.exit_code == 0);
  const std::string cluster = site.Sql("SELECT id FROM vcenter_clusters WHERE moref = '" + cluster_moref + "'");
  REQUIRE(cluster.size() == 36);

  auto check = site.Cli({"job", "create", "cluster.safety_check", "--target", "cluster:" + cluster, "--param",
                         "min_hosts_up=3", "--watch"});
  INFO(check.output);
  REQUIRE(check.exit_code == 0);  // a check that ran succeeded, whatever it found
  CHECK(check.output.find("cannot enter maintenance: passthrough") != std::string::npos);
  const std::string result = "(SELECT result FROM job_tasks WHERE step_kind = 'cluster.safety_check')";
  CHECK(site.Sql("SELECT " + result + " ->> 'safe'") == "false");
  CHECK(site.Sql("SELECT jsonb_array_length(" + result + " -> 'verdicts')") == "4");
  CHECK(site.Sql("SELECT " + result + " #>> '{verdicts,0,blockers,0,vm}'") == gpu_vm);
  CHECK(site.Sql("SELECT " + result + " -> 'required'") == "3");
  // Every kind planted, each on the host it was planted on; every host blocked.
  CHECK(site.Sql("SELECT string_agg(DISTINCT b ->> 'kind', ',' ORDER BY b ->> 'kind') FROM jsonb_array_elements(" + result +
                 " -> 'verdicts') v, jsonb_array_elements(v -> 'blockers') b") ==
        "connected_media,drs_manual,fault_tolerance,local_storage,passthrough,vm_host_rule");
  CHECK(site.Sql("SELECT string_agg(v ->> 'host' || ':' || (SELECT string_agg(DISTINCT b ->> 'kind', '+' ORDER BY b ->> 'kind') "
                 "FROM jsonb_array_elements(v -> 'blockers') b), ',' ORDER BY v ->> 'host') FROM jsonb_array_elements(" + result +
                 " -> 'verdicts') v") ==
        hosts[0] + ":fault_tolerance+passthrough," + hosts[1] + ":connected_media+drs_manual," + hosts[2] + ":local_storage," +
            hosts[3] + ":vm_host_rule");
  CHECK(site.Sql("SELECT count(*) FROM jsonb_array_elements(" + result + " -> 'verdicts') v "
                 "WHERE (v ->> 'can_enter_maintenance')::boolean") == "0");
  CHECK(site.Sql("SELECT target FROM job_tasks WHERE step_kind = 'cluster.safety_check'") == "cluster:" + cluster);
  CHECK(model.SessionCount() <= 1);  // vcenter-sync keeps its own session; the check logged out

  // A cluster the inventory does not have is refused when the job is created.
  auto unknown = site.Cli({"job", "create", "cluster.safety_check", "--target", "cluster:00000000-0000-0000-0000-000000000000"});
  CHECK(unknown.exit_code != 0);
  CHECK(unknown.output.find("cluster_id") != std::string::npos);
}

}  // namespace
}  // namespace dcops::e2e
