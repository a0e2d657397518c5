// server.job_queue_clear: Dell's DeleteJobQueue, then a check that the queue is empty.
#include <fmt/format.h>

#include "dell.hpp"
#include "operation_steps.hpp"

namespace dcops::idrac {

agent::StepOutcome RunJobQueueClear(agent::StepContext& ctx, redfish::Client& bmc) {
  using agent::StepOutcome;
  auto params = Params::Parse(ctx.assignment().params_json);
  if (!params) return StepOutcome::Failed(params.error());
  auto force = params->Flag("force");
  if (!force) return StepOutcome::Failed(force.error());

  auto jobs = bmc.Get(kJobsPath);
  if (!jobs) {
    if (jobs.error().code == "redfish.not_found") {
      return StepOutcome::Failed(MakeError("idrac.unsupported", bmc.target().address + " has no Dell job queue"));
    }
    return StepOutcome::Failed(jobs.error());
  }
  auto before = jobs->MemberIds();
  if (!before) return StepOutcome::Failed(before.error());
  if (before->empty() && !force->value_or(false)) {
    ctx.Progress(100, "the job queue is already empty");
    return StepOutcome::Succeeded(R"({"deleted":0})");
  }
  ctx.Progress(30, fmt::format("deleting {} job(s)", before->size()));
  const char* id = force->value_or(false) ? "JID_CLEARALL_FORCE" : "JID_CLEARALL";
  if (auto r = bmc.Post(kDeleteJobQueueAction, fmt::format(R"({{"JobID":"{}"}})", id)); !r) {
    return StepOutcome::Failed(r.error());
  }
  auto after = bmc.Get(kJobsPath);
  if (!after) return StepOutcome::Failed(after.error());
  auto left = after->MemberIds();
  if (!left) return StepOutcome::Failed(left.error());
  if (!left->empty()) {
    return StepOutcome::Failed(MakeError("idrac.job_queue_not_empty",
                                         fmt::format("{} job(s) remain after {}", left->size(), id), true));
  }
  ctx.Progress(100, fmt::format("deleted {} job(s)", before->size()));
  return StepOutcome::Succeeded(fmt::format(R"({{"deleted":{}}})", before->size()));
}

}  // namespace dcops::idrac
