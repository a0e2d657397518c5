#pragma once
// The one list of step kinds esxi-worker serves (no self-registration).
#include "dcops/agent/step.hpp"
#include "dcops/http/client.hpp"

namespace dcops::esxi {

// The steps borrow `http`, which must outlive the registry; SSH sessions are opened per step.
agent::StepRegistry MakeSteps(http::Client& http);

}  // namespace dcops::esxi
