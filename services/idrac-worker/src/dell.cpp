#include "dell.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "dcops/redfish/collection.hpp"
#include "dcops/redfish/task.hpp"
#include "redfish_target.hpp"

namespace dcops::idrac {

Result<std::optional<std::string>> LcStatus(redfish::Client& bmc) {
  auto map = bmc.Map();
  if (!map) return map.error();
  if (!map->idrac) return std::optional<std::string>();  // no Lifecycle Controller to ask
  auto r = bmc.Post(kLcStatusAction, "{}");
  if (!r) {
    if (r.error().code == "redfish.not_found" || r.error().code == "redfish.bad_request") {
      return std::optional<std::string>();
    }
    return r.error();
  }
  auto doc = redfish::Document::Parse(kLcStatusAction, r->body, r->Header("Content-Type"));
  if (!doc) return doc.error();
  auto lc = doc->String("LCStatus");
  if (!lc) return lc.error();
  return std::optional<std::string>(*lc);
}

Status WaitForLcReady(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options) {
  std::string last = "unknown";
  auto end = WaitUntil(ctx, options.poll_interval, options.lc_ready_timeout, [&]() -> Result<bool> {
    auto lc = LcStatus(bmc);
    if (!lc) return lc.error();
    if (!*lc) return true;
    last = **lc;
    return last == "Ready";
  });
  if (!end) return end.error();
  if (*end == WaitEnd::kCancelled) return MakeError("step.cancelled", "cancelled while waiting for the Lifecycle Controller");
  if (*end == WaitEnd::kTimedOut) {
    return MakeError("idrac.lc_not_ready",
                     fmt::format("the Lifecycle Controller stayed '{}' for {} s", last,
                                 std::chrono::duration_cast<std::chrono::seconds>(options.lc_ready_timeout).count()),
                     true);
  }
  return Status();
}

Result<std::string> UnfinishedJob(redfish::Client& bmc, const std::string& job_type,
                                  const std::vector<std::string>& known) {
  auto map = bmc.Map();
  if (!map) return map.error();
  if (!map->idrac) return std::string();  // no Dell job queue
  auto jobs = redfish::ReadMembers(bmc, kJobsPath, {});
  if (!jobs) return jobs.error().code == "redfish.not_found" ? Result<std::string>(std::string()) : jobs.error();
  for (const auto& j : *jobs) {
    auto status = redfish::ParseTask(j);
    const std::string id = j.resource().substr(j.resource().rfind('/') + 1);
    const bool seen = std::any_of(known.begin(), known.end(), [&id](const std::string& k) {
      return k.substr(k.rfind('/') + 1) == id;  // a task monitor or the job itself: same JID
    });
    if (status && status->job_type == job_type && !status->finished() && !seen) return j.resource();
  }
  return std::string();
}

namespace {

struct ManagerState {
  std::string last_reset;  // "" when the BMC does not report it
  std::string health;
};

Result<ManagerState> ReadManager(redfish::Client& bmc) {
  auto manager = ManagerOf(bmc);
  if (!manager) return manager.error();
  auto mgr = bmc.Get(*manager);
  if (!mgr) return mgr.error();
  auto health = mgr->String("Status/Health");
  if (!health) return health.error();
  return ManagerState{mgr->OptionalString("LastResetTime").value_or(""), *health};
}


}  // namespace

bool IsRestarting(const Error& e) {
  return e.code.rfind("http.", 0) == 0 || e.code == "redfish.not_ready" || e.code == "redfish.server_error";
}

Result<std::string> ManagerLastReset(redfish::Client& bmc) {
  auto m = ReadManager(bmc);
  if (!m) return m.error();
  return m->last_reset;
}

Result<RestartSeen> WaitForIdracRestart(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options,
                                        const std::string& reset_before, bool seen_down, std::chrono::milliseconds timeout,
                                        std::chrono::milliseconds observe) {
  ctx.Progress(30, "waiting for the iDRAC to restart");
  int healthy = 0;
  bool restarted = seen_down;
  bool unproven = false;
  const auto start = ctx.clock().Steady();
  std::optional<Error> transient;
  auto end = WaitUntil(
      ctx, options.poll_interval, timeout,
      [&]() -> Result<bool> {
        auto m = ReadManager(bmc);
        if (!m) {
          healthy = 0;
          if (IsRestarting(m.error())) {
            restarted = true;
            return MakeError(m.error().code, m.error().message, true);
          }
          return m.error();
        }
        if (!reset_before.empty() && m->last_reset != reset_before) restarted = true;
        if (!restarted && reset_before.empty() && m->last_reset.empty() && ctx.clock().Steady() - start >= observe) {
          unproven = true;  // nothing can show it any more: take healthy reads, say unverified
        }
        if (!restarted && !unproven) return false;
        healthy = m->health == "OK" ? healthy + 1 : 0;
        ctx.Progress(60 + 40 * healthy / (options.healthy_reads + 1),
                     fmt::format("iDRAC answers: health {} ({} of {} reads)", m->health, healthy, options.healthy_reads));
        return healthy >= options.healthy_reads;
      },
      &transient);
  if (!end) return end.error();
  if (*end == WaitEnd::kCancelled) return MakeError("step.cancelled", "cancelled while waiting for the iDRAC");
  if (*end == WaitEnd::kTimedOut) {
    return MakeError("idrac.reset_timeout",
                     fmt::format("the iDRAC {} within {} s{}", restarted ? "did not become healthy" : "was never seen restarting",
                                 std::chrono::duration_cast<std::chrono::seconds>(timeout).count(),
                                 transient ? " (last error: " + transient->message + ")" : ""),
                     true);
  }
  return RestartSeen{healthy, !unproven};
}

std::string ResourcePath(const std::string& location) {
  if (location.rfind("https://", 0) != 0 && location.rfind("http://", 0) != 0) return location;
  const auto slash = location.find('/', location.find("//") + 2);
  return slash == std::string::npos ? "/" : location.substr(slash);
}

}  // namespace dcops::idrac
