#pragma once
// host.maintenance: enter or leave maintenance mode on one ESXi host through its vCenter.
//
// Enter: the cluster's safety check first, fresh (a host with blockers or a cluster that would
// fall below its minimum is refused before anything is sent, the reasons in the error and as
// events); then EnterMaintenanceMode_Task with vCenter's own timeout, evacuation of powered-off
// VMs and the vSAN data-evacuation mode as asked, followed through the property collector
// (progress while DRS migrates VMs) and proven by reading the host back. Already in
// maintenance: success, said so (outcome "already_in_maintenance").
// Exit: ExitMaintenanceMode_Task, likewise; not in maintenance: success, said so.
// Settle (a rolling update's finalizer, planned by the dispatcher, never a job's own action):
// an exit that first judges the host, from the dispatcher's "_finalizer" ({"steps": [...] of
// its host, "slot_held"}). Its exit succeeded, or the host is not in maintenance through this
// job (the slot is not the job's): nothing is done or recorded ("exited_before", "not_ours").
// Still in maintenance through the job, the host is left there with a warning saying why
// ("left_in_maintenance", success: a safe state) when one of its steps failed, a firmware or
// upgrade step started and did not finish, or it does not reconnect within
// _wait_connected_seconds; otherwise it exits as above.
//
// Written ahead: the step saves {"phase":"sending"} before it asks vCenter for the task and
// {"phase":"sent","task":…} once it has it. A retry after a crash asks vCenter what happened
// (the task it recorded, or a running entry task among the host's recent tasks, or the host's
// state) before it acts again, so a lost agent never starts a second entry.
// Cancel: a running entry is cancelled in vCenter and, when the host entered anyway, taken back
// out of maintenance: a cancelled step leaves the host as it found it.
//
// Params: action ("enter" | "exit"), evacuate_powered_off (bool), vsan_mode
// ("ensureObjectAccessibility" | "evacuateAllData" | "noAction"), timeout_seconds (60..86400,
// default 1800), min_hosts_up (1..64), and the dispatcher's "_endpoint" (host_moref, host_name,
// cluster_moref, address).
//
// Thread-safety: one step per call; the http::Client is shared and thread-safe.
#include "dcops/agent/step.hpp"
#include "dcops/http/client.hpp"

namespace dcops::esxi {

agent::StepOutcome RunMaintenance(agent::StepContext& ctx, http::Client& http);

}  // namespace dcops::esxi
