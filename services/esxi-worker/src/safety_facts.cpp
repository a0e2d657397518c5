#include "safety_facts.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>

namespace dcops::esxi {
namespace {

using vsphere::Child;
using vsphere::Children;
using vsphere::XsiType;

std::string Text(const pugi::xml_node& n) { return vsphere::TrimmedText(n); }

bool Flag(const pugi::xml_node& n) { return Text(n) == "true"; }

int Number(const pugi::xml_node& n) {
  const std::string t = Text(n);
  if (t.empty()) return -1;
  char* end = nullptr;
  const long v = std::strtol(t.c_str(), &end, 10);
  return *end == '\0' && v >= 0 && v < 1000000 ? static_cast<int>(v) : -1;
}

pugi::xml_node Prop(const vsphere::ObjectContent& o, const char* name) {
  auto it = o.props.find(name);
  return it == o.props.end() ? pugi::xml_node() : it->second;
}

std::vector<std::string> Refs(const pugi::xml_node& parent, const char* element) {
  std::vector<std::string> out;
  for (const auto& r : Children(parent, element)) {
    if (auto t = Text(r); !t.empty()) out.push_back(t);
  }
  return out;
}

std::set<std::string> RefSet(const pugi::xml_node& parent, const char* element) {
  auto v = Refs(parent, element);
  return {v.begin(), v.end()};
}

void ReadAdmissionControl(const pugi::xml_node& das, ClusterFacts& c) {
  c.ha_enabled = Flag(Child(das, "enabled"));
  c.admission_control = Flag(Child(das, "admissionControlEnabled"));
  const auto policy = Child(das, "admissionControlPolicy");
  const std::string type = XsiType(policy).value_or("");
  if (type == "ClusterFailoverLevelAdmissionControlPolicy") {
    c.admission_policy = "failover_level";
  } else if (type == "ClusterFailoverResourcesAdmissionControlPolicy") {
    c.admission_policy = "resources_percent";
    c.cpu_reserve_percent = std::max(0, Number(Child(policy, "cpuFailoverResourcesPercent")));
    c.memory_reserve_percent = std::max(0, Number(Child(policy, "memoryFailoverResourcesPercent")));
  } else if (type == "ClusterFailoverHostAdmissionControlPolicy") {
    c.admission_policy = "failover_hosts";
    c.failover_hosts = RefSet(policy, "failoverHosts");
  }
  c.failover_level = std::max(0, Number(Child(policy, "failoverLevel")));
}

void ReadRules(const pugi::xml_node& config, ClusterFacts& c) {
  std::map<std::string, std::set<std::string>> vm_groups, host_groups;
  for (const auto& g : Children(config, "group")) {
    const std::string type = XsiType(g).value_or("");
    const std::string name = Text(Child(g, "name"));
    if (type == "ClusterVmGroup") vm_groups[name] = RefSet(g, "vm");
    if (type == "ClusterHostGroup") host_groups[name] = RefSet(g, "host");
  }
  for (const auto& r : Children(config, "rule")) {
    if (XsiType(r).value_or("") != "ClusterVmHostRuleInfo") continue;  // VM-VM rules do not pin to hosts
    VmHostRule rule;
    rule.name = Text(Child(r, "name"));
    rule.enabled = Flag(Child(r, "enabled"));
    rule.mandatory = Flag(Child(r, "mandatory"));
    rule.vms = vm_groups[Text(Child(r, "vmGroupName"))];
    if (auto affine = Text(Child(r, "affineHostGroupName")); !affine.empty()) rule.affine_hosts = host_groups[affine];
    if (auto anti = Text(Child(r, "antiAffineHostGroupName")); !anti.empty()) rule.anti_affine_hosts = host_groups[anti];
    c.rules.push_back(std::move(rule));
  }
}

}  // namespace

ClusterFacts ReadCluster(const vsphere::ObjectContent& o, std::vector<std::string>* hosts) {
  ClusterFacts c;
  c.moref = o.obj.value;
  c.name = Text(Prop(o, "name"));
  const auto config = Prop(o, "configurationEx");
  ReadAdmissionControl(Child(config, "dasConfig"), c);
  const auto drs = Child(config, "drsConfig");
  c.drs_enabled = Flag(Child(drs, "enabled"));
  if (auto behavior = Text(Child(drs, "defaultVmBehavior")); !behavior.empty()) c.drs_behavior = behavior;
  for (const auto& vm : Children(config, "drsVmConfig")) {
    const std::string key = Text(Child(vm, "key"));
    if (key.empty()) continue;
    const auto enabled = Child(vm, "enabled");
    const std::string behavior = Text(Child(vm, "behavior"));
    if (enabled && !Flag(enabled)) {
      c.drs_vm_behavior[key] = "disabled";
    } else if (!behavior.empty()) {
      c.drs_vm_behavior[key] = behavior;
    }
  }
  c.vsan_enabled = Flag(Child(Child(config, "vsanConfigInfo"), "enabled"));
  ReadRules(config, c);
  const auto info = Child(Prop(o, "summary"), "admissionControlInfo");
  if (XsiType(info).value_or("") == "ClusterFailoverResourcesAdmissionControlInfo") {
    c.current_cpu_percent = Number(Child(info, "currentCpuFailoverResourcesPercent"));
    c.current_memory_percent = Number(Child(info, "currentMemoryFailoverResourcesPercent"));
  }
  if (hosts != nullptr) *hosts = Refs(Prop(o, "host"), "ManagedObjectReference");
  return c;
}

HostFacts ReadHost(const vsphere::ObjectContent& o) {
  HostFacts h;
  h.moref = o.obj.value;
  h.name = Text(Prop(o, "name"));
  if (auto s = Text(Prop(o, "runtime.connectionState")); !s.empty()) h.connection_state = s;
  if (auto s = Text(Prop(o, "runtime.powerState")); !s.empty()) h.power_state = s;
  h.in_maintenance = Flag(Prop(o, "runtime.inMaintenanceMode"));
  return h;
}

DatastoreFacts ReadDatastore(const vsphere::ObjectContent& o) {
  DatastoreFacts d;
  d.moref = o.obj.value;
  d.name = Text(Prop(o, "name"));
  for (const auto& mount : Children(Prop(o, "host"), "DatastoreHostMount")) {
    const auto info = Child(mount, "mountInfo");
    // `mounted` and `accessible` are optional: absent means vCenter does not say no.
    const auto mounted = Child(info, "mounted");
    const auto accessible = Child(info, "accessible");
    if ((mounted && !Flag(mounted)) || (accessible && !Flag(accessible))) continue;
    if (auto key = Text(Child(mount, "key")); !key.empty()) d.mounted_on.insert(key);
  }
  return d;
}

VmFacts ReadVm(const vsphere::ObjectContent& o, std::string* guest_hostname, std::string* instance_uuid) {
  VmFacts v;
  v.moref = o.obj.value;
  v.name = Text(Prop(o, "name"));
  v.host = Text(Prop(o, "runtime.host"));
  if (auto s = Text(Prop(o, "runtime.powerState")); !s.empty()) v.power_state = s;
  if (auto s = Text(Prop(o, "runtime.faultToleranceState")); !s.empty()) v.fault_tolerance = s;
  v.datastores = Refs(Prop(o, "datastore"), "ManagedObjectReference");
  for (const auto& device : Children(Prop(o, "config.hardware.device"), "VirtualDevice")) {
    const std::string type = XsiType(device).value_or("");
    if (type == "VirtualPCIPassthrough") {
      ++v.passthrough_devices;
      continue;
    }
    if (type != "VirtualCdrom" && type != "VirtualFloppy") continue;
    RemovableDevice d;
    d.kind = type == "VirtualCdrom" ? "cdrom" : "floppy";
    const auto backing = Child(device, "backing");
    const std::string b = XsiType(backing).value_or("");
    if (b.find("Remote") != std::string::npos) {
      d.backing = "remote";
    } else if (b == "VirtualCdromIsoBackingInfo" || b == "VirtualFloppyImageBackingInfo") {
      d.backing = "file";
      d.file_datastore = Text(Child(backing, "datastore"));
    } else if (b == "VirtualCdromAtapiBackingInfo" || b == "VirtualCdromPassthroughBackingInfo" ||
               b == "VirtualFloppyDeviceBackingInfo") {
      d.backing = "host_device";
    } else {
      d.backing = "none";
    }
    d.connected = Flag(Child(Child(device, "connectable"), "connected"));
    v.removable.push_back(std::move(d));
  }
  if (guest_hostname != nullptr) *guest_hostname = Text(Prop(o, "guest.hostName"));
  if (instance_uuid != nullptr) *instance_uuid = Text(Prop(o, "config.instanceUuid"));
  return v;
}

}  // namespace dcops::esxi
