#pragma once
// What time does to the simulated service, computed lazily from timestamps when someone
// looks (no threads sleep): a restarting system comes back On (and its pending settings
// apply), tasks move New -> Running -> Completed. Also the transitions the actions start.
//
// Thread-safety: callers hold TreeSim's mutex.
#include <string>

#include "sim_state.hpp"

namespace dcops::sim::tree {

// Brings every timed transition up to s.now().
void Settle(SimState& s);

// Sets PowerState of `system` (and LastResetTime, only if the resource has it, when `reset`).
void SetPower(SimState& s, const std::string& system, const char* state, bool reset);
// Starts a restart: Off now, On after --restart-ms (pending settings apply then).
void StartRestart(SimState& s, const std::string& system);
// Cancels a restart in progress of `system` (a later power action wins).
void CancelRestart(SimState& s, const std::string& system);
// Merges the pending settings of every settings owner at or under `uri` into their owners.
void ApplyPendingSettings(SimState& s, const std::string& uri);
// Creates a Task in the tasks collection; its URI.
std::string StartTask(SimState& s, const std::string& name);

}  // namespace dcops::sim::tree
