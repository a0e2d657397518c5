#pragma once
// The dispatcher's logic, without a network or a database: the connected agents and the steps
// they run, the per-target limits and affinity, what each agent message means (progress,
// checkpoints, inventory batches, heartbeats, results) and which control-plane writes and
// agent messages follow from it, assignment, demotion and agent tending. The loop in
// dispatcher.cpp feeds it; the control plane is a CorePort, agents are AgentLinks, time is a
// Clock: all three have fakes, so this is unit-tested (dispatch_core_test.cpp).
//
// Thread-safety: none. One loop thread owns a DispatchCore; agents' connection threads only
// post Inbound messages to that loop. Blocking: as the CorePort it is given.
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent_conn.hpp"
#include "catalog.hpp"
#include "core_port.hpp"
#include "dcops/common/clock.hpp"
#include "dcops/common/log.hpp"
#include "dcops/common/redact.hpp"
#include "limits.hpp"
#include "metrics.hpp"
#include "write_behind.hpp"

namespace dcops::dispatcher {

struct CoreOptions {
  std::string site = "default";
  std::string dispatcher_id;
  std::chrono::seconds lease{30};
  std::chrono::milliseconds heartbeat{5000};
  std::chrono::milliseconds retention{0};
  LimitsConfig limits;
};

class DispatchCore {
 public:
  // Not copyable or movable: deferred writes refer to this core.
  DispatchCore(const DispatchCore&) = delete;
  DispatchCore& operator=(const DispatchCore&) = delete;
  DispatchCore(CoreOptions options, Clock& clock, const Logger& log, SecretRegistry& redact,
               DispatcherMetrics& metrics);

  // The job-type catalog as read at start: an agent is given only the step kinds the catalog
  // lists for its agent kind (an agent newer or older than the catalog, or one posing as
  // another kind, says so in the log and gets nothing it should not run).
  void SetCatalog(const std::vector<CatalogEntry>& catalog);
  // An agent said Hello: registered, welcomed; an earlier connection under its id is fenced.
  void OnHello(CorePort& port, const std::shared_ptr<AgentConn>& conn);
  // An agent's connection ended.
  void OnGone(CorePort& port, const std::shared_ptr<AgentConn>& conn);
  // One message of a connected agent. False: the database is away and the message must be
  // handled again later (the agent waits for its ack); the caller keeps it.
  bool OnMessage(CorePort& port, AgentConn& conn, const agent::v1::AgentMessage& m);
  // Claims and assigns steps for every agent with free capacity, within the limits.
  // `new_work`: something may have made steps claimable (a NOTIFY, jobs planned, steps
  // rescued, an agent come or gone, a result that freed a slot or put its step back). Without
  // it, an agent whose last claim took everything it could (ClaimedStep::queue_drained, or
  // nothing found) and left no target out at its limit is not asked again for
  // kDrainedRecheck: an idle site's agents cost the database a claim each per recheck instead
  // of one per loop round (20 a second), and a result's round does not claim for nothing
  // ahead of the next job's planning. The recheck finds what becomes ready with time alone (a
  // retry's backoff, a snooze).
  void AssignWork(CorePort& port, bool new_work = true);
  // Whether something since the last call may have made steps claimable that no NOTIFY will
  // announce: a step write of the loop's own session landed (a snooze, a retry, a failure, a
  // cancel: Ensure, RetryDeferred), or a result freed a full agent's slot. New work for
  // AssignWork. Reading it clears it.
  bool TakeFreedWork() { return std::exchange(freed_work_, false); }
  static constexpr std::chrono::milliseconds kDrainedRecheck{250};
  // A new leader counts the steps agents still hold against the limits. False: not read.
  bool AdoptHeldSteps(CorePort& port);
  // Leadership is gone: every agent is fenced and nothing held here counts any more.
  // Returns how many agents were connected.
  std::size_t Demote();
  // Agents heard from within three heartbeats are reported with their running counts; the
  // silent ones are fenced.
  void TendAgents(CorePort& port);
  // Retention: a few batches of finished jobs per call.
  void Prune(CorePort& port);
  // Steps whose leases were rescued: no longer running here.
  void Rescued(const std::vector<RescuedStep>& steps);
  // Writes that end a step (its failure, snooze, cancellation, a sync's discard) which the
  // database could not take when they were made: tried again, in order, until they land or
  // are refused. Without this an agent's verdict would become a lease expiry and the step
  // would run again. The loop calls it every round, leader or not, before new messages.
  void RetryDeferred(CorePort& port);
  std::size_t deferred() const { return deferred_.size(); }

  // Whether this dispatcher leads its site (for the gauges); Demote() clears it.
  void SetLeading(bool leading);
  WriteBehind& pending() { return pending_; }
  std::size_t agents() const { return agents_.size(); }
  std::size_t running() const { return running_.size(); }
  const std::map<std::string, RunningStep>& running_steps() const { return running_; }
  const TargetLimits& limits() const { return limits_; }

 private:
  void HandleInventory(CorePort& port, AgentConn& conn, const agent::v1::AgentMessage& m,
                       bool* later);
  void HandleResult(CorePort& port, AgentConn& conn, const agent::v1::Result& r);
  void RecordFailure(CorePort& port, const AgentConn& conn, const RunningStep& step,
                     const std::string& task_id, const std::string& lease_id, const Error& e,
                     bool discard_sync);
  std::optional<agent::v1::DispatcherMessage> PrepareAssign(CorePort& port, const ClaimedStep& s);
  void Started(AgentConn& agent, const ClaimedStep& s);
  void Remember(AgentConn& agent, const std::string& target);
  int Free(const AgentConn& a) const;
  void UpdateGauges();
  // A control-plane write whose failure changes nothing here but must not pass unseen.
  template <typename R>
  void Noted(const R& result, const char* write) {
    if (!result)
      log_.Warn(std::string("control-plane write ") + write + " failed: " + result.error().message);
  }
  // A step-ending write: made now, and when the database is away (a retryable error) kept
  // for RetryDeferred; a refusal is logged. `what` names it in logs.
  using StepWrite = std::function<Status(CorePort&)>;
  void Ensure(CorePort& port, const std::string& task_id, std::string what, StepWrite write);
  struct Deferred {
    std::string task_id;
    std::string what;
    StepWrite write;
    int attempts = 0;  // failed tries while the database answered
  };
  std::deque<Deferred> deferred_;
  bool freed_work_ = false;  // TakeFreedWork
  static constexpr std::size_t kMaxDeferred = 100000;
  static constexpr int kMaxAttempts = 20;
  static constexpr std::chrono::milliseconds kRetryBudget{2000};

  // At most this many targets remembered per agent for affinity.
  static constexpr std::size_t kRecentTargets = 512;

  CoreOptions options_;
  Clock& clock_;
  const Logger& log_;
  SecretRegistry& redact_;
  DispatcherMetrics& metrics_;
  std::map<std::string, std::shared_ptr<AgentConn>> agents_;
  std::map<std::string, RunningStep> running_;  // by task id
  TargetLimits limits_;
  std::map<std::string, std::string> affinity_;  // target -> the agent that served it last
  WriteBehind pending_;  // completions, events and progress for the control plane
  bool leading_ = false;
  std::map<std::string, std::string> agent_kind_of_;  // step kind -> agent kind (empty: no catalog)
};

}  // namespace dcops::dispatcher
