#pragma once
// Reads what the safety check needs about one cluster from vCenter: the cluster itself by its
// moref (HA, DRS, vSAN, rules, its hosts and datastores), its hosts and the VMs running on them
// (container views on the cluster), and the datastores the cluster lists (each with all its
// mounts, inside the cluster or not), in pages. Nothing about other clusters is read: the cost
// follows the cluster, not the vCenter.
//
// vCenter's own VM is found by its guest host name: the VM whose guest.hostName is the
// vCenter's name (or its short name). Several VMs matching are all marked: a guess between
// them would be an ambiguity resolved silently. An address that is an IP matches nothing.
//
// Blocking (the client's calls); one user of the client at a time.
#include <string>
#include <vector>

#include "dcops/vsphere/client.hpp"
#include "safety_check.hpp"

namespace dcops::esxi {

struct SafetyInputs {
  ClusterFacts cluster;
  std::vector<HostFacts> hosts;
  std::vector<VmFacts> vms;
  std::vector<DatastoreFacts> datastores;
  std::vector<std::string> vcenter_vms;  // morefs of the VMs taken for vCenter itself
};

// vsphere.not_found when the cluster is not in this vCenter; the client's errors otherwise.
Result<SafetyInputs> ReadSafetyInputs(vsphere::Client& vcenter, const std::string& cluster_moref,
                                      const std::string& vcenter_hostname);

// "vcsa-01.lab.local" matches "vcsa-01.lab.local" and "vcsa-01" (any case), and the other way.
bool SameHostName(const std::string& a, const std::string& b);

}  // namespace dcops::esxi
