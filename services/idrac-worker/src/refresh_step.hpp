#pragma once
// server.refresh (basics): ServiceRoot, the first ComputerSystem and the first Manager into
// one JSON object shaped for dispatcher_v1_upsert_server. Read-only; any field the BMC
// answers wrongly fails the step with the resource and field named.
#include "dcops/agent/step.hpp"
#include "dcops/redfish/client.hpp"

namespace dcops::idrac {

agent::StepOutcome RunRefresh(agent::StepContext& ctx, redfish::Client& bmc);

}  // namespace dcops::idrac
