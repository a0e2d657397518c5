#pragma once
// Derives from a loaded tree what the simulator needs to behave: every action target (from
// each resource's Actions and Actions/Oem), every settings object (@Redfish.Settings), the
// sessions collection (if auth mode allows sessions), the tasks collection and $expand support.
//
// Thread-safety: runs once, before the state is shared.
#include "dcops/common/result.hpp"
#include "sim_state.hpp"

namespace dcops::sim::tree {

// Fills the derived fields of `s` from s.tree and s.options. Errors: --auth session on a tree
// without sessions.
Status IndexTree(SimState& s);

}  // namespace dcops::sim::tree
