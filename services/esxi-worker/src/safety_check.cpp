#include "safety_check.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace dcops::esxi {
namespace {

bool Usable(const HostFacts& h) {
  return h.connection_state == "connected" && h.power_state == "poweredOn" && !h.in_maintenance;
}

bool FaultTolerant(const std::string& state) {
  return state == "enabled" || state == "running" || state == "starting" || state == "needSecondary";
}

// The minimum of usable hosts the cluster must keep, and what sets it.
std::pair<int, std::vector<std::string>> Required(const ClusterFacts& c, const SafetyOptions& o) {
  int required = 1;
  std::vector<std::string> why;
  auto raise = [&](int n, std::string reason) {
    if (n > required) {
      required = n;
      why.clear();
    }
    if (n == required) why.push_back(std::move(reason));
  };
  if (c.ha_enabled && c.admission_control) {
    if (c.admission_policy == "failover_level" && c.failover_level > 0) {
      raise(c.failover_level + 1, fmt::format("HA tolerates {} host failure(s)", c.failover_level));
    } else if (c.admission_policy == "failover_hosts" && !c.failover_hosts.empty()) {
      raise(static_cast<int>(c.failover_hosts.size()) + 1,
            fmt::format("HA keeps {} dedicated failover host(s)", c.failover_hosts.size()));
    } else if (c.admission_policy == "resources_percent") {
      raise(2, "HA reserves a share of the cluster for failover");
    }
  }
  if (c.vsan_enabled) raise(3, "vSAN needs 3 hosts to keep objects with one failure tolerated");
  if (o.min_healthy_hosts > 0) raise(o.min_healthy_hosts, fmt::format("the job asks for {} healthy host(s)", o.min_healthy_hosts));
  if (why.empty()) why.push_back("one host must stay to run the VMs");
  return {required, why};
}

// HA's percentage reserve once one of `usable` equal hosts leaves: the used share stays, the
// capacity shrinks by one host: after = 1 - (1 - now) * n / (n - 1).
int ReserveAfter(int now_percent, int usable) {
  if (now_percent < 0 || usable < 2) return -1;
  const double after = 100.0 - (100.0 - now_percent) * usable / (usable - 1);
  return static_cast<int>(after < 0 ? 0 : after);
}

class Judge {
 public:
  Judge(const ClusterFacts& c, const std::vector<HostFacts>& hosts, const std::vector<VmFacts>& vms,
        const std::vector<DatastoreFacts>& datastores, const SafetyOptions& o)
      : c_(c), vms_(vms), o_(o) {
    for (const auto& h : hosts) {
      if (Usable(h)) usable_.insert(h.moref);
    }
    for (const auto& d : datastores) datastores_.emplace(d.moref, &d);
  }

  const std::set<std::string>& usable() const { return usable_; }

  std::vector<Blocker> Blockers(const HostFacts& h) const {
    std::vector<Blocker> out;
    int to_move = 0;
    for (const auto& vm : vms_) {
      if (vm.host != h.moref) continue;
      const bool on = vm.power_state == "poweredOn" || vm.power_state == "suspended";
      if (!on && !o_.evacuate_powered_off) continue;
      ++to_move;
      auto add = [&](const char* kind, std::string detail) { out.push_back({kind, vm.moref, vm.name, std::move(detail)}); };
      for (const auto& ds : vm.datastores) {
        if (OnlyHere(ds, h.moref)) add("local_storage", fmt::format("uses {}, which no other usable host mounts", DatastoreName(ds)));
      }
      if (!RuleAllowsElsewhere(vm, h.moref)) add("vm_host_rule", RuleDetail(vm));
      if (!on) continue;
      if (vm.passthrough_devices > 0) {
        add("passthrough", fmt::format("{} PCI passthrough or vGPU device(s) attached", vm.passthrough_devices));
      }
      if (FaultTolerant(vm.fault_tolerance)) add("fault_tolerance", "Fault Tolerance is " + vm.fault_tolerance);
      for (const auto& d : vm.removable) {
        if (!d.connected) continue;
        if (d.backing == "host_device") add("connected_media", fmt::format("a {} backed by a device of this host is connected", d.kind));
        if (d.backing == "file" && OnlyHere(d.file_datastore, h.moref)) {
          add("connected_media", fmt::format("a {} image on {} (this host only) is connected", d.kind, DatastoreName(d.file_datastore)));
        }
      }
      if (c_.drs_enabled) {
        const auto override_it = c_.drs_vm_behavior.find(vm.moref);
        const std::string behavior = override_it != c_.drs_vm_behavior.end() ? override_it->second : c_.drs_behavior;
        if (behavior != "fullyAutomated") {
          add("drs_manual", fmt::format("DRS is {} for this VM{}: vCenter will not move it by itself", behavior,
                                        override_it != c_.drs_vm_behavior.end() ? " (its own override)" : ""));
        }
      }
      if (vm.is_vcenter) add("vcenter_vm", "this VM is the vCenter doing the work; move it first");
    }
    if (!c_.drs_enabled && to_move > 0) {
      out.insert(out.begin(), Blocker{"drs_disabled", "", "", fmt::format("DRS is off: vCenter will not move the host's {} VM(s)", to_move)});
    }
    return out;
  }

