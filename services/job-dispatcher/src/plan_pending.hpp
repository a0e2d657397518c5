#pragma once
// Planning pass of the dispatch loop: pending jobs of a site become steps through the planner
// registry; a job no planner can plan fails with the reason.
//
// Blocking: a handful of statements on `conn`. Thread-safety: none (the loop's connection).

#include <chrono>
#include <string>

#include "control_plane.hpp"
#include "dcops/common/log.hpp"
#include "planner.hpp"

namespace dcops::dispatcher {

// Finds, plans and writes up to `limit` pending jobs: in one statement when every job planned
// without notes, else in one transaction with the failures and notes (one commit per batch,
// not one per job). Should the batch fail, nothing of it is written and the jobs are planned
// one by one, so one bad plan never holds the others back. Returns the number of jobs handled
// (planned, or failed for good; not those whose write may succeed later): as many as `limit`
// says more may be pending, and the loop plans again in its next round.
inline constexpr int kPlanBatch = 200;
int PlanPendingJobs(ControlPlane& cp, db::Connection& conn, ServerDirectory& dir,
                    const PlannerRegistry& planners, const std::string& site, const Logger& log,
                    int limit = kPlanBatch);

// When the loop runs a planning pass: when woken (a NOTIFY, a schedule fired), while the last
// pass took a full batch (a backlog is announced once, when its jobs are created, so nothing
// else would say more is pending), and every `poll` regardless (a NOTIFY lost while the
// listener reconnected). Thread-safety: none (the loop's).
class PlanCadence {
 public:
  using Time = std::chrono::steady_clock::time_point;
  explicit PlanCadence(std::chrono::milliseconds poll) : poll_(poll) {}
  bool Due(Time now, bool woken) const { return woken || backlog_ || !ever_ || now - last_ >= poll_; }
  // A pass handled `handled` jobs at `now`.
  void Planned(int handled, Time now) {
    backlog_ = handled >= kPlanBatch;
    ever_ = true;
    last_ = now;
  }

 private:
  std::chrono::milliseconds poll_;
  bool backlog_ = false;
  bool ever_ = false;  // planned at all yet
  Time last_{};
};

}  // namespace dcops::dispatcher
