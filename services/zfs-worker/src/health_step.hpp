#pragma once
// zfs.health: a ZFS host's pools, datasets and snapshot counts, with the problems an operator
// acts on: a pool not ONLINE, devices not ONLINE, read/write/checksum or data errors, a scrub
// that found errors, never ran or is older than max_scrub_age_days (35), capacity at 80 % or
// more (90 %: an error). Each problem is an event (warn, or error for data at risk); the step
// succeeds when it could read the host: health is its result, not its failure.
// Capabilities are probed per pool and reported, for the dispatcher to record with the host.
//
// Scrub dates are printed by zpool in the host's local time without a zone; they are read as
// UTC, so an age can be off by the host's offset (hours against a limit in days).
//
// Params: pools (names; default all), max_scrub_age_days (1..3650). Thread-safety: one step
// per call.
#include "dcops/agent/step.hpp"
#include "replicate_step.hpp"

namespace dcops::zfs_worker {

agent::StepOutcome RunHealth(agent::StepContext& ctx, const ShellConnector& connect);

}  // namespace dcops::zfs_worker
