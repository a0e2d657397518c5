#pragma once
// The vim25 XML of each simulated object's properties, by property path, as vCenter writes
// them (a <val> with its xsi:type). Unset properties (a powered-off VM's guest identity) have
// no value: RetrievePropertiesEx leaves them out, an update assigns them without a <val>.
#include <optional>
#include <string>

#include "vc_model.hpp"

namespace dcops::sim::vcenter {

// The paths a client may ask of objects in a view of `view_type`.
bool KnownPath(const std::string& view_type, const std::string& path);

// The <val …>…</val> element of `path` on `o` (xsi prefix `xsi`), or nullopt when unset (or
// not a property of that object's own type, as a Network's port-group settings).
std::optional<std::string> PropertyValue(const Object& o, const std::string& path, const std::string& xsi);

}  // namespace dcops::sim::vcenter
