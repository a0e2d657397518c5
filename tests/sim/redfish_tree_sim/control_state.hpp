#pragma once
// The control endpoint's view of the state: {"power_state", "power_states", "sessions_open",
// "logins", "requests", "unauthorized", "actions": [{"target", "type", "body"}],
// "patches": [{"uri", "body"}]}.
//
// Thread-safety: callers hold TreeSim's mutex.
#include <string>

#include "sim_state.hpp"

namespace dcops::sim::tree {

std::string StateJson(SimState& s);

}  // namespace dcops::sim::tree
