#pragma once
// The Dell OEM parts of an iDRAC's Redfish service that steps share: the Lifecycle
// Controller's readiness and the LC job queue. The fixed paths below are Dell's, used only on
// a service the navigation confirmed as an iDRAC (ServiceMap::idrac); on other BMCs the LC
// has no state and the queue no jobs, and Dell-only steps refuse before they get here.
//
// Blocking: every call reads the BMC. Thread-safety: as the Client.
#include <optional>
#include <vector>
#include <string>

#include "dcops/redfish/client.hpp"
#include "step_support.hpp"

namespace dcops::idrac {

inline constexpr const char* kJobsPath = "/redfish/v1/Managers/iDRAC.Embedded.1/Jobs";
inline constexpr const char* kLcStatusAction =
    "/redfish/v1/Dell/Managers/iDRAC.Embedded.1/DellLCService/Actions/DellLCService.GetRemoteServicesAPIStatus";
inline constexpr const char* kDeleteJobQueueAction =
    "/redfish/v1/Dell/Managers/iDRAC.Embedded.1/DellJobService/Actions/DellJobService.DeleteJobQueue";

// The LC's state ("Ready", "NotReady", …), or nullopt on a BMC without Dell's LC service.
Result<std::optional<std::string>> LcStatus(redfish::Client& bmc);

// Waits until the LC says Ready (configuration jobs and updates are refused before). A BMC
// without the service counts as ready. A timeout is retryable: the LC is busy, not broken.
Status WaitForLcReady(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options);

// The LC job of `job_type` ("FirmwareUpdate", "BIOSConfiguration") still unfinished in the
// queue, or "": what a retry adopts when an earlier attempt's request went out but its answer
// was lost, instead of starting the work a second time. A BMC without a job queue has none.
// Jobs named in `known` (already followed by this step) are passed over.
Result<std::string> UnfinishedJob(redfish::Client& bmc, const std::string& job_type,
                                  const std::vector<std::string>& known = {});

// Errors that mean "the iDRAC is restarting": nothing listens, the connection drops, it is
// not ready.
bool IsRestarting(const Error& e);

// The manager's LastResetTime ("" when the BMC does not report it).
Result<std::string> ManagerLastReset(redfish::Client& bmc);

// How a BMC restart ended: the healthy reads after it, and whether the restart itself was seen.
struct RestartSeen {
  int healthy_reads = 0;
  bool verified = true;
};

// Waits until the BMC has restarted (LastResetTime moved from `reset_before`, or it was seen
// unreachable, or `seen_down` already) and then answered Health OK options.healthy_reads
// times in a row. A manager that reports no LastResetTime and was not seen going away within
// `observe` (a fast restart hidden behind Retry-After answers) is waited on for its healthy
// reads and returned as not verified. A timeout is idrac.reset_timeout (retryable).
Result<RestartSeen> WaitForIdracRestart(agent::StepContext& ctx, redfish::Client& bmc, const OperationOptions& options,
                                        const std::string& reset_before, bool seen_down, std::chrono::milliseconds timeout,
                                        std::chrono::milliseconds observe = std::chrono::milliseconds::max());

// "/redfish/v1/TaskService/Tasks/JID_1" from a Location header that may be absolute.
std::string ResourcePath(const std::string& location);

}  // namespace dcops::idrac
