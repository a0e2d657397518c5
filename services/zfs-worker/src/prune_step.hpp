#pragma once
// zfs.prune: snapshots with our prefix beyond a retention grid destroyed, on the source and
// (for a pair) on the target, never what replication still needs.
//
// With a target (`_peer` and target_dataset) the step reads both sides first: the newest
// snapshot both hold is replication's next base and is kept on both sides, as is every source
// snapshot newer than it (not replicated yet). A pair that shares no snapshot has never
// replicated: nothing is pruned on either side, and the step says so. Every other recorded
// pair of either dataset (`_pair`, from zfs_replication_pairs at assignment) keeps what it
// still needs too: its last snapshot and, where the dataset sends, everything newer. Held
// snapshots, others' snapshots and bookmarks are never touched. Each destroy is its own command; a refusal is an
// event and a count, and the snapshots are listed again afterwards to prove what is gone.
//
// Params: dataset, snapshot_prefix ("dcops"), source_grid (e.g. "24x1h | 14x1d | 6x30d"),
// target_dataset and target_grid (a pair), keep_last (1..100000, default 1),
// dry_run (report only).
//
// Thread-safety: one step per call.
#include "dcops/agent/step.hpp"
#include "replicate_step.hpp"

namespace dcops::zfs_worker {

agent::StepOutcome RunPrune(agent::StepContext& ctx, const ShellConnector& connect);

}  // namespace dcops::zfs_worker
