#pragma once
// Authentication (DSP0266 "Security details"): which URIs are open without credentials, HTTP
// Basic, X-Auth-Token sessions (login by POST to the Sessions collection, logout by DELETE of
// the session).
//
// Thread-safety: callers hold TreeSim's mutex.
#include <string>

#include "sim_state.hpp"
#include "sim_types.hpp"
#include "target.hpp"

namespace dcops::sim::tree {

// The service root, /redfish, odata and $metadata, and the session login POST.
bool IsPublic(const SimState& s, const std::string& method, const std::string& path);
// Valid Basic credentials (when Basic is on) or a live session's X-Auth-Token.
bool Authenticated(const SimState& s, const SimRequest& req);
// 401 with WWW-Authenticate when Basic is on; counts it.
SimResponse Unauthorized(SimState& s);
// POST {"UserName", "Password"} to the Sessions collection.
SimResponse Login(SimState& s, const std::string& body);
// Whether `path` is a live session; Logout removes it (204).
bool IsSession(const SimState& s, const std::string& path);
SimResponse Logout(SimState& s, const std::string& path);

std::string Base64Decode(const std::string& in);

}  // namespace dcops::sim::tree
