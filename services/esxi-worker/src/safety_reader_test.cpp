// The safety check's facts read from the vCenter simulator over vim25 SOAP (HTTPS on
// loopback, pinned), and judged.
#include "safety_reader.hpp"

#include <catch2/catch.hpp>

#include "dcops/http/transport.hpp"
#include "vc_server.hpp"

namespace dcops::esxi {
namespace {

namespace vc = sim::vcenter;

TEST_CASE("A cluster's facts read from vCenter name each blocker of the host it runs on", "[safety][net]") {
  vc::Estate e;
  e.datacenters = 1;
  e.hosts = 5;  // a cluster of 4, 1 standalone
  e.hosts_per_cluster = 4;
  e.vms_per_host = 2;
  e.datastores = 2;
  vc::Model model(e);
  vc::Server server(model, "127.0.124.1", 18449);
  REQUIRE(server.Start().empty());

  std::string cluster, local_ds;
  std::vector<std::string> hosts;
  std::map<std::string, std::vector<std::string>> vms_on;  // host → VMs
  for (const auto& o : model.Objects("ClusterComputeResource")) cluster = o.moref;
  for (const auto& o : model.Objects("HostSystem")) {
    if (std::get<vc::Host>(o.body).cluster == cluster) hosts.push_back(o.moref);
  }
  for (const auto& o : model.Objects("VirtualMachine")) vms_on[std::get<vc::Vm>(o.body).host].push_back(o.moref);
  REQUIRE(hosts.size() == 4);
  REQUIRE(vms_on[hosts[0]].size() == 2);
  const auto ds = model.Objects("Datastore");
  REQUIRE(ds.size() >= 2);
  local_ds = ds[1].moref;
  const std::string first = hosts[0];
  const std::string vm_a = vms_on[first][0], vm_b = vms_on[first][1];
  model.Edit(local_ds, [&](vc::Object& o) { std::get<vc::Datastore>(o.body).hosts = {first}; });
  model.Edit(vm_a, [&](vc::Object& o) {
    auto& v = std::get<vc::Vm>(o.body);
    v.passthrough = 1;
    v.vgpu = 1;
    v.fault_tolerance = "running";
    v.media = {{"cdrom", "host_device", "", true}, {"floppy", "remote", "", false}};
    v.guest_hostname = "VCSA-01";
  });
  model.Edit(vm_b, [&](vc::Object& o) {
    auto& v = std::get<vc::Vm>(o.body);
    v.datastores = {local_ds};
    v.media = {{"cdrom", "file", local_ds, true}};
  });
  model.Edit(cluster, [&](vc::Object& o) {
    auto& c = std::get<vc::Cluster>(o.body);
    c.admission_policy = "resources_percent";
    c.current_memory_percent = 30;  // 70 % used of 4 hosts: under the 25 % reserve after one leaves
    c.drs_vm_behavior[vm_b] = "manual";
    c.rules.push_back({"pinned", true, true, {vm_b}, {first}, {}});
  });

  http::CurlTransport transport;
  http::Client http{http::ClientOptions{}, transport, SystemClock::Instance()};
  vsphere::Endpoint ep{"https://127.0.124.1:18449", "sync@vsphere.local", "vc-pass", {}};
  ep.tls.pinned_sha256 = server.fingerprint();
  vsphere::Client client(http, ep);
  REQUIRE(client.Login().ok());
  auto in = ReadSafetyInputs(client, cluster, "vcsa-01.lab.local");
  REQUIRE(in.ok());
  CHECK(in->hosts.size() == 4);  // the standalone host is not in the cluster's view
  CHECK(in->vms.size() == 8);
  CHECK(in->vcenter_vms == std::vector<std::string>{vm_a});
  CHECK(in->cluster.admission_policy == "resources_percent");
  CHECK(in->cluster.rules.size() == 1);

  const auto report = CheckSafety(in->cluster, in->hosts, in->vms, in->datastores, {first, hosts[1]}, SafetyOptions{});
  REQUIRE(report.verdicts.size() == 2);
  std::vector<std::string> kinds;
  for (const auto& b : report.verdicts[0].blockers) kinds.push_back(b.kind + ":" + (b.vm == vm_a ? "a" : b.vm == vm_b ? "b" : b.vm));
  CHECK(kinds == std::vector<std::string>{"passthrough:a", "fault_tolerance:a", "connected_media:a", "vcenter_vm:a",
                                          "local_storage:b", "vm_host_rule:b", "connected_media:b", "drs_manual:b"});
  CHECK(report.verdicts[0].capacity_problems ==
        std::vector<std::string>{"HA's memory reserve would fall to about 6% (configured 25%)"});
  CHECK(report.verdicts[1].blockers.empty());

  auto missing = ReadSafetyInputs(client, "domain-c999", "vcsa-01");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == "vsphere.not_found");
  client.Logout();
}

TEST_CASE("vCenter's own VM is matched by full or short host name, never by an address", "[safety]") {
  CHECK(SameHostName("vcsa-01.lab.local", "VCSA-01.lab.local"));
  CHECK(SameHostName("vcsa-01", "vcsa-01.lab.local"));
  CHECK_FALSE(SameHostName("vcsa-01.lab.local", "vcsa-01.other.local"));
  CHECK_FALSE(SameHostName("10.0.0.5", "10.0.0.5"));
  CHECK_FALSE(SameHostName("", "vcsa"));
}

}  // namespace
}  // namespace dcops::esxi
