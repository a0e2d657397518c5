#pragma once
// The params a planned step carries: the job's params with the dispatcher's own members
// ("_bmc", "_endpoint", …) added. Pure functions; thread-safe.

#include <string>

#include "planner.hpp"

namespace dcops::dispatcher {

// `params_json` (a JSON object; anything else counts as {}) with `member` set to the JSON
// value `value_json`, replacing one of that name.
std::string WithMember(const std::string& params_json, const char* member, const std::string& value_json);

// The job's params with "_bmc" added: how the dispatcher reaches the server at assignment.
std::string StepParams(const std::string& job_params, const ServerRef& s);

// `params` with "_endpoint": {"id": id}: the endpoint the dispatcher reads at assignment.
std::string WithEndpoint(const std::string& params_json, const std::string& id);

// A UUID in its text form (36 characters, hex digits and dashes).
bool IsUuid(const std::string& id);

}  // namespace dcops::dispatcher
