#pragma once
// inventory.vcenter_sync: a vCenter's clusters, hosts, VMs, datastores and networks, streamed
// to the dispatcher as batches ("vcenter.hosts", …, "vcenter.removed") and applied there in
// one transaction when the step succeeds.
//
// Full read: property filters over container views of every synced type, then
// WaitForUpdatesEx from version "" in pages of `page_size` objects (truncated update sets):
// the whole inventory and, from the same read, the collector version, so no change can slip
// between the read and the version. The batches follow the read (each object's datacenter is
// found through parents vCenter may list later). Incremental: when this agent still holds the vCenter's
// session at the version the last applied sync reached (the dispatcher hands it over as
// _endpoint.version), WaitForUpdatesEx from it returns only what changed; the session pool's
// cache makes whole objects of the changed properties. A version vCenter no longer knows, a
// session it dropped, or any failure of the incremental read falls back to a full read in
// the same step.
//
// Params: page_size (1..10000, default 1000); "_endpoint" {id, address, version} from the
// dispatcher. Result: {"mode": "full"|"incremental", "version", "batches", "objects": {class:
// n}, "removed": n, "round_trips": n}.
//
// Thread-safety: steps of different vCenters run in parallel; the pool serialises each one.
#include "dcops/agent/step.hpp"
#include "dcops/http/client.hpp"
#include "session_pool.hpp"

namespace dcops::vcsync {

struct SyncDeps {
  http::Client& http;
  SessionPool& pool;
};

agent::StepOutcome RunVcenterSync(agent::StepContext& ctx, SyncDeps deps);

agent::StepRegistry MakeSteps(SyncDeps deps);

}  // namespace dcops::vcsync
