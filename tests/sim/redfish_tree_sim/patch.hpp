#pragma once
// PATCH (DSP0266 "PATCH (update)"): a JSON object merged into the resource. Read-only
// properties (@odata.*, annotations, Id, Actions, Links, PowerState) -> 400 PropertyNotWritable;
// a value outside a sibling `<Prop>@Redfish.AllowableValues` -> 400 PropertyValueNotInList; a
// property the resource does not have -> 400 PropertyUnknown; If-Match against @odata.etag ->
// 412. A PATCH of a settings object (@Redfish.Settings.SettingsObject) is kept pending until
// its owner's next reset (timeline.hpp).
//
// Thread-safety: callers hold TreeSim's mutex.
#include <string>

#include "sim_state.hpp"

namespace dcops::sim::tree {

// `if_match` is the If-Match header ("" when absent).
SimResponse Patch(SimState& s, const std::string& uri, const std::string& body,
                  const std::string& if_match);

}  // namespace dcops::sim::tree
