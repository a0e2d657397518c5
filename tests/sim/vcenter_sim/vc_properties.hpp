#pragma once
// The vim25 XML of each simulated object's properties, by property path, as vCenter writes
// them (a <val> with its xsi:type). Unset properties (a powered-off VM's guest identity) have
// no value: RetrievePropertiesEx leaves them out, an update assigns them without a <val>.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vc_model.hpp"

namespace dcops::sim::vcenter {

// The paths a client may ask of objects in a view of `view_type`.
bool KnownPath(const std::string& view_type, const std::string& path);

// The <val …>…</val> element of `path` on `o` (xsi prefix `xsi`), or nullopt when unset (or
// not a property of that object's own type, as a Network's port-group settings).
std::optional<std::string> PropertyValue(const Object& o, const std::string& path, const std::string& xsi);

// ManagedEntity.recentTask of every entity with tasks: those queued or running and those that
// completed in the 10 minutes before `now`, oldest first (the default of TaskManager.recentTask).
std::map<std::string, std::vector<std::string>> RecentTasks(const std::map<std::string, Object>& all,
                                                            std::chrono::system_clock::time_point now);

}  // namespace dcops::sim::vcenter
