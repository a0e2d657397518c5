#pragma once
// GET of a resource collection (DSP0266 "Query parameters", "Resource collections"): $skip and
// $top, server-side paging with Members@odata.nextLink under --page-size, the self-referencing
// nextLink quirk under --self-next-link, and $expand of members when the service root offers it.
//
// Thread-safety: callers hold TreeSim's mutex.
#include <rapidjson/document.h>

#include <string>

#include "sim_state.hpp"
#include "target.hpp"

namespace dcops::sim::tree {

bool IsCollection(const rapidjson::Value& doc);
SimResponse CollectionGet(const SimState& s, const Target& t, const rapidjson::Value& doc);

}  // namespace dcops::sim::tree
