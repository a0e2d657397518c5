#include "inventory_cache.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdlib>

#include "dcops/vsphere/soap.hpp"

namespace dcops::vcsync {
namespace {

using vsphere::Child;
using vsphere::Children;
using vsphere::TrimmedText;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// The fields each property path sets (cleared first, so an unset property clears them).
const std::map<std::string, std::vector<std::string>>& FieldsOf() {
  static const std::map<std::string, std::vector<std::string>> fields{
      {"name", {"name"}},
      {"parent", {"parent", "parent_type"}},
      {"configurationEx", {"ha_enabled", "drs_enabled", "vsan_enabled"}},
      {"hardware.systemInfo", {"vendor", "model", "system_uuid", "service_tag", "serial_number"}},
      {"config.product", {"esxi_version", "esxi_build"}},
      {"runtime.connectionState", {"connection_state"}},
      {"runtime.powerState", {"power_state"}},
      {"runtime.inMaintenanceMode", {"maintenance_mode"}},
      {"runtime.host", {"host_moref"}},
      {"config.guestFullName", {"guest_os"}},
      {"config.hardware.numCPU", {"num_cpu"}},
      {"config.hardware.memoryMB", {"memory_mib"}},
      {"config.instanceUuid", {"instance_uuid"}},
      {"guest.hostName", {"guest_hostname"}},
      {"guest.toolsRunningStatus", {"tools_status"}},
      {"summary", {"ds_type", "capacity_bytes", "free_bytes", "accessible"}},
      {"config.defaultPortConfig", {"vlan_id"}},
  };
  return fields;
}

void Text(Writer& w, const char* key, const std::map<std::string, std::string>& t, const char* field) {
  auto it = t.find(field);
  w.Key(key);
  if (it == t.end()) {
    w.Null();
  } else {
    w.String(it->second.c_str(), static_cast<rapidjson::SizeType>(it->second.size()));
  }
}

void Bool(Writer& w, const char* key, const std::map<std::string, std::string>& t, const char* field) {
  auto it = t.find(field);
  w.Key(key);
  if (it == t.end()) {
    w.Null();
  } else {
    w.Bool(it->second == "true" || it->second == "1");
  }
}

void Int(Writer& w, const char* key, const std::map<std::string, std::string>& t, const char* field) {
  auto it = t.find(field);
  w.Key(key);
  char* end = nullptr;
  const long long v = it == t.end() ? 0 : std::strtoll(it->second.c_str(), &end, 10);
  if (it == t.end() || end == it->second.c_str() || *end != '\0') {
    w.Null();
  } else {
    w.Int64(v);
  }
}

void List(Writer& w, const char* key, const std::vector<std::string>& items) {
  w.Key(key);
  w.StartArray();
  for (const auto& i : items) w.String(i.c_str(), static_cast<rapidjson::SizeType>(i.size()));
  w.EndArray();
}

}  // namespace

const std::vector<TypeSpec>& SyncedTypes() {
  static const std::vector<TypeSpec> types{
      {"Datacenter", {"name"}},
      {"ClusterComputeResource", {"name", "parent", "configurationEx", "host"}},
      {"HostSystem", {"name", "parent", "hardware.systemInfo", "config.product", "runtime.connectionState", "runtime.powerState",
                      "runtime.inMaintenanceMode"}},
      {"VirtualMachine", {"name", "runtime.powerState", "runtime.host", "config.guestFullName", "config.hardware.numCPU",
                          "config.hardware.memoryMB", "config.instanceUuid", "guest.hostName", "guest.net", "datastore",
                          "guest.toolsRunningStatus"}},
      {"Datastore", {"name", "summary"}},
      {"Network", {"name"}},
      {"DistributedVirtualPortgroup", {"name", "config.defaultPortConfig"}},
      // Only to name each cluster's and host's datacenter: the parents up to it.
      {"Folder", {"name", "parent"}},
      {"ComputeResource", {"parent"}},
  };
  return types;
}

std::string ClassOf(const std::string& type) {
  if (type == "ClusterComputeResource") return "clusters";
  if (type == "HostSystem") return "hosts";
  if (type == "VirtualMachine") return "vms";
  if (type == "Datastore") return "datastores";
  if (type == "Network" || type == "DistributedVirtualPortgroup" || type == "OpaqueNetwork") return "networks";
  if (type == "Datacenter" || type == "Folder" || type == "ComputeResource") return "";
  return "?";
}

void InventoryCache::Set(const std::string& type, const std::string& moref, const std::string& path, const pugi::xml_node& val) {
  Object& o = objects_[moref];
  // A port group arrives through the Network filter too: keep its own type.
  if (o.type.empty() || o.type == "Network") o.type = type;
  auto& t = o.text;
  if (auto f = FieldsOf().find(path); f != FieldsOf().end()) {
    for (const auto& field : f->second) t.erase(field);
  }
  if (path == "guest.net") o.ips.clear();
  if (path == "datastore") o.datastores.clear();
  if (path == "host") o.hosts = -1;
  if (!val) return;
  const std::string text = TrimmedText(val);
  if (path == "name") {
    t["name"] = text;
  } else if (path == "parent") {
    t["parent"] = text;
    t["parent_type"] = val.attribute("type").value();
  } else if (path == "configurationEx") {
    t["ha_enabled"] = TrimmedText(Child(Child(val, "dasConfig"), "enabled"));
    t["drs_enabled"] = TrimmedText(Child(Child(val, "drsConfig"), "enabled"));
    if (const auto vsan = Child(Child(val, "vsanConfigInfo"), "enabled")) t["vsan_enabled"] = TrimmedText(vsan);
  } else if (path == "host") {
    o.hosts = static_cast<int>(Children(val, "ManagedObjectReference").size());
  } else if (path == "hardware.systemInfo") {
    t["vendor"] = TrimmedText(Child(val, "vendor"));
    t["model"] = TrimmedText(Child(val, "model"));
    t["system_uuid"] = TrimmedText(Child(val, "uuid"));
    std::string tag, serial = TrimmedText(Child(val, "serialNumber"));
    for (const auto& info : Children(val, "otherIdentifyingInfo")) {
      const std::string key = Child(Child(info, "identifierType"), "key").text().get();
      const std::string value = TrimmedText(Child(info, "identifierValue"));
      if (value.empty()) continue;
      if (key == "ServiceTag" && tag.empty()) tag = value;
      if ((key == "SerialNumberTag" || key == "EnclosureSerialNumberTag") && serial.empty()) serial = value;
    }
    // Dell writes the service tag as the system serial number; older ESXi reports it only there.
    if (tag.empty() && t["vendor"].find("Dell") != std::string::npos) tag = serial;
    if (!tag.empty()) t["service_tag"] = tag;
    if (!serial.empty()) t["serial_number"] = serial;
  } else if (path == "config.product") {
    t["esxi_version"] = TrimmedText(Child(val, "version"));
    t["esxi_build"] = TrimmedText(Child(val, "build"));
  } else if (path == "runtime.connectionState") {
    t["connection_state"] = text;
  } else if (path == "runtime.powerState") {
    t["power_state"] = text;
  } else if (path == "runtime.inMaintenanceMode") {
    t["maintenance_mode"] = text;
  } else if (path == "runtime.host") {
    t["host_moref"] = text;
  } else if (path == "config.guestFullName") {
    t["guest_os"] = text;
  } else if (path == "config.hardware.numCPU") {
    t["num_cpu"] = text;
  } else if (path == "config.hardware.memoryMB") {
    t["memory_mib"] = text;
  } else if (path == "config.instanceUuid") {
    t["instance_uuid"] = text;
  } else if (path == "guest.hostName") {
    t["guest_hostname"] = text;
  } else if (path == "guest.toolsRunningStatus") {
    t["tools_status"] = text;
  } else if (path == "guest.net") {
    for (const auto& nic : Children(val, "GuestNicInfo")) {
      for (const auto& ip : Children(nic, "ipAddress")) o.ips.push_back(TrimmedText(ip));
    }
  } else if (path == "datastore") {
    for (const auto& ref : Children(val, "ManagedObjectReference")) o.datastores.push_back(TrimmedText(ref));
  } else if (path == "summary") {
    t["ds_type"] = TrimmedText(Child(val, "type"));
    t["capacity_bytes"] = TrimmedText(Child(val, "capacity"));
    t["free_bytes"] = TrimmedText(Child(val, "freeSpace"));
    t["accessible"] = TrimmedText(Child(val, "accessible"));
  } else if (path == "config.defaultPortConfig") {
    // A trunk or private VLAN has no single id: left unset.
    const pugi::xml_node vlan = Child(val, "vlan");
    if (vsphere::XsiType(vlan).value_or("") == "VmwareDistributedVirtualSwitchVlanIdSpec") {
      t["vlan_id"] = TrimmedText(Child(vlan, "vlanId"));
    }
  }
}

void InventoryCache::Remove(const std::string& moref) { objects_.erase(moref); }

bool InventoryCache::Has(const std::string& moref) const { return objects_.count(moref) != 0; }

std::size_t InventoryCache::size() const { return objects_.size(); }

std::string InventoryCache::Json(const std::string& cls, const std::vector<std::string>& morefs) const {
  // An object's datacenter: up its parents (clusters and standalone hosts sit in a
  // datacenter's host folder, or in folders inside it) to the Datacenter.
  auto datacenter = [&](std::string at) -> std::string {
    for (int depth = 0; depth < 32 && !at.empty(); ++depth) {
      auto it = objects_.find(at);
      if (it == objects_.end()) return "";
      if (it->second.type == "Datacenter") {
        auto name = it->second.text.find("name");
        return name == it->second.text.end() ? "" : name->second;
      }
      auto parent = it->second.text.find("parent");
      at = parent == it->second.text.end() ? "" : parent->second;
    }
    return "";
  };
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const auto& moref : morefs) {
    auto it = objects_.find(moref);
    if (it == objects_.end()) continue;
    const Object& o = it->second;
    const auto& t = o.text;
    w.StartObject();
    w.Key("moref");
    w.String(moref.c_str(), static_cast<rapidjson::SizeType>(moref.size()));
    Text(w, "name", t, "name");
    if (cls == "clusters") {
      const std::string dc = datacenter(moref);
      w.Key("datacenter");
      dc.empty() ? w.Null() : w.String(dc.c_str(), static_cast<rapidjson::SizeType>(dc.size()));
      Bool(w, "ha_enabled", t, "ha_enabled");
      Bool(w, "drs_enabled", t, "drs_enabled");
      Bool(w, "vsan_enabled", t, "vsan_enabled");
      w.Key("host_count");
      o.hosts < 0 ? w.Null() : w.Int(o.hosts);
    } else if (cls == "hosts") {
      auto parent_type = t.find("parent_type");
      const bool clustered = parent_type != t.end() && parent_type->second == "ClusterComputeResource";
      const std::string cluster = clustered ? t.at("parent") : "";
      w.Key("cluster_moref");
      clustered ? w.String(cluster.c_str(), static_cast<rapidjson::SizeType>(cluster.size())) : w.Null();
      const std::string dc = datacenter(moref);
      w.Key("datacenter");
      dc.empty() ? w.Null() : w.String(dc.c_str(), static_cast<rapidjson::SizeType>(dc.size()));
      Text(w, "connection_state", t, "connection_state");
      Text(w, "power_state", t, "power_state");
      Bool(w, "maintenance_mode", t, "maintenance_mode");
      Text(w, "esxi_version", t, "esxi_version");
      Text(w, "esxi_build", t, "esxi_build");
      Text(w, "vendor", t, "vendor");
      Text(w, "model", t, "model");
      Text(w, "service_tag", t, "service_tag");
      Text(w, "serial_number", t, "serial_number");
      Text(w, "system_uuid", t, "system_uuid");
    } else if (cls == "vms") {
      Text(w, "host_moref", t, "host_moref");
      Text(w, "power_state", t, "power_state");
      Text(w, "guest_os", t, "guest_os");
      Int(w, "num_cpu", t, "num_cpu");
      Int(w, "memory_mib", t, "memory_mib");
      Text(w, "instance_uuid", t, "instance_uuid");
      Text(w, "guest_hostname", t, "guest_hostname");
      List(w, "ip_addresses", o.ips);
      List(w, "datastores", o.datastores);
      Text(w, "tools_status", t, "tools_status");
    } else if (cls == "datastores") {
      Text(w, "ds_type", t, "ds_type");
      Int(w, "capacity_bytes", t, "capacity_bytes");
      Int(w, "free_bytes", t, "free_bytes");
      Bool(w, "accessible", t, "accessible");
    } else if (cls == "networks") {
      w.Key("network_type");
      w.String(o.type.c_str(), static_cast<rapidjson::SizeType>(o.type.size()));
      Int(w, "vlan_id", t, "vlan_id");
    }
    w.EndObject();
  }
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace dcops::vcsync
