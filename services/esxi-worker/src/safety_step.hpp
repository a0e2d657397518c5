#pragma once
// cluster.safety_check (read-only): before any host work, what would stop each host of a
// cluster from entering maintenance, and would the cluster keep its minimum of usable hosts
// without it (safety_check.hpp has the rules). The result is the structured report
// (safety_report_json.hpp), stored with the step and shown by `dcops`; the step succeeds
// whatever the verdicts (a check that ran is not a failed check), and a blocked host is also
// a warning event naming its blockers.
//
// Params (the dispatcher adds the underscored ones when it assigns the step):
//   min_hosts_up (1..64, optional): the operator's floor of usable hosts;
//   hosts (optional): host morefs to judge, default every host of the cluster (or, on a host
//   target "esxi:<id>", that host: the check a host job runs before it acts);
//   evacuate_powered_off (optional, default false);
//   _endpoint: {"address": "vcsa-01.lab.local", "cluster_moref": "domain-c8", …} the cluster's
//   vCenter (dispatcher_v1_sync_endpoint('cluster', id)).
// Credentials: the vCenter's, from the assignment. The session is logged out on every path.
//
// Thread-safety: one step per call; the http::Client is shared and thread-safe.
#include "dcops/agent/step.hpp"
#include "dcops/http/client.hpp"

namespace dcops::esxi {

agent::StepOutcome RunSafetyCheck(agent::StepContext& ctx, http::Client& http);

}  // namespace dcops::esxi
