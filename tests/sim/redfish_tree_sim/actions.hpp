#pragma once
// POST to an action target (DSP0266 "POST (action)"): the body must be a JSON object; the
// parameters with allowable values (`<Param>@Redfish.AllowableValues` in the action, or the
// `Parameters` of the ActionInfo at `@Redfish.ActionInfo`) and the required ones are checked;
// the accepted action is recorded and its effect applied (action_effects.hpp).
//
// Thread-safety: callers hold TreeSim's mutex.
#include <string>

#include "sim_state.hpp"

namespace dcops::sim::tree {

SimResponse RunAction(SimState& s, const std::string& target, const ActionRef& action,
                      const std::string& body);

}  // namespace dcops::sim::tree
