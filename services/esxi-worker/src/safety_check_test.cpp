// The safety check's decision on facts alone: each blocker kind, each capacity rule, and
// hosts that are already out of service.
#include "safety_check.hpp"

#include <catch2/catch.hpp>

namespace dcops::esxi {
namespace {

// A four-host cluster with HA (tolerating one failure), DRS fully automated, one shared
// datastore and a local one on each host, one VM per host on shared storage.
struct Estate {
  ClusterFacts cluster;
  std::vector<HostFacts> hosts;
  std::vector<VmFacts> vms;
  std::vector<DatastoreFacts> datastores;
  Estate() {
    cluster.moref = "domain-c1";
    cluster.name = "prod";
    cluster.ha_enabled = cluster.admission_control = true;
    cluster.admission_policy = "failover_level";
    cluster.failover_level = 1;
    cluster.drs_enabled = true;
    DatastoreFacts shared{"datastore-1", "shared-vsan", {}};
    for (int i = 1; i <= 4; ++i) {
      const std::string h = "host-" + std::to_string(i);
      hosts.push_back({h, "esx" + std::to_string(i) + ".lab"});
      shared.mounted_on.insert(h);
      datastores.push_back({"datastore-local-" + std::to_string(i), "local-esx" + std::to_string(i), {h}});
      vms.push_back({"vm-" + std::to_string(i), "app-" + std::to_string(i), h});
      vms.back().datastores = {"datastore-1"};
    }
    datastores.push_back(shared);
  }
  SafetyReport Check(const std::vector<std::string>& asked = {"host-1"}, SafetyOptions o = {}) const {
    return CheckSafety(cluster, hosts, vms, datastores, asked, o);
  }
};

std::vector<std::string> Kinds(const HostVerdict& v) {
  std::vector<std::string> out;
  for (const auto& b : v.blockers) out.push_back(b.kind + ":" + b.vm);
  return out;
}

TEST_CASE("A healthy cluster lets any host enter maintenance", "[safety]") {
  Estate e;
  auto r = e.Check({});
  REQUIRE(r.verdicts.size() == 4);
  for (const auto& v : r.verdicts) {
    CHECK(v.can_enter_maintenance());
    CHECK(v.healthy_after == 3);
    CHECK(v.required == 2);  // failover level 1 + 1
  }
  CHECK(r.required_by == std::vector<std::string>{"HA tolerates 1 host failure(s)"});
}

TEST_CASE("Each kind of blocker is reported with the VM it concerns", "[safety]") {
  Estate e;
  e.vms.push_back({"vm-local", "db-local", "host-1"});
  e.vms.back().datastores = {"datastore-local-1"};
  e.vms.push_back({"vm-gpu", "render", "host-1"});
  e.vms.back().passthrough_devices = 1;
  e.vms.push_back({"vm-ft", "ledger", "host-1"});
  e.vms.back().fault_tolerance = "running";
  e.vms.push_back({"vm-iso", "installer", "host-1"});
  e.vms.back().removable = {{"cdrom", "file", "datastore-local-1", true}, {"floppy", "host_device", "", false}};
  e.vms.push_back({"vm-cd", "old", "host-1"});
  e.vms.back().removable = {{"cdrom", "host_device", "", true}};
  e.vms.push_back({"vm-manual", "pinned", "host-1"});
  e.cluster.drs_vm_behavior["vm-manual"] = "partiallyAutomated";
  e.vms.push_back({"vm-rule", "licensed", "host-1"});
  e.cluster.rules.push_back({"licence-on-esx1", true, true, {"vm-rule"}, {"host-1"}, {}});
  e.vms.push_back({"vm-vc", "vcenter", "host-1"});
  e.vms.back().is_vcenter = true;
  // Not blockers: a mandatory rule that allows other hosts, a soft rule, media not connected,
  // a powered-off VM on local storage when powered-off VMs stay, FT not configured.
  e.vms.push_back({"vm-soft", "soft", "host-1"});
  e.cluster.rules.push_back({"soft", true, false, {"vm-soft"}, {"host-1"}, {}});
  e.cluster.rules.push_back({"two-hosts", true, true, {"vm-2"}, {"host-1", "host-2"}, {}});
  e.vms.push_back({"vm-off", "stopped", "host-1", "poweredOff"});
  e.vms.back().datastores = {"datastore-local-1"};

  auto r = e.Check();
  REQUIRE(r.verdicts.size() == 1);
  const auto& v = r.verdicts[0];
  CHECK_FALSE(v.can_enter_maintenance());
  CHECK(Kinds(v) == std::vector<std::string>{"local_storage:vm-local", "passthrough:vm-gpu", "fault_tolerance:vm-ft",
                                             "connected_media:vm-iso", "connected_media:vm-cd", "drs_manual:vm-manual",
                                             "vm_host_rule:vm-rule", "vcenter_vm:vm-vc"});
  CHECK(v.blockers[0].vm_name == "db-local");
  CHECK(v.blockers[0].detail == "uses local-esx1, which no other usable host mounts");
  CHECK(v.blockers[6].detail == "mandatory VM-host rule(s) licence-on-esx1 leave it no other usable host");
  CHECK(v.capacity_problems.empty());

  // Evacuating powered-off VMs: the stopped one on local storage blocks too.
  auto evacuating = e.Check({"host-1"}, SafetyOptions{true, 0});
  CHECK(Kinds(evacuating.verdicts[0]).back() == "local_storage:vm-off");
}

TEST_CASE("Storage or rule hosts that are themselves out of service do not count as elsewhere", "[safety]") {
  Estate e;
  e.datastores.push_back({"datastore-pair", "pair", {"host-1", "host-2"}});
  e.vms[0].datastores = {"datastore-pair"};
  e.cluster.rules.push_back({"pair-only", true, true, {"vm-1"}, {"host-1", "host-2"}, {}});
  CHECK(e.Check().verdicts[0].can_enter_maintenance());
  e.hosts[1].in_maintenance = true;  // host-2 is away: vm-1 has nowhere to go
  auto v = e.Check().verdicts[0];
  CHECK(Kinds(v) == std::vector<std::string>{"local_storage:vm-1", "vm_host_rule:vm-1"});
  // An anti-affine rule counts the same way.
  Estate anti;
  anti.cluster.rules.push_back({"not-on-2-3-4", true, true, {"vm-1"}, {}, {"host-2", "host-3", "host-4"}});
  CHECK(Kinds(anti.Check().verdicts[0]) == std::vector<std::string>{"vm_host_rule:vm-1"});
}

TEST_CASE("DRS off or not fully automated blocks a host with VMs to move", "[safety]") {
  Estate e;
  e.cluster.drs_enabled = false;
  auto off = e.Check().verdicts[0];
  CHECK(Kinds(off) == std::vector<std::string>{"drs_disabled:"});
  CHECK(off.blockers[0].detail == "DRS is off: vCenter will not move the host's 1 VM(s)");
  e.vms[0].power_state = "poweredOff";  // nothing to move: nothing for DRS to do
  CHECK(e.Check().verdicts[0].can_enter_maintenance());
  e.vms[0].power_state = "poweredOn";
  e.cluster.drs_enabled = true;
  e.cluster.drs_behavior = "manual";
  e.cluster.drs_vm_behavior["vm-1"] = "fullyAutomated";  // its own override moves it anyway
  CHECK(e.Check().verdicts[0].can_enter_maintenance());
  e.cluster.drs_vm_behavior.clear();
  CHECK(Kinds(e.Check().verdicts[0]) == std::vector<std::string>{"drs_manual:vm-1"});
}

TEST_CASE("The cluster's minimum of usable hosts: HA failover level, vSAN, the job's floor", "[safety]") {
  Estate e;
  e.cluster.failover_level = 3;  // four hosts tolerating three failures: none may leave
  auto r = e.Check();
  CHECK(r.required == 4);
  REQUIRE(r.verdicts[0].capacity_problems.size() == 1);
  CHECK(r.verdicts[0].capacity_problems[0] == "3 usable host(s) would remain, 4 needed (HA tolerates 3 host failure(s))");
  e.cluster.failover_level = 1;
  e.cluster.vsan_enabled = true;
  e.hosts[3].connection_state = "notResponding";  // three usable: vSAN's 3 would not hold
  r = e.Check();
  CHECK(r.usable == 3);
  CHECK(r.disconnected == 1);
  CHECK(r.required == 3);
  CHECK_FALSE(r.verdicts[0].can_enter_maintenance());
  // The host that is already gone changes nothing by entering maintenance.
  auto gone = e.Check({"host-4"}).verdicts[0];
  CHECK_FALSE(gone.usable);
  CHECK(gone.healthy_after == 3);
  CHECK(gone.can_enter_maintenance());
  e.cluster.vsan_enabled = false;
  r = e.Check({"host-1"}, SafetyOptions{false, 3});
  CHECK(r.required_by == std::vector<std::string>{"the job asks for 3 healthy host(s)"});
  CHECK_FALSE(r.verdicts[0].can_enter_maintenance());
}

TEST_CASE("HA's other policies: dedicated failover hosts and a percentage reserve", "[safety]") {
  Estate e;
  e.cluster.admission_policy = "failover_hosts";
  e.cluster.failover_hosts = {"host-4"};
  auto r = e.Check({"host-1", "host-4"});
  CHECK(r.verdicts[0].can_enter_maintenance());
  CHECK(r.verdicts[1].capacity_problems == std::vector<std::string>{"this host is one of HA's dedicated failover hosts"});
  Estate p;
  p.cluster.admission_policy = "resources_percent";
  p.cluster.cpu_reserve_percent = p.cluster.memory_reserve_percent = 25;
  p.cluster.current_cpu_percent = 60;     // 40% used of 4 hosts: 53% of 3, 47% left
  p.cluster.current_memory_percent = 40;  // 60% used: 80% of 3, 20% left < 25%
  r = p.Check();
  CHECK(r.verdicts[0].capacity_problems == std::vector<std::string>{"HA's memory reserve would fall to about 20% (configured 25%)"});
}

TEST_CASE("A host the cluster does not have gets a verdict that says so", "[safety]") {
  Estate e;
  auto r = e.Check({"host-99"});
  REQUIRE(r.verdicts.size() == 1);
  CHECK_FALSE(r.verdicts[0].can_enter_maintenance());
  CHECK(r.verdicts[0].capacity_problems[0] == "host-99 is not a host of cluster prod");
}

}  // namespace
}  // namespace dcops::esxi
