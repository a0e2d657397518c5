#pragma once
// cluster.safety_check, the decision: given what vCenter says about a cluster (its HA, DRS and
// vSAN configuration, its hosts, VMs and datastores), what would stop each host from entering
// maintenance, and would the cluster keep its minimum of healthy hosts without it?
//
// The facts use vim25's names and values (ClusterConfigInfoEx, HostSystem.runtime,
// VirtualMachine.runtime/config, Datastore.host); reading them from vCenter is the caller's
// job (the vSphere reader), so this decides without a network and is tested on facts alone.
//
// Blockers of a host H (each names the VM and why):
// - local_storage: a VM on H uses a datastore no other usable host of the cluster mounts;
// - passthrough: a PCI passthrough or vGPU device (VirtualPCIPassthrough) is attached;
// - fault_tolerance: the VM is a Fault Tolerance primary or secondary (runtime state
//   enabled, running, starting or needSecondary);
// - connected_media: a CD-ROM or floppy is connected and backed by a device of H or a file on
//   a datastore only H mounts;
// - drs_disabled (when the host has VMs to move) / drs_manual: DRS is off, or is not fully
//   automated for the cluster or by the VM's own override (DRS will not move it);
// - vm_host_rule: an enabled mandatory VM-host rule leaves the VM no other usable host;
// - vcenter_vm: the VM is this vCenter itself (moving it drops the session doing the work).
// Powered-off VMs block only where the caller will evacuate them (`evacuate_powered_off`):
// local storage and rules; the rest concern running VMs.
// A usable host is connected, powered on and not in (or entering) maintenance.
//
// Capacity: healthy hosts now and after H leaves, against the cluster's minimum: HA admission
// control's failover level (or the dedicated failover hosts' count, which H must not be one
// of) + 1, the percentage policy's reserve estimated after losing H (assuming hosts of equal
// size), vSAN's 3 hosts, and the caller's own `min_healthy_hosts`.
//
// Pure; thread-safe.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dcops::esxi {

struct HostFacts {
  std::string moref{}, name{};
  std::string connection_state = "connected";  // HostSystem.runtime.connectionState
  std::string power_state = "poweredOn";       // HostSystem.runtime.powerState
  bool in_maintenance = false;                 // runtime.inMaintenanceMode
};

struct DatastoreFacts {
  std::string moref{}, name{};
  std::set<std::string> mounted_on{};  // host morefs whose mountInfo is mounted and accessible
};

struct RemovableDevice {
  std::string kind{};     // "cdrom" or "floppy"
  std::string backing{};  // "host_device", "file", "remote", "none"
  std::string file_datastore{};  // with backing "file": the datastore moref of the image
  bool connected = false;      // connectable.connected
};

struct VmFacts {
  std::string moref{}, name{}, host{};  // host: runtime.host
  std::string power_state = "poweredOn"; // runtime.powerState
  std::vector<std::string> datastores{};   // VirtualMachine.datastore
  int passthrough_devices = 0;           // VirtualPCIPassthrough (incl. vGPU)
  std::string fault_tolerance = "notConfigured";  // runtime.faultToleranceState
  std::vector<RemovableDevice> removable{};
  bool is_vcenter = false;  // this vCenter's own VM (matched by the caller)
};

struct VmHostRule {
  std::string name{};
  bool enabled = true, mandatory = false;
  std::set<std::string> vms{};             // the VM group's members
  std::set<std::string> affine_hosts{};    // may run only here (empty: no affine group)
  std::set<std::string> anti_affine_hosts{};  // must not run here
};

struct ClusterFacts {
  std::string moref{}, name{};
  bool ha_enabled = false;
  bool admission_control = false;  // dasConfig.admissionControlEnabled
  // The admission control policy's type: "failover_level", "resources_percent",
  // "failover_hosts", or "" (none or unknown).
  std::string admission_policy{};
  int failover_level = 0;                  // failover_level and failover_hosts policies
  int cpu_reserve_percent = 0, memory_reserve_percent = 0;  // resources_percent
  int current_cpu_percent = -1, current_memory_percent = -1;  // summary.admissionControlInfo
  std::set<std::string> failover_hosts{};    // failover_hosts policy
  bool drs_enabled = false;
  std::string drs_behavior = "fullyAutomated";  // drsConfig.defaultVmBehavior
  std::map<std::string, std::string> drs_vm_behavior{};  // VM moref → override ("disabled" when off)
  bool vsan_enabled = false;
  std::vector<VmHostRule> rules{};
};

struct Blocker {
  std::string kind{}, vm{}, vm_name{}, detail{};
};

struct HostVerdict {
  std::string moref{}, name{};
  bool usable = false;             // connected, on, not in maintenance
  std::vector<Blocker> blockers{};
  int healthy_after = 0;           // usable hosts once this one leaves
  int required = 0;                // the cluster's minimum of usable hosts
  std::vector<std::string> capacity_problems{};  // why `healthy_after` or HA's reserve falls short
  bool can_enter_maintenance() const { return blockers.empty() && capacity_problems.empty(); }
};

struct SafetyReport {
  int hosts = 0, usable = 0, in_maintenance = 0, disconnected = 0;
  int required = 0;  // minimum usable hosts, and what set it
  std::vector<std::string> required_by{};
  std::vector<HostVerdict> verdicts{};  // one per host asked about, in the order asked
};

struct SafetyOptions {
  bool evacuate_powered_off = false;
  int min_healthy_hosts = 0;  // the operator's own floor (0: none)
};

// `hosts_asked`: host morefs to judge (empty: every host of the cluster). A host that is not
// in `hosts` gets a verdict with a capacity problem naming it unknown.
SafetyReport CheckSafety(const ClusterFacts& cluster, const std::vector<HostFacts>& hosts, const std::vector<VmFacts>& vms,
                         const std::vector<DatastoreFacts>& datastores, const std::vector<std::string>& hosts_asked,
                         const SafetyOptions& options);

}  // namespace dcops::esxi
