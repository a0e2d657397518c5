#pragma once
// From an assignment to a Redfish target: the address in "idrac:<host>[:port]", the
// credentials handed over for this step, the target's TLS and pacing settings.
#include "dcops/agent/step.hpp"
#include "dcops/redfish/client.hpp"

namespace dcops::idrac {

inline constexpr const char* kSystemPath = "/redfish/v1/Systems/System.Embedded.1";

Result<redfish::Target> TargetFromAssignment(const agent::Assignment& a);

}  // namespace dcops::idrac
