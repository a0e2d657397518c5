#pragma once
// zfs.replicate: a snapshot of the source dataset with our prefix, brought to the target
// dataset by `zfs send` on the source piped by this worker into `zfs receive` on the target.
//
// In order (each step proven before the next):
//   1. both hosts reached over SSH (keys pinned) and probed (libs/zfs capabilities);
//   2. the snapshot `<dataset>@<prefix>_<UTC time>` made and seen, and saved in the checkpoint,
//      so a retry sends the same snapshot instead of making another;
//   3. a user hold (tag per pair) on it and on the incremental base, until the target has it;
//   4. an interrupted receive on the target (receive_resume_token) resumed with `send -t`;
//      aborted (`receive -A`) only when the source no longer has its snapshot; a token for
//      another source dataset is a refusal, never aborted;
//   5. the decision (libs/zfs replication_plan: full, incremental -i/-I from the newest common
//      snapshot or our bookmark, up to date, or a refusal: no common snapshot, diverged);
//   6. the stream, rate-limited, with progress in bytes and an ETA (`send -n -P` when the host
//      can estimate), into `receive -s -u` (where the target can) or plain `receive`;
//   7. the target shows the snapshot with the source's guid; then a bookmark of it on the
//      source as this pair's cursor (older cursors of the pair destroyed), and the holds
//      released.
// Send flags are stable per pair: `_pair.send_flags` (what the dispatcher recorded from the
// pair's first replication) wins; otherwise -w for an encrypted dataset, and -L -e -c when
// both hosts are OpenZFS with large blocks. The result says which were used.
//
// Params: source_dataset, target_dataset, snapshot_prefix ("dcops"), incremental ("I" or "i",
// default "I"), allow_target_destroy (false: never `receive -F`), bandwidth_limit_mib_s,
// stall_timeout_seconds (120). `_endpoint` / `_peer` / `_first_contact` as host_access.hpp.
//
// Errors: zfs.no_common_snapshot, zfs.diverged, zfs.target_modified, zfs.raw_unsupported,
// zfs.snapshot_gone, zfs.resume_conflict (not retryable); zfs.transfer_interrupted (retryable:
// the next attempt resumes); ssh.* and zfs.command_failed as they come.
//
// Thread-safety: one step per call.
#include "dcops/agent/step.hpp"
#include "host_access.hpp"

namespace dcops::zfs_worker {

agent::StepOutcome RunReplicate(agent::StepContext& ctx, const ShellConnector& connect);

}  // namespace dcops::zfs_worker
