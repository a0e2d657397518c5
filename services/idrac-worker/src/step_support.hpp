#pragma once
// What every idrac-worker step shares: typed reading of its params (dcops/agent/params.hpp),
// a small string-map checkpoint, polling a BMC until something holds, and
// following a task or Dell job to its end.
//
// Thread-safety: used by the one thread running a step. Blocking: the waits block, bounded
// by their options, and return early on cancellation.

#include <rapidjson/document.h>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dcops/agent/params.hpp"
#include "dcops/agent/step.hpp"
#include "dcops/redfish/client.hpp"
#include "dcops/redfish/task.hpp"

namespace dcops::idrac {

using agent::BadParam;
using agent::Params;

// A checkpoint as a flat map of strings ({"phase": "following", "task": "/redfish/…"}).
class Checkpoint {
 public:
  static Checkpoint Parse(const std::string& json);
  std::string Get(const std::string& key) const;
  Checkpoint& Set(const std::string& key, std::string value);
  std::string Json() const;

 private:
  std::map<std::string, std::string> values_;
};

// Timing of the operations that wait on a BMC; data, so tests run them fast.
struct OperationOptions {
  std::chrono::milliseconds poll_interval{5000};
  std::chrono::milliseconds task_timeout{std::chrono::hours(2)};       // a firmware job end to end
  std::chrono::milliseconds restart_timeout{std::chrono::minutes(15)};  // the iDRAC coming back
  std::chrono::milliseconds lc_ready_timeout{std::chrono::minutes(10)};
  int healthy_reads = 3;  // consecutive good reads before a restarted iDRAC counts as healthy
  // Where pushed firmware packages must be (server.firmware_update method push).
  std::string package_dir = "/var/lib/dcops/packages";
  std::chrono::milliseconds upload_timeout{std::chrono::minutes(30)};  // one package upload
};

enum class WaitEnd { kDone, kTimedOut, kCancelled };

// Polls `probe` every `interval` until it returns true, `timeout` passes, or cancellation.
// Errors the BMC recovers from (retryable ones: it is restarting, not ready, busy) are
// tolerated and kept in `*last_transient`; any other error ends the wait with that error.
Result<WaitEnd> WaitUntil(agent::StepContext& ctx, std::chrono::milliseconds interval,
                          std::chrono::milliseconds timeout, const std::function<Result<bool>()>& probe,
                          std::optional<Error>* last_transient = nullptr);

// Reads the task or job at `uri` until it finishes (or, with `stop_when_scheduled`, until it
// waits for a reboot), reporting its percentage scaled into [from, to]. The BMC restarting
// under it is waited out. A timeout is an error naming the task and its last state.
Result<redfish::TaskStatus> FollowTask(agent::StepContext& ctx, redfish::Client& bmc, const std::string& uri,
                                       const OperationOptions& options, std::chrono::milliseconds timeout,
                                       bool stop_when_scheduled, int from, int to);

// Now as Unix seconds in text, for a checkpoint ("since": when the device accepted an action).
std::string UnixSecondsText(const Clock& clock);
// How long ago `since` (UnixSecondsText) was, never negative; nullopt when "" or unreadable.
std::optional<std::chrono::milliseconds> Ago(const Clock& clock, const std::string& since);
// What is left of `timeout` counted from `since` (UnixSecondsText; "" or unreadable: all of it,
// never less than zero): a retried step continues the wait its first attempt began.
std::chrono::milliseconds TimeLeft(const Clock& clock, const std::string& since, std::chrono::milliseconds timeout);

// The outcome for an error: cancellation wins, then the error.
agent::StepOutcome FailedOrCancelled(agent::StepContext& ctx, const Error& e);

}  // namespace dcops::idrac
