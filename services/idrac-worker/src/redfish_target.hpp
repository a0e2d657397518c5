#pragma once
// From an assignment to a Redfish target: the address in "idrac:<host>[:port]", the
// credentials handed over for this step, the target's TLS and pacing settings; and where the
// BMC's system and manager are.
#include "dcops/agent/step.hpp"
#include "dcops/redfish/client.hpp"

namespace dcops::idrac {

Result<redfish::Target> TargetFromAssignment(const agent::Assignment& a);

// The computer system and the manager the service lists (navigated from the root, cached per
// BMC); redfish.unsupported when it lists none. Blocking: may read the BMC.
Result<std::string> SystemOf(redfish::Client& bmc);
Result<std::string> ManagerOf(redfish::Client& bmc);

}  // namespace dcops::idrac
