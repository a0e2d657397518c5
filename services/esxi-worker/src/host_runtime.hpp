#pragma once
// One ESXi host as the host steps see it in vCenter: maintenance, connection, power, boot
// time, and the tasks vCenter lists as recent on it (how a retry learns what an earlier
// attempt started before it acts again).
//
// Blocking (the client's calls); one user of the client at a time.
#include <optional>
#include <string>
#include <vector>

#include "dcops/vsphere/client.hpp"

namespace dcops::esxi {

struct HostRuntime {
  bool in_maintenance = false;
  std::string connection_state, power_state, boot_time;
  std::vector<vsphere::MoRef> recent_tasks;
};

// The HostSystem properties this reads, and the ones a host watch follows.
inline const std::vector<std::string> kHostRuntimePaths = {"runtime.inMaintenanceMode", "runtime.connectionState",
                                                           "runtime.powerState", "runtime.bootTime", "recentTask"};

Result<HostRuntime> ReadHostRuntime(vsphere::Client& vcenter, const vsphere::MoRef& host);

struct RecentTask {
  vsphere::MoRef task;
  vsphere::TaskInfo info;
};
// The newest of the host's recent tasks with this descriptionId ("HostSystem.enterMaintenanceMode")
// that is queued or running, or (any state) not among `known` (the tasks the host listed before
// a step asked for its own: a new one is the step's); nullopt when there is none. A task gone
// since the list was read is skipped.
Result<std::optional<RecentTask>> FindStepTask(vsphere::Client& vcenter, const HostRuntime& host, const std::string& description_id,
                                               const std::string& known = "");
// The host's recent tasks as a checkpoint keeps them ("task-1,task-7").
std::string KnownTasks(const HostRuntime& host);

}  // namespace dcops::esxi
