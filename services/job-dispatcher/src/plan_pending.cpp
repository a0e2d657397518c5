#include "plan_pending.hpp"

#include <fmt/format.h>

namespace dcops::dispatcher {
namespace {

Result<Plan> PlanOne(const PlannerRegistry& planners, const JobToPlan& job,
                                         ServerDirectory& dir) {
  const Planner* planner = planners.Find(job.job_type);
  if (planner == nullptr) {
    return MakeError("plan.unknown_type", "this dispatcher cannot plan job type " + job.job_type);
  }
  return (*planner)(job, dir);
}

// A plan's notes, as warnings of its job: what the plan left out and why.
std::vector<EventRecord> NoteEvents(const std::string& job_id, const Plan& plan) {
  std::vector<EventRecord> events;
  for (const auto& note : plan.notes) events.push_back(EventRecord{job_id, "", "warn", note, "", "dispatcher", ""});
  return events;
}

}  // namespace

int PlanPendingJobs(ControlPlane& cp, db::Connection& conn, ServerDirectory& dir,
                    const PlannerRegistry& planners, const std::string& site, const Logger& log, int limit) {
  std::size_t planned = 0;
  auto batch = [&](db::Connection& tx) -> Status {
    // A plan's commit does not wait for its WAL flush: a plan lost with a crashed server
    // leaves its jobs pending, and they are planned again. Nothing acts on a plan before a
    // step of it is claimed, and the claim's own commit waits for the flush, which takes
    // every earlier WAL record with it, so no claimed step ever rests on a lost plan.
    if (auto async = tx.Exec("SET LOCAL synchronous_commit TO off"); !async) return async.error();
    auto jobs = cp.JobsToPlan(site, limit);
    if (!jobs) return jobs.error();
    std::vector<std::pair<std::string, std::vector<PlannedStep>>> plans;
    std::vector<EventRecord> notes;
    for (const auto& job : *jobs) {
      auto plan = PlanOne(planners, job, dir);
      if (!plan) {
        if (auto failed = cp.FailJob(job.id, plan.error()); !failed) return failed.error();
        continue;
      }
      for (auto& e : NoteEvents(job.id, *plan)) notes.push_back(std::move(e));
      plans.emplace_back(job.id, std::move(*plan));
    }
    if (!plans.empty()) {
      if (auto n = cp.PlanJobs(plans); !n) return n.error();
    }
    if (auto n = cp.AppendEvents(notes); !n) return n.error();
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
  int settled = 0;  // planned, or failed for good; a job whose write may succeed later is not
  for (const auto& job : *jobs) {
    auto plan = PlanOne(planners, job, dir);
    auto n = plan ? cp.PlanJob(job.id, *plan) : Result<int>(plan.error());
    if (n) {
      if (auto noted = cp.AppendEvents(NoteEvents(job.id, *plan)); !noted) {
        log.Warn("a plan's notes could not be written to its job", {job.id, "", "", ""},
                 {{"detail", noted.error().message}});
      }
    }
    if (!n) {
      log.Error("planning failed", {job.id, "", "", ""}, {{"detail", n.error().message}});
      if (!n.error().retryable) {
        // Counted as settled all the same: it stays pending and the next pass fails it, or says
        // why not, while the rest of a backlog keeps its pace.
        if (auto failed = cp.FailJob(job.id, n.error()); !failed) {
          log.Error("a job that cannot be planned could not be failed either", {job.id, "", "", ""},
                    {{"detail", failed.error().message}});
        }
      }
    }
    if (n || !n.error().retryable) ++settled;
  }
  return settled;
}

}  // namespace dcops::dispatcher
