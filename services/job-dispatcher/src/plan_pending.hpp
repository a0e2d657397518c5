#pragma once
// Planning pass of the dispatch loop: pending jobs of a site become steps through the planner
// registry; a job no planner can plan fails with the reason.
//
// Blocking: a handful of statements on `conn`. Thread-safety: none (the loop's connection).

#include <string>

#include "control_plane.hpp"
#include "dcops/common/log.hpp"
#include "planner.hpp"

namespace dcops::dispatcher {

// Finds, plans and writes up to `limit` pending jobs in one transaction (one commit per batch,
// not one per job). Should the batch fail, it is rolled back and the jobs are planned one by
// one, so one bad plan never holds the others back. Returns the number of jobs handled.
int PlanPendingJobs(ControlPlane& cp, db::Connection& conn, ServerDirectory& dir,
                    const PlannerRegistry& planners, const std::string& site, const Logger& log,
                    int limit = 200);

}  // namespace dcops::dispatcher
