#pragma once
// server.power: one power action on one server, idempotent and resumable.
//
//   1. read the state; when it already holds, succeed without acting ("already On");
//   2. send the action (emulating GracefulRestart / PowerCycle with off-then-on on firmware
//      that lacks them) and save a checkpoint right after the BMC accepted it, so a retried
//      step resumes waiting instead of resetting the server again;
//   3. wait until the BMC reports the requested state; GracefulShutdown gives up after its
//      timeout, then forces off when asked to;
//   4. a power-on the BMC refuses shortly after a power-off (409) snoozes the step (no attempt
//      used) and the next attempt sends it again.
// Cancellation is honoured at every wait; a power action has nothing to undo.
#include <chrono>

#include "dcops/agent/step.hpp"
#include "dcops/redfish/client.hpp"

namespace dcops::idrac {

struct PowerOptions {
  // How often the state is read while waiting.
  std::chrono::milliseconds poll_interval{2000};
  // How long a restart may take to show (the server leaving On) before we stop looking.
  std::chrono::milliseconds restart_observe{120000};
  // Bound on reaching the requested state after the action.
  std::chrono::milliseconds settle_timeout{600000};
  // How long to snooze when the BMC refuses a power-on right after a power-off.
  std::chrono::seconds refused_on_snooze{15};
};

agent::StepOutcome RunPower(agent::StepContext& ctx, redfish::Client& bmc,
                            const PowerOptions& options);

}  // namespace dcops::idrac
