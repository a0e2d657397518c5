// cluster.safety_check end to end: the real dispatcher, vcenter-sync and esxi-worker as
// processes, the vCenter simulator, PostgreSQL with the real migrations. The cluster comes
// into the inventory by a sync; the check is created through the CLI on that cluster.
#include <catch2/catch.hpp>

#include "site.hpp"
#include "vc_server.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;

TEST_CASE("A safety check on a synced cluster reports each host's blockers through the CLI", "[e2e][esxi]") {
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
  std::string cluster_moref, first_host, gpu_vm;
  for (const auto& c : model.Objects("ClusterComputeResource")) cluster_moref = c.moref;
  for (const auto& h : model.Objects("HostSystem")) {
    if (first_host.empty()) first_host = h.moref;
  }
  for (const auto& v : model.Objects("VirtualMachine")) {
    if (gpu_vm.empty() && std::get<sim::vcenter::Vm>(v.body).host == first_host) gpu_vm = v.moref;
  }
  model.Edit(gpu_vm, [](sim::vcenter::Object& vm) { std::get<sim::vcenter::Vm>(vm.body).vgpu = 1; });

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
  // The other hosts may leave: four usable, three needed.
  CHECK(site.Sql("SELECT count(*) FROM jsonb_array_elements(" + result + " -> 'verdicts') v "
                 "WHERE (v ->> 'can_enter_maintenance')::boolean") == "3");
  CHECK(site.Sql("SELECT target FROM job_tasks WHERE step_kind = 'cluster.safety_check'") == "cluster:" + cluster);
  CHECK(model.SessionCount() <= 1);  // vcenter-sync keeps its own session; the check logged out

  // A cluster the inventory does not have is refused when the job is created.
  auto unknown = site.Cli({"job", "create", "cluster.safety_check", "--target", "cluster:00000000-0000-0000-0000-000000000000"});
  CHECK(unknown.exit_code != 0);
  CHECK(unknown.output.find("cluster_id") != std::string::npos);
}

}  // namespace
}  // namespace dcops::e2e
