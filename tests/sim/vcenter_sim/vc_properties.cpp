#include "vc_properties.hpp"

#include <fmt/format.h>

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

const std::map<std::string, std::set<std::string>>& Paths() {
  static const std::map<std::string, std::set<std::string>> paths{
      {"Datacenter", {"name", "hostFolder"}},
      {"ClusterComputeResource", {"name", "parent", "configurationEx", "host"}},
      {"HostSystem", {"name", "parent", "hardware.systemInfo", "config.product", "runtime.connectionState",
                      "runtime.powerState", "runtime.inMaintenanceMode"}},
      {"VirtualMachine", {"name", "runtime.powerState", "runtime.host", "config.guestFullName", "config.hardware.numCPU",
                          "config.hardware.memoryMB", "config.instanceUuid", "guest.hostName", "guest.net", "datastore",
                          "guest.toolsRunningStatus"}},
      {"Datastore", {"name", "summary"}},
      {"Network", {"name"}},
      {"DistributedVirtualPortgroup", {"name", "config.defaultPortConfig"}},
      {"Folder", {"name", "parent"}},
      {"ComputeResource", {"name", "parent"}},
  };
  return paths;
}

}  // namespace

bool KnownPath(const std::string& view_type, const std::string& path) {
  auto it = Paths().find(view_type);
  return it != Paths().end() && it->second.count(path) != 0;
}

std::optional<std::string> PropertyValue(const Object& o, const std::string& path, const std::string& xsi) {
  if (path == "name") {
    return std::visit([&](const auto& b) { return std::optional<std::string>(Text(xsi, b.name)); }, o.body);
  }
  if (const auto* f = std::get_if<Folder>(&o.body)) {
    if (path == "parent") return Ref(xsi, f->parent.rfind("datacenter-", 0) == 0 ? "Datacenter" : "Folder", f->parent);
  } else if (const auto* d = std::get_if<Datacenter>(&o.body)) {
    if (path == "hostFolder") return Ref(xsi, "Folder", d->host_folder);
  } else if (const auto* c = std::get_if<Cluster>(&o.body)) {
    if (path == "parent") return Ref(xsi, "Folder", c->parent);
    if (path == "configurationEx") {
      return Val(xsi, "ClusterConfigInfoEx",
                 fmt::format("<dasConfig><enabled>{}</enabled><vmMonitoring>vmMonitoringDisabled</vmMonitoring>"
                             "<hostMonitoring>enabled</hostMonitoring></dasConfig><drsConfig><enabled>{}</enabled>"
                             "<defaultVmBehavior>fullyAutomated</defaultVmBehavior><vmotionRate>3</vmotionRate></drsConfig>"
                             "<vsanConfigInfo><enabled>{}</enabled></vsanConfigInfo>",
                             c->ha, c->drs, c->vsan));
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

}  // namespace dcops::sim::vcenter
