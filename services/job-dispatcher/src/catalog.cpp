#include "catalog.hpp"

#include <fmt/format.h>

#include <set>

#include "control_plane.hpp"

#ifndef DCOPS_SCHEMA_VERSION
#error "DCOPS_SCHEMA_VERSION: set by services/job-dispatcher/CMakeLists.txt from the newest migration"
#endif

namespace dcops::dispatcher {

std::string_view BuiltSchemaVersion() { return DCOPS_SCHEMA_VERSION; }

Result<void> CheckSchemaVersion(const std::string& database_version, std::string_view required) {
  // Versions are fixed-width timestamps, so text order is time order.
  if (database_version.size() == required.size() && database_version >= required) return {};
  return MakeError("schema.too_old",
                   fmt::format("the database schema is at {}, this dispatcher needs {} or newer: run "
                               "`job-dispatcher migrate` (or apply deploy/supabase/migrations) first",
                               database_version.empty() ? "no recorded migration" : database_version, required));
}

std::vector<std::string> CatalogMismatches(const std::vector<CatalogEntry>& catalog, const PlannerRegistry& planners) {
  std::vector<std::string> out;
  std::set<std::string> listed;
  for (const auto& e : catalog) {
    listed.insert(e.job_type);
    if (e.enabled && planners.Find(e.job_type) == nullptr) {
      out.push_back(fmt::format("{} ({}) is enabled in job_types, but this dispatcher has no planner for it: "
                                "disable it or run a dispatcher that plans it",
                                e.job_type, e.agent_kind));
    }
  }
  for (const auto& name : planners.Names()) {
    if (listed.count(name) == 0) {
      out.push_back(fmt::format("this dispatcher plans {}, which job_types does not list: the database is older "
                                "than this build (run `job-dispatcher migrate`)",
                                name));
    }
  }
  return out;
}

Result<std::vector<std::string>> StartupProblems(ControlPlane& cp, const PlannerRegistry& planners) {
  std::vector<std::string> problems;
  // A database from before a function existed answers 42883 (undefined_function): that is a
  // schema too old to serve, not an outage.
  auto too_old = [](const Error& e) { return e.sqlstate == "42883"; };
  auto api = cp.ApiVersion();
  if (!api && !too_old(api.error())) return api.error();
  if (api && *api != kDispatcherApiVersion) {
    problems.push_back(fmt::format("the database speaks dispatcher API v{}, this dispatcher v{}", *api,
                                   kDispatcherApiVersion));
  }
  auto version = cp.SchemaVersion();
  if (!version && !too_old(version.error())) return version.error();
  if (auto fits = CheckSchemaVersion(version ? *version : std::string(), BuiltSchemaVersion()); !fits) {
    problems.push_back(fits.error().message);
    return problems;  // the catalog function may not exist yet either
  }
  auto catalog = cp.JobCatalog();
  if (!catalog) return catalog.error();
  for (auto& m : CatalogMismatches(*catalog, planners)) problems.push_back(std::move(m));
  return problems;
}

}  // namespace dcops::dispatcher
