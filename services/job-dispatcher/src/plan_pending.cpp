#include "plan_pending.hpp"

#include <fmt/format.h>

namespace dcops::dispatcher {
namespace {

Result<std::vector<PlannedStep>> PlanOne(const PlannerRegistry& planners, const JobToPlan& job,
                                         ServerDirectory& dir) {
  const Planner* planner = planners.Find(job.job_type);
  if (planner == nullptr) {
    return MakeError("plan.unknown_type", "this dispatcher cannot plan job type " + job.job_type);
  }
  return (*planner)(job, dir);
}

}  // namespace

int PlanPendingJobs(ControlPlane& cp, db::Connection& conn, ServerDirectory& dir,
                    const PlannerRegistry& planners, const std::string& site, const Logger& log, int limit) {
  std::size_t planned = 0;
  auto batch = [&](db::Connection&) -> Status {
    auto jobs = cp.JobsToPlan(site, limit);
    if (!jobs) return jobs.error();
    std::vector<std::pair<std::string, std::vector<PlannedStep>>> plans;
    for (const auto& job : *jobs) {
      auto steps = PlanOne(planners, job, dir);
      if (!steps) {
        if (auto failed = cp.FailJob(job.id, steps.error()); !failed) return failed.error();
        continue;
      }
      plans.emplace_back(job.id, std::move(*steps));
    }
    if (!plans.empty()) {
      if (auto n = cp.PlanJobs(plans); !n) return n.error();
    }
    planned = jobs->size();
    return {};
  };
  if (db::InTransaction(conn, batch)) {
    if (planned > 0) log.Debug(fmt::format("planned {} job(s)", planned));
    return static_cast<int>(planned);
  }
  if (!conn.Healthy()) return 0;
  auto jobs = cp.JobsToPlan(site, limit);
  if (!jobs) return 0;
  for (const auto& job : *jobs) {
    auto steps = PlanOne(planners, job, dir);
    auto n = steps ? cp.PlanJob(job.id, *steps) : Result<int>(steps.error());
    if (!n) {
      log.Error("planning failed", {job.id, "", "", ""}, {{"detail", n.error().message}});
      if (!n.error().retryable) (void)cp.FailJob(job.id, n.error());
    }
  }
  return static_cast<int>(jobs->size());
}

}  // namespace dcops::dispatcher
