#include "vc_properties.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

namespace dcops::sim::vcenter {
namespace {

std::string Esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Val(const std::string& xsi, const std::string& type, const std::string& inner) {
  return fmt::format(R"(<val {}:type="{}">{}</val>)", xsi, type, inner);
}
std::string Text(const std::string& xsi, const std::string& s) { return Val(xsi, "xsd:string", Esc(s)); }
std::string Bool(const std::string& xsi, bool b) { return Val(xsi, "xsd:boolean", b ? "true" : "false"); }
std::string Ref(const std::string& xsi, const std::string& type, const std::string& moref) {
  return fmt::format(R"(<val type="{}" {}:type="ManagedObjectReference">{}</val>)", type, xsi, moref);
}
std::string RefList(const std::string& xsi, const std::string& type, const std::vector<std::string>& morefs) {
  std::string inner;
  for (const auto& m : morefs) inner += fmt::format(R"(<ManagedObjectReference type="{}">{}</ManagedObjectReference>)", type, m);
  return Val(xsi, "ArrayOfManagedObjectReference", inner);
}

// ClusterConfigInfoEx as vCenter writes it: HA with its admission control policy, DRS with the
// VMs' overrides, VM-host rules with the groups they name, vSAN.
std::string ClusterConfig(const Cluster& c, const std::string& xsi) {
  std::string policy;
  if (c.admission_policy == "failover_level") {
    policy = fmt::format(R"(<admissionControlPolicy {}:type="ClusterFailoverLevelAdmissionControlPolicy">)"
                         "<failoverLevel>{}</failoverLevel></admissionControlPolicy>", xsi, c.failover_level);
  } else if (c.admission_policy == "resources_percent") {
    policy = fmt::format(R"(<admissionControlPolicy {}:type="ClusterFailoverResourcesAdmissionControlPolicy">)"
                         "<cpuFailoverResourcesPercent>{}</cpuFailoverResourcesPercent>"
                         "<memoryFailoverResourcesPercent>{}</memoryFailoverResourcesPercent><failoverLevel>{}</failoverLevel>"
                         "<autoComputePercentages>false</autoComputePercentages></admissionControlPolicy>",
                         xsi, c.cpu_reserve_percent, c.memory_reserve_percent, c.failover_level);
  } else if (c.admission_policy == "failover_hosts") {
    std::string hosts;
    for (const auto& h : c.failover_hosts) hosts += fmt::format(R"(<failoverHosts type="HostSystem">{}</failoverHosts>)", h);
    policy = fmt::format(R"(<admissionControlPolicy {}:type="ClusterFailoverHostAdmissionControlPolicy">{}<failoverLevel>{}</failoverLevel>)"
                         "</admissionControlPolicy>", xsi, hosts, c.failover_level);
  }
  std::string out = fmt::format("<dasConfig><enabled>{}</enabled><vmMonitoring>vmMonitoringDisabled</vmMonitoring>"
                                "<hostMonitoring>enabled</hostMonitoring><failoverLevel>{}</failoverLevel>{}"
                                "<admissionControlEnabled>{}</admissionControlEnabled></dasConfig>",
                                c.ha, c.failover_level, policy, c.admission_control && !c.admission_policy.empty());
  out += fmt::format("<drsConfig><enabled>{}</enabled><defaultVmBehavior>{}</defaultVmBehavior><vmotionRate>3</vmotionRate></drsConfig>",
                     c.drs, c.drs_behavior);
  int key = 1;
  for (const auto& [vm, behavior] : c.drs_vm_behavior) {
    out += fmt::format(R"(<drsVmConfig><key type="VirtualMachine">{}</key><enabled>{}</enabled><behavior>{}</behavior></drsVmConfig>)",
                       vm, behavior != "disabled", behavior == "disabled" ? "fullyAutomated" : behavior);
  }
  std::string groups;
  for (const auto& r : c.rules) {
    out += fmt::format(R"(<rule {}:type="ClusterVmHostRuleInfo"><key>{}</key><status>green</status><enabled>{}</enabled><name>{}</name>)"
                       "<mandatory>{}</mandatory><userCreated>true</userCreated><vmGroupName>{}-vms</vmGroupName>",
                       xsi, key++, r.enabled, Esc(r.name), r.mandatory, Esc(r.name));
    if (!r.affine_hosts.empty()) out += fmt::format("<affineHostGroupName>{}-hosts</affineHostGroupName>", Esc(r.name));
    if (!r.anti_affine_hosts.empty()) out += fmt::format("<antiAffineHostGroupName>{}-not-hosts</antiAffineHostGroupName>", Esc(r.name));
    out += "</rule>";
    std::string vms;
    for (const auto& v : r.vms) vms += fmt::format(R"(<vm type="VirtualMachine">{}</vm>)", v);
    groups += fmt::format(R"(<group {}:type="ClusterVmGroup"><name>{}-vms</name>{}</group>)", xsi, Esc(r.name), vms);
    auto host_group = [&](const std::vector<std::string>& hosts, const char* suffix) {
      if (hosts.empty()) return;
      std::string members;
      for (const auto& h : hosts) members += fmt::format(R"(<host type="HostSystem">{}</host>)", h);
      groups += fmt::format(R"(<group {}:type="ClusterHostGroup"><name>{}{}</name>{}</group>)", xsi, Esc(r.name), suffix, members);
    };
    host_group(r.affine_hosts, "-hosts");
    host_group(r.anti_affine_hosts, "-not-hosts");
  }
  return out + groups + fmt::format("<vsanConfigInfo><enabled>{}</enabled></vsanConfigInfo>", c.vsan);
}

// VirtualMachine.config.hardware.device: the controllers, disk and NIC every VM has, then its
// passthrough devices and removable media.
std::string Devices(const Vm& m, const std::string& xsi) {
  std::string out = fmt::format(
      R"(<VirtualDevice {0}:type="VirtualIDEController"><key>200</key><deviceInfo><label>IDE 0</label><summary>IDE 0</summary></deviceInfo><busNumber>0</busNumber></VirtualDevice>)"
      R"(<VirtualDevice {0}:type="VirtualPCIController"><key>100</key><deviceInfo><label>PCI controller 0</label><summary>PCI controller 0</summary></deviceInfo><busNumber>0</busNumber></VirtualDevice>)"
      R"(<VirtualDevice {0}:type="ParaVirtualSCSIController"><key>1000</key><deviceInfo><label>SCSI controller 0</label><summary>VMware paravirtual SCSI</summary></deviceInfo><controllerKey>100</controllerKey><unitNumber>3</unitNumber><busNumber>0</busNumber><hotAddRemove>true</hotAddRemove><sharedBus>noSharing</sharedBus><scsiCtlrUnitNumber>7</scsiCtlrUnitNumber></VirtualDevice>)"
      R"(<VirtualDevice {0}:type="VirtualDisk"><key>2000</key><deviceInfo><label>Hard disk 1</label><summary>41,943,040 KB</summary></deviceInfo><backing {0}:type="VirtualDiskFlatVer2BackingInfo"><fileName>[{1}] {2}/{2}.vmdk</fileName><datastore type="Datastore">{1}</datastore><diskMode>persistent</diskMode><thinProvisioned>true</thinProvisioned></backing><controllerKey>1000</controllerKey><unitNumber>0</unitNumber><capacityInKB>41943040</capacityInKB></VirtualDevice>)"
      R"(<VirtualDevice {0}:type="VirtualVmxnet3"><key>4000</key><deviceInfo><label>Network adapter 1</label><summary>VM Network</summary></deviceInfo><connectable><startConnected>true</startConnected><allowGuestControl>true</allowGuestControl><connected>true</connected><status>ok</status></connectable><controllerKey>100</controllerKey><unitNumber>7</unitNumber><addressType>assigned</addressType><macAddress>00:50:56:9c:00:01</macAddress><wakeOnLanEnabled>true</wakeOnLanEnabled></VirtualDevice>)",
      xsi, m.datastores.empty() ? std::string("datastore-0") : m.datastores[0], Esc(m.name));
  int key = 13000;
  for (int i = 0; i < m.passthrough + m.vgpu; ++i) {
    const bool vgpu = i >= m.passthrough;
    out += fmt::format(R"(<VirtualDevice {0}:type="VirtualPCIPassthrough"><key>{1}</key><deviceInfo><label>PCI device {2}</label>)"
                       R"(<summary>{3}</summary></deviceInfo><backing {0}:type="{4}">{5}</backing><controllerKey>100</controllerKey>)"
                       R"(<unitNumber>{6}</unitNumber></VirtualDevice>)",
                       xsi, key++, i, vgpu ? "NVIDIA GRID vGPU grid_a100-4c" : "DirectPath I/O",
                       vgpu ? "VirtualPCIPassthroughVmiopBackingInfo" : "VirtualPCIPassthroughDeviceBackingInfo",
                       vgpu ? "<vgpu>grid_a100-4c</vgpu>" : "<deviceName>0000:3b:00.0</deviceName><id>0000:3b:00.0</id><deviceId>4116</deviceId><systemId>5f3c2a1e</systemId><vendorId>4318</vendorId>",
                       18 + i);
  }
  int cdrom = 3000, floppy = 8000;
  for (const auto& d : m.media) {
    const bool cd = d.kind == "cdrom";
    std::string backing;
    if (d.backing == "host_device") {
      backing = fmt::format(R"(<backing {}:type="{}"><deviceName>{}</deviceName>{}</backing>)", xsi,
                            cd ? "VirtualCdromAtapiBackingInfo" : "VirtualFloppyDeviceBackingInfo", cd ? "/vmfs/devices/cdrom/mpx.vmhba0:C0:T0:L0" : "/dev/fd0",
                            cd ? "" : "<useAutoDetect>false</useAutoDetect>");
    } else if (d.backing == "file") {
      backing = fmt::format(R"(<backing {}:type="{}"><fileName>[{}] iso/image.{}</fileName><datastore type="Datastore">{}</datastore></backing>)",
                            xsi, cd ? "VirtualCdromIsoBackingInfo" : "VirtualFloppyImageBackingInfo", d.datastore, cd ? "iso" : "flp", d.datastore);
    } else {
      backing = fmt::format(R"(<backing {}:type="{}"><deviceName></deviceName><useAutoDetect>false</useAutoDetect>{}</backing>)", xsi,
                            cd ? "VirtualCdromRemotePassthroughBackingInfo" : "VirtualFloppyRemoteDeviceBackingInfo",
                            cd ? "<exclusive>false</exclusive>" : "");
    }
    out += fmt::format(R"(<VirtualDevice {}:type="{}"><key>{}</key><deviceInfo><label>{}</label><summary>{}</summary></deviceInfo>{})"
                       R"(<connectable><startConnected>{}</startConnected><allowGuestControl>true</allowGuestControl><connected>{}</connected>)"
                       R"(<status>ok</status></connectable>{}</VirtualDevice>)",
                       xsi, cd ? "VirtualCdrom" : "VirtualFloppy", cd ? cdrom++ : floppy++, cd ? "CD/DVD drive 1" : "Floppy drive 1",
                       cd ? "Remote device" : "Remote", backing, d.connected, d.connected,
                       cd ? "<controllerKey>200</controllerKey><unitNumber>0</unitNumber>" : "<controllerKey>400</controllerKey><unitNumber>0</unitNumber>");
  }
  return out;
}

const std::map<std::string, std::set<std::string>>& Paths() {
  static const std::map<std::string, std::set<std::string>> paths{
      {"Datacenter", {"name", "hostFolder"}},
      {"ClusterComputeResource", {"name", "parent", "configurationEx", "summary", "host", "datastore"}},
      {"HostSystem", {"name", "parent", "hardware.systemInfo", "config.product", "runtime.connectionState",
                      "runtime.powerState", "runtime.inMaintenanceMode", "runtime.bootTime", "recentTask",
                      "configManager.serviceSystem"}},
      {"HostServiceSystem", {"serviceInfo"}},
      {"VirtualMachine", {"name", "runtime.powerState", "runtime.host", "config.guestFullName", "config.hardware.numCPU",
                          "config.hardware.memoryMB", "config.instanceUuid", "guest.hostName", "guest.net", "datastore",
                          "guest.toolsRunningStatus", "runtime.faultToleranceState", "config.hardware.device"}},
      {"Datastore", {"name", "summary", "host"}},
      {"Network", {"name"}},
      {"DistributedVirtualPortgroup", {"name", "config.defaultPortConfig"}},
      {"Folder", {"name", "parent"}},
      {"ComputeResource", {"name", "parent"}},
      {"Task", {"info", "info.key", "info.task", "info.descriptionId", "info.entity", "info.entityName", "info.state",
                "info.cancelled", "info.cancelable", "info.error", "info.result", "info.progress", "info.reason",
                "info.queueTime", "info.startTime", "info.completeTime", "info.eventChainId"}},
  };
  return paths;
}

int TaskNumber(const std::string& moref) {
  const auto dash = moref.rfind('-');
  return dash == std::string::npos ? 0 : std::atoi(moref.c_str() + dash + 1);
}

// LocalizedMethodFault's content: the fault (these carry no properties of their own) and its
// message.
std::string LocalizedFault(const Task& t, const std::string& xsi) {
  return fmt::format(R"(<fault {}:type="{}"></fault><localizedMessage>{}</localizedMessage>)", xsi, t.error_type, Esc(t.error_message));
}

// One TaskInfo property of a task, by its name in TaskInfo (nullopt when unset). The order of
// TaskInfo's elements is the WSDL's: key, task, description, name, descriptionId, entity,
// entityName, locked, state, cancelled, cancelable, error, result, progress, reason, queueTime,
// startTime, completeTime, eventChainId, …
std::optional<std::string> TaskField(const Object& o, const Task& t, const std::string& field, const std::string& xsi) {
  if (field == "key") return Text(xsi, o.moref);
  if (field == "task") return Ref(xsi, "Task", o.moref);
  if (field == "descriptionId") return Text(xsi, t.description_id);
  if (field == "entity") return t.entity.empty() ? std::nullopt : std::optional(Ref(xsi, t.entity_type, t.entity));
  if (field == "entityName") return t.entity_name.empty() ? std::nullopt : std::optional(Text(xsi, t.entity_name));
  if (field == "state") return Val(xsi, "TaskInfoState", t.state);
  if (field == "cancelled") return Bool(xsi, t.cancelled);
  if (field == "cancelable") return Bool(xsi, t.cancelable);
  if (field == "error") {
    return t.state == "error" ? std::optional(Val(xsi, "LocalizedMethodFault", LocalizedFault(t, xsi))) : std::nullopt;
  }
  if (field == "progress") {
    return t.state == "running" ? std::optional(Val(xsi, "xsd:int", std::to_string(t.progress))) : std::nullopt;
  }
  if (field == "reason") {
    return Val(xsi, "TaskReasonUser", fmt::format("<userName>{}</userName>", Esc(t.user)));
  }
  if (field == "queueTime") return t.queue_time.empty() ? std::nullopt : std::optional(Val(xsi, "xsd:dateTime", t.queue_time));
  if (field == "startTime") return t.start_time.empty() ? std::nullopt : std::optional(Val(xsi, "xsd:dateTime", t.start_time));
  if (field == "completeTime") {
    return t.complete_time.empty() ? std::nullopt : std::optional(Val(xsi, "xsd:dateTime", t.complete_time));
  }
  if (field == "eventChainId") return Val(xsi, "xsd:int", std::to_string(TaskNumber(o.moref)));
  return std::nullopt;  // result: these tasks return nothing
}

// The whole TaskInfo, its elements in the WSDL's order.
std::string TaskInfoXml(const Object& o, const Task& t, const std::string& xsi) {
  std::string out = fmt::format(R"(<key>{0}</key><task type="Task">{0}</task><descriptionId>{1}</descriptionId>)", o.moref,
                                Esc(t.description_id));
  if (!t.entity.empty()) out += fmt::format(R"(<entity type="{}">{}</entity>)", t.entity_type, t.entity);
  if (!t.entity_name.empty()) out += fmt::format("<entityName>{}</entityName>", Esc(t.entity_name));
  out += fmt::format("<state>{}</state><cancelled>{}</cancelled><cancelable>{}</cancelable>", t.state, t.cancelled, t.cancelable);
  if (t.state == "error") out += "<error>" + LocalizedFault(t, xsi) + "</error>";
  if (t.state == "running") out += fmt::format("<progress>{}</progress>", t.progress);
  out += fmt::format(R"(<reason {}:type="TaskReasonUser"><userName>{}</userName></reason>)", xsi, Esc(t.user));
  out += fmt::format("<queueTime>{}</queueTime>", t.queue_time);
  if (!t.start_time.empty()) out += fmt::format("<startTime>{}</startTime>", t.start_time);
  if (!t.complete_time.empty()) out += fmt::format("<completeTime>{}</completeTime>", t.complete_time);
  return out + fmt::format("<eventChainId>{}</eventChainId>", TaskNumber(o.moref));
}

}  // namespace

bool KnownPath(const std::string& view_type, const std::string& path) {
  auto it = Paths().find(view_type);
  return it != Paths().end() && it->second.count(path) != 0;
}

std::optional<std::string> PropertyValue(const Object& o, const std::string& path, const std::string& xsi) {
  if (const auto* t = std::get_if<Task>(&o.body)) {
    if (path == "info") return Val(xsi, "TaskInfo", TaskInfoXml(o, *t, xsi));
    if (path.rfind("info.", 0) == 0) return TaskField(o, *t, path.substr(5), xsi);
    return std::nullopt;
  }
  if (const auto* ss = std::get_if<ServiceSystem>(&o.body)) {
    if (path != "serviceInfo") return std::nullopt;
    // HostServiceInfo: the ESXi Shell and SSH services as ESXi lists them.
    return Val(xsi, "HostServiceInfo",
               fmt::format("<service><key>TSM</key><label>ESXi Shell</label><required>false</required><uninstallable>false</uninstallable>"
                           "<running>false</running><policy>off</policy><sourcePackage><sourcePackageName>esx-base</sourcePackageName>"
                           "<description>This VMware package contains the ESXi base system</description></sourcePackage></service>"
                           "<service><key>TSM-SSH</key><label>SSH</label><required>false</required><uninstallable>false</uninstallable>"
                           "<running>{}</running><policy>{}</policy><sourcePackage><sourcePackageName>esx-base</sourcePackageName>"
                           "<description>This VMware package contains the ESXi base system</description></sourcePackage></service>",
                           ss->ssh_running, ss->ssh_policy));
  }
  if (path == "configManager.serviceSystem" && o.type == "HostSystem") return Ref(xsi, "HostServiceSystem", "serviceSystem-" + o.moref);
  if (path == "name") {
    return std::visit(
        [&](const auto& b) -> std::optional<std::string> {
          if constexpr (requires { b.name; }) {
            return Text(xsi, b.name);
          } else {
            return std::nullopt;
          }
        },
        o.body);
  }
  if (const auto* f = std::get_if<Folder>(&o.body)) {
    if (path == "parent") return Ref(xsi, f->parent.rfind("datacenter-", 0) == 0 ? "Datacenter" : "Folder", f->parent);
  } else if (const auto* d = std::get_if<Datacenter>(&o.body)) {
    if (path == "hostFolder") return Ref(xsi, "Folder", d->host_folder);
  } else if (const auto* c = std::get_if<Cluster>(&o.body)) {
    if (path == "parent") return Ref(xsi, "Folder", c->parent);
    if (path == "configurationEx") return Val(xsi, "ClusterConfigInfoEx", ClusterConfig(*c, xsi));
    if (path == "summary") {
      std::string info;
      if (c->ha && c->admission_policy == "resources_percent") {
        info = fmt::format(R"(<admissionControlInfo {}:type="ClusterFailoverResourcesAdmissionControlInfo">)"
                           "<currentCpuFailoverResourcesPercent>{}</currentCpuFailoverResourcesPercent>"
                           "<currentMemoryFailoverResourcesPercent>{}</currentMemoryFailoverResourcesPercent></admissionControlInfo>",
                           xsi, c->current_cpu_percent, c->current_memory_percent);
      } else if (c->ha && c->admission_policy == "failover_level") {
        info = fmt::format(R"(<admissionControlInfo {}:type="ClusterFailoverLevelAdmissionControlInfo">)"
                           "<currentFailoverLevel>{}</currentFailoverLevel></admissionControlInfo>",
                           xsi, c->failover_level);
      }
      return Val(xsi, "ClusterComputeResourceSummary",
                 "<totalCpu>0</totalCpu><totalMemory>0</totalMemory><numCpuCores>0</numCpuCores><numCpuThreads>0</numCpuThreads>"
                 "<effectiveCpu>0</effectiveCpu><effectiveMemory>0</effectiveMemory><numHosts>0</numHosts>"
                 "<numEffectiveHosts>0</numEffectiveHosts><overallStatus>green</overallStatus>" + info);
    }
    // "host" needs the model (the hosts whose cluster is this one): the server writes it.
  } else if (const auto* h = std::get_if<Host>(&o.body)) {
    if (path == "parent") {
      return h->cluster.empty() ? Ref(xsi, "ComputeResource", "domain-s" + o.moref.substr(5))
                                : Ref(xsi, "ClusterComputeResource", h->cluster);
    }
    if (path == "hardware.systemInfo") {
      std::string info = fmt::format("<vendor>{}</vendor><model>{}</model><uuid>{}</uuid>", Esc(h->vendor), Esc(h->model), h->uuid);
      if (h->tag_in_identifying_info) {
        info += fmt::format("<otherIdentifyingInfo><identifierValue> {}</identifierValue><identifierType><label>Asset Tag</label>"
                            "<summary>Asset tag of the system</summary><key>AssetTag</key></identifierType></otherIdentifyingInfo>",
                            "unknown");
        info += fmt::format("<otherIdentifyingInfo><identifierValue>{}</identifierValue><identifierType><label>Service tag</label>"
                            "<summary>Service tag of the system</summary><key>ServiceTag</key></identifierType></otherIdentifyingInfo>",
                            Esc(h->service_tag));
        info += fmt::format("<otherIdentifyingInfo><identifierValue>{}</identifierValue><identifierType><label>Enclosure Serial Number tag</label>"
                            "<summary>Enclosure Serial Number tag of the system</summary><key>EnclosureSerialNumberTag</key>"
                            "</identifierType></otherIdentifyingInfo>",
                            Esc(h->serial));
      }
      info += fmt::format("<serialNumber>{}</serialNumber>", Esc(h->serial));
      return Val(xsi, "HostSystemInfo", info);
    }
    if (path == "config.product") {
      return Val(xsi, "AboutInfo",
                 fmt::format("<name>VMware ESXi</name><fullName>VMware ESXi {0} build-{1}</fullName><vendor>VMware, Inc.</vendor>"
                             "<version>{0}</version><build>{1}</build><localeVersion>INTL</localeVersion><localeBuild>000</localeBuild>"
                             "<osType>vmnix-x86</osType><productLineId>embeddedEsx</productLineId><apiType>HostAgent</apiType>"
                             "<apiVersion>8.0.2.0</apiVersion>",
                             h->version, h->build));
    }
    if (path == "runtime.connectionState") return Val(xsi, "HostSystemConnectionState", h->connection_state);
    if (path == "runtime.powerState") return Val(xsi, "HostSystemPowerState", h->power_state);
    if (path == "runtime.inMaintenanceMode") return Bool(xsi, h->maintenance);
    if (path == "runtime.bootTime") return h->boot_time.empty() ? std::nullopt : std::optional(Val(xsi, "xsd:dateTime", h->boot_time));
    // "recentTask" needs the model (the host's tasks): the server writes it.
  } else if (const auto* m = std::get_if<Vm>(&o.body)) {
    if (path == "runtime.powerState") return Val(xsi, "VirtualMachinePowerState", m->power_state);
    if (path == "runtime.host") return Ref(xsi, "HostSystem", m->host);
    if (path == "config.guestFullName") return Text(xsi, m->guest_full_name);
    if (path == "config.hardware.numCPU") return Val(xsi, "xsd:int", std::to_string(m->num_cpu));
    if (path == "config.hardware.memoryMB") return Val(xsi, "xsd:int", std::to_string(m->memory_mb));
    if (path == "config.instanceUuid") return Text(xsi, m->instance_uuid);
    if (path == "guest.hostName") return m->guest_hostname.empty() ? std::nullopt : std::optional(Text(xsi, m->guest_hostname));
    if (path == "guest.net") {
      if (m->ips.empty()) return std::nullopt;
      std::string nics;
      for (const auto& ip : m->ips) {
        nics += fmt::format("<GuestNicInfo><network>pg-000</network><ipAddress>{}</ipAddress><ipAddress>fe80::250:56ff:fe9c:1</ipAddress>"
                            "<macAddress>00:50:56:9c:00:01</macAddress><connected>true</connected><deviceConfigId>4000</deviceConfigId>"
                            "</GuestNicInfo>",
                            ip);
      }
      return Val(xsi, "ArrayOfGuestNicInfo", nics);
    }
    if (path == "datastore") return RefList(xsi, "Datastore", m->datastores);
    if (path == "guest.toolsRunningStatus") return Text(xsi, m->tools_status);
    if (path == "runtime.faultToleranceState") return Val(xsi, "VirtualMachineFaultToleranceState", m->fault_tolerance);
    if (path == "config.hardware.device") return Val(xsi, "ArrayOfVirtualDevice", Devices(*m, xsi));
  } else if (const auto* s = std::get_if<Datastore>(&o.body)) {
    if (path == "summary") {
      return Val(xsi, "DatastoreSummary",
                 fmt::format(R"(<datastore type="Datastore">{}</datastore><name>{}</name><url>ds:///vmfs/volumes/{}/</url>)"
                             "<capacity>{}</capacity><freeSpace>{}</freeSpace><accessible>{}</accessible>"
                             "<multipleHostAccess>true</multipleHostAccess><type>{}</type>",
                             o.moref, Esc(s->name), o.moref, s->capacity, s->free, s->accessible, s->type));
    }
  } else if (const auto* n = std::get_if<Network>(&o.body)) {
    if (path == "config.defaultPortConfig" && n->distributed) {
      return Val(xsi, "VMwareDVSPortSetting",
                 fmt::format(R"(<blocked><inherited>false</inherited><value>false</value></blocked>)"
                             R"(<vlan {}:type="VmwareDistributedVirtualSwitchVlanIdSpec"><inherited>false</inherited><vlanId>{}</vlanId></vlan>)",
                             xsi, n->vlan));
    }
  }
  return std::nullopt;
}

std::map<std::string, std::vector<std::string>> RecentTasks(const std::map<std::string, Object>& all,
                                                            std::chrono::system_clock::time_point now) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [moref, o] : all) {
    const auto* t = std::get_if<Task>(&o.body);
    if (t == nullptr || t->entity.empty()) continue;
    if (t->state == "success" || t->state == "error") {
      const auto done = ParseDateTime(t->complete_time);
      if (!done || now - *done > std::chrono::minutes(10)) continue;
    }
    out[t->entity].push_back(moref);
  }
  for (auto& [_, tasks] : out) {
    std::sort(tasks.begin(), tasks.end(), [](const std::string& a, const std::string& b) { return TaskNumber(a) < TaskNumber(b); });
  }
  return out;
}

}  // namespace dcops::sim::vcenter
