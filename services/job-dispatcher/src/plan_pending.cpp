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
  // Each statement here is atomic on its own, and neither planning statement waits for its
  // WAL flush when it ends no job (see 20261205000300_quicker_pickup.sql), so a pass whose
  // every job plans cleanly costs two round trips: the pickup path of a new job.
  auto jobs = cp.JobsToPlan(site, limit);
  if (!jobs) {
    if (conn.Healthy()) log.Warn("could not read the jobs to plan", {}, {{"detail", jobs.error().message}});
    return 0;
  }
  if (jobs->empty()) return 0;
  std::vector<std::pair<std::string, std::vector<PlannedStep>>> plans;
  std::vector<EventRecord> notes;
  std::vector<std::pair<std::string, Error>> unplannable;
  for (const auto& job : *jobs) {
    auto plan = PlanOne(planners, job, dir);
    if (!plan) {
      unplannable.emplace_back(job.id, plan.error());
      continue;
    }
    for (auto& e : NoteEvents(job.id, *plan)) notes.push_back(std::move(e));
    plans.emplace_back(job.id, std::move(*plan));
  }
  // A job failed here commits durably however planning set synchronous_commit: the database
  // sees to that for every transaction that ends a job (20261205000500_durable_job_end.sql).
  auto write = [&](db::Connection&) -> Status {
    for (const auto& [id, why] : unplannable) {
      if (auto failed = cp.FailJob(id, why); !failed) return failed.error();
    }
    if (!plans.empty()) {
      if (auto n = cp.PlanJobs(plans); !n) return n.error();
    }
    if (auto n = cp.AppendEvents(notes); !n) return n.error();
    return {};
  };
  // More than the one plan statement: one transaction, so the batch is written whole or not at all.
  const bool one_statement = unplannable.empty() && notes.empty();
  const Status written = one_statement ? write(conn) : db::InTransaction(conn, write);
  if (written) {
    log.Debug(fmt::format("planned {} job(s)", jobs->size()));
    return static_cast<int>(jobs->size());
  }
  if (!conn.Healthy()) return 0;
  log.Warn(fmt::format("a batch of {} plan(s) was refused; planning its jobs one by one", jobs->size()), {},
           {{"detail", written.error().message}});
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
