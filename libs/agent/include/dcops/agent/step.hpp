#pragma once
// What a step is, for the code that performs it: an Assignment in, progress/events/
// checkpoints out through a StepContext, and a StepOutcome at the end. Pure domain types:
// the gRPC stream that carries them lives in the SDK's adapter, never in step code.

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dcops/common/clock.hpp"
#include "dcops/common/log.hpp"
#include "dcops/common/result.hpp"

namespace dcops::agent {

struct Credentials {
  std::string username;
  std::string password;  // secret: held in memory for the step only; never logged or stored
};

// A credential set by name, for steps that try several (discovery).
struct NamedCredentials {
  std::string id;
  std::string name;
  Credentials credentials;
};

struct TargetTls {
  bool verify = true;
  std::string pinned_sha256;
  bool legacy = false;
};

// One step handed to this agent by the dispatcher.
struct Assignment {
  std::string task_id;
  std::string lease_id;
  std::string job_id;
  std::string step_kind;      // "server.power"
  std::string target;         // "idrac:127.0.1.4:8443"
  std::string params_json;    // the step's parameters (validated by create_job)
  std::string checkpoint_json;  // what an earlier attempt saved, or ""
  std::string traceparent;
  int attempt = 1;
  int max_attempts = 1;
  Credentials credentials;
  std::vector<NamedCredentials> credential_sets;  // discovery: in the order to try them
  TargetTls tls;
  std::chrono::milliseconds min_interval{0};  // pacing for this target
};

struct StepOutcome {
  enum class Kind { kSucceeded, kFailed, kSnoozed, kCancelled };
  Kind kind = Kind::kSucceeded;
  std::string result_json;         // succeeded: the step's result (JSON object)
  Error error;                     // failed: what and whether retrying may help
  std::chrono::seconds snooze{0};  // snoozed: wait this long, without using an attempt
  std::string reason;              // snoozed / cancelled: why

  static StepOutcome Succeeded(std::string json) { return {Kind::kSucceeded, std::move(json), {}, {}, {}}; }
  static StepOutcome Failed(Error e) { return {Kind::kFailed, {}, std::move(e), {}, {}}; }
  static StepOutcome Snoozed(std::chrono::seconds s, std::string why) {
    return {Kind::kSnoozed, {}, {}, s, std::move(why)};
  }
  static StepOutcome Cancelled(std::string why) { return {Kind::kCancelled, {}, {}, {}, std::move(why)}; }
};

// The step's window on the world. Implementations: the SDK (over the agent's stream) and
// RecordingStepContext (tests).
// Thread-safety: used by the one thread running the step; CancelRequested() may flip at any
// time from another thread.
class StepContext {
 public:
  virtual ~StepContext() = default;
  virtual const Assignment& assignment() const = 0;
  virtual void Progress(int percent, std::string_view message) = 0;
  virtual void Event(LogLevel level, std::string_view message) = 0;
  // Saved before the step waits on something it started, so a retry resumes instead of
  // starting again. Fails when the lease is gone: the step should stop.
  virtual Status SaveCheckpoint(std::string json) = 0;
  // Sync steps: one batch of inventory (`kind` "ome.devices", "vcenter.vms", …; `json` an
  // array of objects), sent and confirmed as staged before this returns, so batches arrive in
  // order and memory stays bounded by one batch. Fails as SaveCheckpoint does.
  virtual Status SendInventory(std::string_view kind, std::string json) = 0;
  virtual bool CancelRequested() const = 0;
  virtual Clock& clock() = 0;
  // Waits `d`, returning early (false) when cancellation arrives.
  virtual bool Wait(std::chrono::milliseconds d) = 0;
};

// The largest inventory batch a step may send: gRPC refuses messages over 4 MB, and a refused
// message would break the agent's stream. SendInventory fails (agent.batch_too_large) above it.
inline constexpr std::size_t kMaxInventoryBatchBytes = 3 * 1024 * 1024;
Status CheckInventoryBatch(std::string_view kind, const std::string& json);

using StepFunction = std::function<StepOutcome(StepContext&)>;

// The one explicit list of step kinds an agent serves (no self-registration).
class StepRegistry {
 public:
  StepRegistry& Add(std::string kind, StepFunction fn);
  const StepFunction* Find(std::string_view kind) const;
  std::vector<std::string> kinds() const;
  // Runs the step of the context's kind. An unknown kind fails (agent.unknown_step); a step
  // that throws fails (agent.step_crashed, not retried: it may have acted) instead of taking
  // the agent and every other running step down with it.
  StepOutcome Run(StepContext& ctx) const;

 private:
  std::map<std::string, StepFunction, std::less<>> steps_;
};

}  // namespace dcops::agent
