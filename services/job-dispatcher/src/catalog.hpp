#pragma once
// The start-up checks that tie this dispatcher build to its database: the schema is at least
// the migration this build was made with, and the job-type catalog (public.job_types, the
// one source of what exists, is enabled and mutates) agrees with the planners registered
// here. A dispatcher that fails either refuses to start and says why; it never fails jobs
// one by one later with "plan.unknown_type".
//
// Thread-safety: pure functions.

#include <string>
#include <string_view>
#include <vector>

#include "dcops/common/result.hpp"
#include "planner.hpp"

namespace dcops::dispatcher {

struct CatalogEntry {
  std::string job_type;
  std::string agent_kind;
  bool mutating = false;
  bool enabled = false;
};

// The newest migration (14-digit version) in the tree this binary was built from.
std::string_view BuiltSchemaVersion();

// Error "schema.too_old" when `database_version` (empty: none recorded) is older than
// `required`. A newer database is fine: migrations keep the dispatcher_v1_* contract.
Result<void> CheckSchemaVersion(const std::string& database_version, std::string_view required);

// One line per disagreement, empty when none: an enabled type with no planner here (jobs of
// it would fail at planning), and a planner for a type the catalog does not list (its jobs
// could never be created; the database is older than this build). A disabled type without
// a planner is fine (an agent not built yet); so is a disabled type with one (an operator's
// choice).
std::vector<std::string> CatalogMismatches(const std::vector<CatalogEntry>& catalog, const PlannerRegistry& planners);

class ControlPlane;

// Everything that stops this dispatcher from serving the database `cp` talks to: the contract
// version, the schema version and the catalog, one line each (empty: fit to serve). An error
// is a failure to ask (the database went away): try again, it says nothing about fitness.
// Blocking: three statements.
Result<std::vector<std::string>> StartupProblems(ControlPlane& cp, const PlannerRegistry& planners);

// The dispatcher_v1 contract version this build speaks (dispatcher_v1_api_version()).
inline constexpr int kDispatcherApiVersion = 1;

}  // namespace dcops::dispatcher
