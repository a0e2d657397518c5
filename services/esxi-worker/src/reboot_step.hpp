#pragma once
// host.reboot: reboot (or shut down) one ESXi host through its vCenter, and prove it.
//
// Refused unless the host is in maintenance (require_maintenance, default true; false sends
// the task with force). Reboot: RebootHost_Task, followed to its end, then the host is
// watched through the property collector until vCenter has it connected again with a boot
// time other than the one read before: the proof that it rebooted. Disconnection on the way is
// reported as progress. Shutdown: ShutdownHost_Task, then until vCenter loses the host
// (outcome "disconnected": vCenter cannot read a host that is off; said so).
//
// Written ahead as host.maintenance is ({"phase":"sending"|"sent", "before": boot time}): a
// retry continues the wait its predecessor started (a boot time that already moved is the
// reboot it asked for) and never sends a second reboot while one is running.
//
// Params: action ("reboot" | "shutdown", default reboot), require_maintenance (default true),
// timeout_seconds (60..86400, default 1800: the whole wait for the host to come back),
// "_endpoint" as host.maintenance.
//
// Thread-safety: one step per call; the http::Client is shared and thread-safe.
#include <chrono>

#include "dcops/agent/step.hpp"
#include "dcops/http/client.hpp"
#include "dcops/vsphere/client.hpp"
#include "task_json.hpp"
#include "vcenter_target.hpp"

namespace dcops::esxi {

agent::StepOutcome RunReboot(agent::StepContext& ctx, http::Client& http);

struct RebootParams {
  bool shutdown = false;
  bool require_maintenance = true;
  std::chrono::seconds timeout{1800};
};

// The reboot itself, for steps that end with one (host.esxi_upgrade), in the caller's session.
// `from` is where the calling step stands: empty, or a phase of the caller's own whose
// `before` is the boot time read before the caller acted (a boot time that moved since is
// that reboot, not repeated). Succeeds with the reboot's result JSON.
agent::StepOutcome RebootHost(agent::StepContext& ctx, vsphere::Client& vcenter, const VcenterTarget& target,
                              const RebootParams& p, const HostCheckpoint& from);

}  // namespace dcops::esxi