 private:
  // The datastore is mounted on `host` and on no other usable host.
  bool OnlyHere(const std::string& ds, const std::string& host) const {
    auto it = datastores_.find(ds);
    if (it == datastores_.end()) return false;  // not known: not evidence of local storage
    return std::none_of(it->second->mounted_on.begin(), it->second->mounted_on.end(),
                        [&](const std::string& h) { return h != host && usable_.count(h) > 0; });
  }

  std::string DatastoreName(const std::string& ds) const {
    auto it = datastores_.find(ds);
    return it == datastores_.end() || it->second->name.empty() ? ds : it->second->name;
  }

  // Every enabled mandatory rule naming the VM allows it some other usable host.
  bool RuleAllowsElsewhere(const VmFacts& vm, const std::string& host) const {
    for (const auto& r : c_.rules) {
      if (!r.enabled || !r.mandatory || r.vms.count(vm.moref) == 0) continue;
      const bool somewhere = std::any_of(usable_.begin(), usable_.end(), [&](const std::string& h) {
        return h != host && (r.affine_hosts.empty() || r.affine_hosts.count(h) > 0) && r.anti_affine_hosts.count(h) == 0;
      });
      if (!somewhere) return false;
    }
    return true;
  }

  std::string RuleDetail(const VmFacts& vm) const {
    std::vector<std::string> names;
    for (const auto& r : c_.rules) {
      if (r.enabled && r.mandatory && r.vms.count(vm.moref) > 0) names.push_back(r.name);
    }
    return fmt::format("mandatory VM-host rule(s) {} leave it no other usable host", fmt::join(names, ", "));
  }

  const ClusterFacts& c_;
  const std::vector<VmFacts>& vms_;
  const SafetyOptions& o_;
  std::set<std::string> usable_;
  std::map<std::string, const DatastoreFacts*> datastores_;
};

}  // namespace

SafetyReport CheckSafety(const ClusterFacts& cluster, const std::vector<HostFacts>& hosts, const std::vector<VmFacts>& vms,
                         const std::vector<DatastoreFacts>& datastores, const std::vector<std::string>& hosts_asked,
                         const SafetyOptions& options) {
  const Judge judge(cluster, hosts, vms, datastores, options);
  SafetyReport report;
  report.hosts = static_cast<int>(hosts.size());
  report.usable = static_cast<int>(judge.usable().size());
  for (const auto& h : hosts) {
    if (h.in_maintenance) ++report.in_maintenance;
    if (h.connection_state != "connected") ++report.disconnected;
  }
  std::tie(report.required, report.required_by) = Required(cluster, options);

  std::vector<std::string> asked = hosts_asked;
  if (asked.empty()) {
    for (const auto& h : hosts) asked.push_back(h.moref);
  }
  for (const auto& moref : asked) {
    HostVerdict v;
    v.moref = moref;
    v.required = report.required;
    auto it = std::find_if(hosts.begin(), hosts.end(), [&](const HostFacts& h) { return h.moref == moref; });
    if (it == hosts.end()) {
      v.capacity_problems.push_back(fmt::format("{} is not a host of cluster {}", moref, cluster.name));
      report.verdicts.push_back(std::move(v));
      continue;
    }
    v.name = it->name;
    v.usable = Usable(*it);
    // A host already out of service changes nothing by entering maintenance.
    v.healthy_after = report.usable - (v.usable ? 1 : 0);
    if (v.usable) v.blockers = judge.Blockers(*it);
    if (v.healthy_after < report.required) {
      v.capacity_problems.push_back(fmt::format("{} usable host(s) would remain, {} needed ({})", v.healthy_after,
                                                report.required, fmt::join(report.required_by, "; ")));
    }
    if (cluster.ha_enabled && cluster.admission_control && cluster.admission_policy == "failover_hosts" &&
        cluster.failover_hosts.count(moref) > 0 && v.usable) {
      v.capacity_problems.push_back("this host is one of HA's dedicated failover hosts");
    }
    if (cluster.ha_enabled && cluster.admission_control && cluster.admission_policy == "resources_percent" && v.usable) {
      const int cpu = ReserveAfter(cluster.current_cpu_percent, report.usable);
      const int mem = ReserveAfter(cluster.current_memory_percent, report.usable);
      if (cpu >= 0 && cpu < cluster.cpu_reserve_percent) {
        v.capacity_problems.push_back(fmt::format("HA's CPU reserve would fall to about {}% (configured {}%)", cpu,
                                                  cluster.cpu_reserve_percent));
      }
      if (mem >= 0 && mem < cluster.memory_reserve_percent) {
        v.capacity_problems.push_back(fmt::format("HA's memory reserve would fall to about {}% (configured {}%)", mem,
                                                  cluster.memory_reserve_percent));
      }
    }
    report.verdicts.push_back(std::move(v));
  }
  return report;
}

}  // namespace dcops::esxi
