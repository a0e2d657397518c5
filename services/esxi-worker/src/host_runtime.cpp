#include "host_runtime.hpp"

namespace dcops::esxi {

Result<HostRuntime> ReadHostRuntime(vsphere::Client& vcenter, const vsphere::MoRef& host) {
  auto read = vcenter.ReadObject(host, kHostRuntimePaths);
  if (!read) return read.error();
  const auto& props = read->objects.front().props;
  auto text = [&](const char* path) {
    auto it = props.find(path);
    return it == props.end() ? std::string() : vsphere::TrimmedText(it->second);
  };
  HostRuntime h;
  h.in_maintenance = text("runtime.inMaintenanceMode") == "true";
  h.connection_state = text("runtime.connectionState");
  h.power_state = text("runtime.powerState");
  h.boot_time = text("runtime.bootTime");
  if (h.connection_state.empty()) {
    return MakeError("vsphere.schema", "HostSystem " + host.value + ": no runtime.connectionState");
  }
  if (auto it = props.find("recentTask"); it != props.end()) {
    for (const auto& ref : vsphere::Children(it->second, "ManagedObjectReference")) {
      h.recent_tasks.push_back({ref.attribute("type").value(), vsphere::TrimmedText(ref)});
    }
  }
  return h;
}

Result<std::optional<RecentTask>> FindStepTask(vsphere::Client& vcenter, const HostRuntime& host, const std::string& description_id,
                                               const std::string& known) {
  const std::string listed = "," + known + ",";
  for (auto it = host.recent_tasks.rbegin(); it != host.recent_tasks.rend(); ++it) {
    auto info = vcenter.ReadTask(*it);
    if (!info && info.error().code == "vsphere.managed_object_not_found") continue;
    if (!info) return info.error();
    if (info->description_id != description_id) continue;
    const bool new_since = !known.empty() && listed.find("," + it->value + ",") == std::string::npos;
    if (!info->finished() || new_since) return std::optional<RecentTask>(RecentTask{*it, *info});
  }
  return std::optional<RecentTask>();
}

std::string KnownTasks(const HostRuntime& host) {
  std::string out;
  for (const auto& t : host.recent_tasks) out += (out.empty() ? "" : ",") + t.value;
  return out.empty() ? "-" : out;  // "-": none, as opposed to not recorded
}

}  // namespace dcops::esxi
