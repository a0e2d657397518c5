#pragma once
// What an accepted action does, chosen by its type ("#ComputerSystem.Reset"), never by URI:
// system power and restarts, manager resets (503 for --restart-ms), virtual media insert and
// eject, SimpleUpdate (a Task when the tree has a TaskService, else 204); anything else 204.
//
// Thread-safety: callers hold TreeSim's mutex.
#include <rapidjson/document.h>

#include "sim_state.hpp"

namespace dcops::sim::tree {

// `params` is the validated request body.
SimResponse ApplyAction(SimState& s, const ActionRef& action, const rapidjson::Value& params);

}  // namespace dcops::sim::tree
