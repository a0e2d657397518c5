#pragma once
// The quiet period before a rolling update's next host: DRS moves VMs back onto the host that
// just left maintenance, and the next host's safety check should judge the settled cluster.
// The end of the wait is saved in the step's checkpoint ({"quiet_until": epoch seconds}), so
// a retry of the step continues the wait it started instead of starting a new one.
//
// Blocks the step's thread (in slices of at most 5 s, with progress); cancellation ends it.

#include <chrono>
#include <optional>

#include "dcops/agent/step.hpp"

namespace dcops::esxi {

// Waits out `quiet` (nothing when zero). Returns how the step ends when it must end now
// (cancelled, or the checkpoint could not be saved), else nothing.
std::optional<agent::StepOutcome> WaitQuietPeriod(agent::StepContext& ctx, std::chrono::seconds quiet);

}  // namespace dcops::esxi
