#include "dell.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "dcops/redfish/collection.hpp"
#include "dcops/redfish/task.hpp"

namespace dcops::idrac {

Result<std::optional<std::string>> LcStatus(redfish::Client& bmc) {
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

std::string ResourcePath(const std::string& location) {
  if (location.rfind("https://", 0) != 0 && location.rfind("http://", 0) != 0) return location;
  const auto slash = location.find('/', location.find("//") + 2);
  return slash == std::string::npos ? "/" : location.substr(slash);
}

}  // namespace dcops::idrac
