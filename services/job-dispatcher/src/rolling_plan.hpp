#pragma once
// cluster.rolling_update: a cluster updated host by host, as one chain of steps across agents.
//
// Per host, in order (the host running this vCenter's own VM last):
//   check:<host>    cluster.safety_check on the host; after the first host it waits the quiet
//                   period first (`_quiet_seconds`: DRS settles the VMs the last host got back)
//   backup:<host>   server.scp_export of its server (params.backup)
//   enter:<host>    host.maintenance enter (its own safety check runs again just before; a
//                   host someone else put in maintenance meanwhile is refused, not taken over)
//   upgrade:<host>  host.esxi_upgrade (params.esxi): it needs the host connected, reboots it
//                   and proves the build, so it goes before any firmware restart
//   firmware:<host> server.firmware_update on its BMC (params.firmware; the server reboots as
//                   the update needs, the step proves the new versions)
//   refresh:<host>  server.refresh of its firmware: the iDRAC is back and the inventory shows
//                   what is installed now
//   exit:<host>     host.maintenance exit, after the host has reconnected
//   settle:<host>   a finalizer (host.maintenance settle): once the entry and the steps
//                   after it ended however they ended, a host still in maintenance through
//                   this job is brought out when healthy and nothing of its update failed or
//                   was left unfinished, else left there with the reason
// The next host's check waits for this host's exit, so a failure stops the job with later
// hosts untouched. Upgrade and firmware are not interrupted by a cancel once they run
// (on_cancel "finish"): a cancel finishes the current host to a safe state.
// With ha_admission_control "disable" and/or drs_behavior "fullyAutomated" the job starts
// with settings:apply (cluster.settings, recording what it found) and ends with
// settings:restore, a finalizer that runs after every other step however the job ends.
// parallel_hosts N (default 1) takes the hosts in waves of N, each wave after every exit of
// the one before (a failure or pause stops the next wave); refused on vSAN and when the cluster
// would keep fewer than min_hosts_up hosts up; the vCenter's host still goes last, alone. A blocked entry, an entry that timed out and a failed check pause the job
// instead (`_pause_on`), for an operator to resume (retry, evacuate, skip_host) or cancel;
// so does an entry that finds the host in maintenance put there by someone else.
// Each step carries "_rolling": {"host_id", "host", "position", "of"}.
//
// Not planned, and said in the plan's notes: a host whose server link is missing or in
// conflict when firmware or a backup is asked (which BMC to update would be a guess), and a
// host already in maintenance (someone took it out of service: whether it comes back is
// theirs to say; the other hosts' checks count it as down), and, when ESXi is to be upgraded,
// a host SSH is not set up for (no credential set or no pinned host key).
//
// Thread-safety: a pure function of its inputs.

#include "planner.hpp"

namespace dcops::dispatcher {

// The quiet period between hosts when the job does not say.
inline constexpr int kDefaultQuietSeconds = 60;

Result<Plan> PlanRollingUpdate(const JobToPlan& job, ServerDirectory& dir);

}  // namespace dcops::dispatcher
