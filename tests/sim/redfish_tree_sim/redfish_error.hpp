#pragma once
// Redfish error answers (DSP0266 "Error responses"): {"error": {"code", "message",
// "@Message.ExtendedInfo": [{"MessageId": "Base.1.8.<id>", "Message", "MessageArgs",
// "Severity", "Resolution"}]}}.
//
// Thread-safety: pure functions.
#include <string>
#include <vector>

#include "sim_types.hpp"

namespace dcops::sim::tree {

// `id` is the Base registry message key without its prefix ("ResourceMissingAtURI").
SimResponse RedfishError(int status, const std::string& id, const std::string& message,
                         const std::vector<std::string>& args = {},
                         const std::vector<std::string>& related_properties = {});

SimResponse ResourceMissing(const std::string& uri);
SimResponse MalformedJson(const std::string& why);
SimResponse MethodNotAllowed(const std::string& uri, const std::string& allow);

}  // namespace dcops::sim::tree
