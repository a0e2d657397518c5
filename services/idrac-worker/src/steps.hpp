#pragma once
// The idrac-worker's step kinds, in one explicit list.
//
// Ownership: WorkerDeps outlive the registry (they are the agent's shared HTTP client,
// Redfish session cache and clock). Thread-safety: steps run concurrently; the shared
// pieces are thread-safe.
#include "dcops/agent/step.hpp"
#include "dcops/http/client.hpp"
#include "dcops/redfish/breaker.hpp"
#include "dcops/redfish/service.hpp"
#include "dcops/redfish/session_cache.hpp"
#include "discovery_step.hpp"
#include "power_step.hpp"
#include "step_support.hpp"

namespace dcops::idrac {

struct WorkerDeps {
  http::Client& http;
  redfish::SessionCache& sessions;
  redfish::BreakerBoard& breakers;
  Clock& clock;
  PowerOptions power;
  OperationOptions ops;
  DiscoveryOptions discovery;
  // Where each BMC keeps its resources, learnt by navigation and shared by the steps.
  redfish::ServiceCache services{};
};

agent::StepRegistry MakeSteps(WorkerDeps& deps);

}  // namespace dcops::idrac
