#include "dispatch_core.hpp"
#include "dispatch_core_helpers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace dcops::dispatcher {
namespace {

namespace pb = dcops::agent::v1;
using core_detail::Done;
using core_detail::TraceId;

const char* LevelName(pb::Level l) {
  switch (l) {
    case pb::LEVEL_DEBUG:
      return "debug";
    case pb::LEVEL_WARN:
      return "warn";
    case pb::LEVEL_ERROR:
      return "error";
    default:
      return "info";
  }
}

}  // namespace

DispatchCore::DispatchCore(CoreOptions options, Clock& clock, const Logger& log,
                           SecretRegistry& redact, DispatcherMetrics& metrics)
    : options_(std::move(options)),
      clock_(clock),
      log_(log),
      redact_(redact),
      metrics_(metrics),
      limits_(options_.limits),
      pending_(log) {}

void DispatchCore::UpdateGauges() {
  metrics_.SetGauges(static_cast<int>(agents_.size()), static_cast<int>(running_.size()), leading_);
}

void DispatchCore::SetLeading(bool leading) {
  leading_ = leading;
  UpdateGauges();
}

void DispatchCore::SetCatalog(const std::vector<CatalogEntry>& catalog) {
  agent_kind_of_.clear();
  for (const auto& e : catalog) agent_kind_of_[e.job_type] = e.agent_kind;
}

void DispatchCore::OnHello(CorePort& port, const std::shared_ptr<AgentConn>& conn) {
  if (!agent_kind_of_.empty()) {
    std::vector<std::string> kept;
    for (const auto& kind : conn->step_kinds) {
      auto it = agent_kind_of_.find(kind);
      if (it == agent_kind_of_.end()) {
        log_.Warn("agent offers a step kind the job-type catalog does not list; it gets none", {},
                  {{"agent", conn->id}, {"step_kind", kind}});
      } else if (it->second != conn->kind) {
        log_.Warn("agent offers a step kind the catalog gives to another agent kind; it gets none",
                  {},
                  {{"agent", conn->id},
                   {"agent_kind", conn->kind},
                   {"step_kind", kind},
                   {"catalog", it->second}});
      } else {
        kept.push_back(kind);
      }
    }
    conn->step_kinds = std::move(kept);
  }
  // A reconnecting agent keeps its steps: they count against limits until their results
  // arrive or their leases are rescued, whatever happened to the stream in between. One
  // identity, one connection: an earlier one still open is closed, so the steps' results
  // can only come from this one (a stale stream never idles on, holding its place).
  if (auto old = agents_.find(conn->id); old != agents_.end() && old->second != conn) {
    old->second->Fence();
    log_.Warn("agent connected again; its earlier connection is closed", {}, {{"agent", conn->id}});
  }
  conn->last_heard = clock_.Steady();
  agents_[conn->id] = conn;
  UpdateGauges();
  Noted(port.RegisterAgent({conn->id, options_.site, conn->kind, conn->version, conn->hostname,
                            conn->capacity, conn->step_kinds}),
        "RegisterAgent");
  pb::DispatcherMessage w;
  w.mutable_welcome()->set_dispatcher_id(options_.dispatcher_id);
  w.mutable_welcome()->set_site(options_.site);
  w.mutable_welcome()->set_heartbeat_interval_ms(static_cast<int>(options_.heartbeat.count()));
  w.mutable_welcome()->set_lease_ms(static_cast<int>(options_.lease.count() * 1000));
  conn->Write(w);
  log_.Info(
      "agent connected", {},
      {{"agent", conn->id}, {"kind", conn->kind}, {"capacity", std::int64_t{conn->capacity}}});
}

void DispatchCore::OnGone(CorePort& port, const std::shared_ptr<AgentConn>& conn) {
  auto it = agents_.find(conn->id);
  if (it != agents_.end() && it->second == conn) {
    agents_.erase(it);
    Noted(port.AgentDisconnected(conn->id), "AgentDisconnected");
    log_.Warn("agent disconnected; its steps are rescued when their leases expire", {},
              {{"agent", conn->id}});
  }
  UpdateGauges();
}

bool DispatchCore::OnMessage(CorePort& port, AgentConn& conn, const pb::AgentMessage& m) {
  conn.last_heard = clock_.Steady();
  if (m.has_progress()) {
    pending_.Progress({m.progress().task_id(), m.progress().lease_id(), m.progress().percent(),
                       redact_.Scrub(m.progress().message())});
  } else if (m.has_checkpoint()) {
    auto saved = port.SaveCheckpoint(m.checkpoint().task_id(), m.checkpoint().lease_id(),
                                     redact_.Scrub(m.checkpoint().checkpoint_json()));
    // The database is away, not the lease: answer once it is back (the agent waits for the
    // ack; a "not saved" now would stop a step that holds a valid lease).
    if (!saved && saved.error().retryable) return false;
    pb::DispatcherMessage ack;
    ack.mutable_checkpoint_ack()->set_task_id(m.checkpoint().task_id());
    ack.mutable_checkpoint_ack()->set_sequence(m.checkpoint().sequence());
    ack.mutable_checkpoint_ack()->set_saved(saved.ok() && *saved);
    conn.Write(ack);
  } else if (m.has_inventory()) {
    bool later = false;
    HandleInventory(port, conn, m, &later);
    return !later;
  } else if (m.has_event()) {
    auto it = running_.find(m.event().task_id());
    if (it != running_.end()) {
      pending_.Event({it->second.job_id, m.event().task_id(), LevelName(m.event().level()),
                      redact_.Scrub(m.event().message()), "", conn.id, it->second.trace_id});
    }
  } else if (m.has_heartbeat()) {
    std::vector<std::string> leases(m.heartbeat().lease_ids().begin(),
                                    m.heartbeat().lease_ids().end());
    if (leases.empty()) return true;
    auto states = port.ExtendLeases(leases, options_.lease);
    if (!states) return true;  // the next heartbeat tries again, well within the lease
    std::set<std::string> renewed;
    for (const auto& s : *states) {
      if (s.valid) renewed.insert(s.lease_id);
    }
    for (auto& [task, r] : running_) {
      if (renewed.count(r.lease_id) != 0) r.renewed = clock_.Steady();
    }
    for (const auto& s : *states) {
      if (s.valid && !s.cancel_requested) continue;
      for (const auto& [task, r] : running_) {
        if (r.lease_id != s.lease_id) continue;
        pb::DispatcherMessage c;
        c.mutable_cancel()->set_task_id(task);
        c.mutable_cancel()->set_lease_id(s.lease_id);
        c.mutable_cancel()->set_reason(s.valid ? "the job was cancelled" : "the lease is gone");
        conn.Write(c);
      }
    }
  } else if (m.has_result()) {
    HandleResult(port, conn, m.result());
  }
  return true;
}

// A sync's batch is staged under the step's lease and acknowledged, so the agent sends the
// next one only after this one is safe (and a step whose lease is gone stops).
void DispatchCore::HandleInventory(CorePort& port, AgentConn& conn, const pb::AgentMessage& m,
                                   bool* later) {
  const auto& b = m.inventory();
  auto staged = port.StageInventory(b.task_id(), b.lease_id(), b.sequence(), b.kind(),
                                    redact_.Scrub(b.json()));
  if (!staged && staged.error().retryable) {
    *later = true;  // the database is away: the agent waits for the ack
    return;
  }
  if (!staged) {
    log_.Warn("inventory batch refused: " + staged.error().message, {}, {{"task", b.task_id()}});
    if (auto it = running_.find(b.task_id()); it != running_.end()) {
      pending_.Event({it->second.job_id, b.task_id(), "error",
                      "inventory batch refused: " + redact_.Scrub(staged.error().message), "",
                      conn.id, it->second.trace_id});
    }
  }
  pb::DispatcherMessage ack;
  ack.mutable_checkpoint_ack()->set_task_id(b.task_id());
  ack.mutable_checkpoint_ack()->set_sequence(b.sequence());
  ack.mutable_checkpoint_ack()->set_saved(staged.ok() && *staged);
  conn.Write(ack);
}

void DispatchCore::HandleResult(CorePort& port, AgentConn& conn, const pb::Result& r) {
  auto it = running_.find(r.task_id());
  // Only the lease's holder ends a step: a late or foreign result must neither free the
  // target's slot (a second mutating step would start on a busy BMC) nor touch the step.
  if (it != running_.end() &&
      (it->second.lease_id != r.lease_id() || it->second.agent_id != conn.id)) {
    log_.Warn("result refused: not from the agent holding the step's lease", {},
              {{"task", r.task_id()}, {"agent", conn.id}, {"holder", it->second.agent_id}});
    pending_.Event(
        {it->second.job_id, r.task_id(), "warn",
         fmt::format("a result from agent {} was refused: it does not hold this step's lease",
                     conn.id),
         "", conn.id, it->second.trace_id});
    return;
  }
  RunningStep step = it != running_.end() ? it->second : RunningStep{};
  // A slot its agent was short of is new work: a full agent is not asked, and may have missed
  // new work meanwhile. Any other outcome than success puts its step back or ends it through
  // a step write of this session (Ensure), which counts once it lands. A success's dependents
  // are made ready by the writer's session, whose NOTIFY wakes the loop. A slot its target
  // frees needs nothing here: a step waiting on that target was left out of a claim, or by
  // the per-target bound, and neither counts the queue drained (AssignWork).
  if (Free(conn) <= 0) freed_work_ = true;
  if (it != running_.end()) {
    limits_.Finished(step.target, step.mutating);
    running_.erase(it);
  }
  UpdateGauges();
  static const std::map<int, std::string> kOutcome{{pb::Result::SUCCEEDED, "succeeded"},
                                                   {pb::Result::SNOOZED, "snoozed"},
                                                   {pb::Result::CANCELLED, "cancelled"}};
  const auto outcome = kOutcome.find(r.outcome());
  metrics_.StepFinished(step.step_kind.empty() ? "unknown" : step.step_kind,
                        outcome == kOutcome.end() ? "failed" : outcome->second);
  switch (r.outcome()) {
    case pb::Result::SUCCEEDED: {
      // Results are stored and shown like events: with every secret this dispatcher handed out
      // scrubbed (a BMC that echoes a password into an attribute must not store it).
      const std::string result_json = redact_.Scrub(r.result_json());
      auto effects = port.RecordResult(step.step_kind, r.task_id(), r.lease_id(), result_json);
      if (!effects) {
        // Recording it failed (an apply that timed out, say): an attempt that failed. A sync's
        // staged batches go and its endpoint shows the error; a retry sends them again.
        RecordFailure(port, conn, step, r.task_id(), r.lease_id(), effects.error(),
                      IsSyncStep(step.step_kind));
        return;
      }
      if (!effects->summary.empty() && !step.job_id.empty()) {
        pending_.Event(
            {step.job_id, r.task_id(), "info", effects->summary, "", conn.id, step.trace_id});
      }
      if (!effects->refresh_job_id.empty() && !step.job_id.empty()) {
        pending_.Event({step.job_id, r.task_id(), "info",
                        fmt::format("{} new server(s); refresh job {}", effects->servers_added,
                                    effects->refresh_job_id),
                        "", conn.id, step.trace_id});
      }
      pending_.Completion({r.task_id(), r.lease_id(),
                           effects->stored_result.empty() ? result_json : effects->stored_result});
      break;
    }
    case pb::Result::SNOOZED: {
      const auto wait = std::chrono::seconds(std::max(0, r.snooze_seconds()));
      Ensure(port, r.task_id(), "SnoozeStep",
             [task = r.task_id(), lease = r.lease_id(), wait, why = redact_.Scrub(r.reason())](
                 CorePort& p) { return Done(p.SnoozeStep(task, lease, wait, why)); });
      break;
    }
    case pb::Result::CANCELLED:
      Ensure(port, r.task_id(), "CancelStep",
             [task = r.task_id(), lease = r.lease_id(), why = redact_.Scrub(r.reason())](
                 CorePort& p) { return Done(p.CancelStep(task, lease, why)); });
      if (IsSyncStep(step.step_kind)) {
        Ensure(port, r.task_id(), "DiscardSync",
               [task = r.task_id()](CorePort& p) { return p.DiscardSync(task, "cancelled"); });
      }
      break;
    default:
      RecordFailure(port, conn, step, r.task_id(), r.lease_id(),
                    MakeError(r.error().code().empty() ? "step.failed" : r.error().code(),
                              redact_.Scrub(r.error().message()), r.error().retryable()),
                    IsSyncStep(step.step_kind));
  }
}

// A failed attempt (the agent's, or the dispatcher's when recording a result failed): on
// record with where the step stands, an event on the job and a log line at the level it
// deserves (a retry is a warning, the end an error).
void DispatchCore::RecordFailure(CorePort& port, const AgentConn& conn, const RunningStep& step,
                                 const std::string& task_id, const std::string& lease_id,
                                 const Error& e, bool discard_sync) {
  // A sync's staged batches go first: the failure may make the step ready again, and a
  // discard landing after the next attempt has staged would wipe that attempt's batches.
  if (discard_sync) {
    Ensure(port, task_id, "DiscardSync", [task_id, why = e.code + ": " + e.message](CorePort& p) {
      return p.DiscardSync(task_id, why);
    });
  }
  // The event and log line say where the step stands, so they follow the write that decides
  // it (now, or when the database is back).
  Ensure(port, task_id, "FailStep",
         [this, step, task_id, lease_id, e, agent = conn.id](CorePort& p) -> Status {
           auto report = p.FailStepReport(task_id, lease_id, e);
           if (!report && report.error().retryable) return report.error();
           const LogContext lc{step.job_id, task_id, step.trace_id, step.target};
           if (!report) {
             // Refused outright: the lease expires and the step is rescued.
             log_.Warn(
                 "a step's failure could not be recorded; it runs again when its lease expires", lc,
                 {{"detail", report.error().message}, {"error", e.message}});
           }
           // A retry or a pause is not the end of the job: a warning, not an error.
           const bool not_final = report && (report->outcome == "retry_scheduled" || report->outcome == "paused");
           const std::string message =
               FailureMessage(step.step_kind, step.target, e.message, report ? &*report : nullptr);
           log_.Log(not_final ? LogLevel::kWarn : LogLevel::kError, message, lc, {{"code", e.code}});
           if (!step.job_id.empty()) {
             pending_.Event({step.job_id, task_id, not_final ? "warn" : "error", message, "", agent,
                             step.trace_id});
           }
           return {};
         });
}

void DispatchCore::Ensure(CorePort& port, const std::string& task_id, std::string what,
                          StepWrite write) {
  // Behind an earlier write of the same step still waiting, so a step's writes land in the
  // order they were made; other steps' writes do not wait for it.
  const bool behind = std::any_of(deferred_.begin(), deferred_.end(),
                                  [&](const Deferred& d) { return d.task_id == task_id; });
  if (!behind) {
    auto st = write(port);
    if (st) freed_work_ = true;
    if (st || !st.error().retryable) {
      if (!st)
        log_.Error(fmt::format("control-plane write {} of step {} refused: {}", what, task_id,
                               st.error().message));
      return;
    }
    log_.Warn(fmt::format("control-plane write {} of step {} failed; kept to try again: {}", what,
                          task_id, st.error().message));
  }
  if (deferred_.size() >= kMaxDeferred) {
    log_.Error(fmt::format(
        "control-plane write {} of step {} dropped: {} writes already wait for the database "
        "(the step's lease expires and it is rescued)",
        what, task_id, kMaxDeferred));
    return;
  }
  deferred_.push_back({task_id, std::move(what), std::move(write), 0});
}

void DispatchCore::RetryDeferred(CorePort& port) {
  // Bounded per round (the loop must get back to heartbeats and results), each step's writes
  // in order, and a write that keeps failing while the database answers gives up after a
  // while: its step's lease expires and the step is rescued, as before this queue existed.
  const auto deadline = clock_.Steady() + kRetryBudget;
  std::set<std::string> waiting;  // steps with a write still waiting ahead in this pass
  std::size_t landed = 0;
  for (auto it = deferred_.begin(); it != deferred_.end() && clock_.Steady() < deadline;) {
    if (waiting.count(it->task_id) != 0) {
      ++it;
      continue;
    }
    auto st = it->write(port);
    if (!st && st.error().retryable && ++it->attempts < kMaxAttempts) {
      waiting.insert(it->task_id);
      ++it;
      continue;
    }
    if (!st) {
      log_.Error(fmt::format("control-plane write {} of step {} {}: {}", it->what, it->task_id,
                             st.error().retryable ? "given up after repeated failures" : "refused",
                             st.error().message));
    } else {
      freed_work_ = true;
    }
    ++landed;
    it = deferred_.erase(it);
  }
  if (landed > 0) {
    log_.Info(fmt::format("{} deferred control-plane write(s) done, {} waiting", landed,
                          deferred_.size()));
  }
}

// A new leader (after a restart or a takeover) counts the steps agents still hold against
// the limits, so it never starts a second mutating step on a target mid-operation. Their
// agents reconnect, heartbeat the leases and deliver the results; steps whose agent never
// comes back are rescued when their leases expire.
bool DispatchCore::AdoptHeldSteps(CorePort& port) {
  auto held = port.HeldSteps(options_.site);
  if (!held) return false;
  for (auto& [_, r] : running_) limits_.Finished(r.target, r.mutating);
  running_.clear();
  for (const auto& h : *held) {
    limits_.Started(h.target, h.mutating);
    running_[h.task_id] = {h.job_id,   h.lease_id,     h.target,
                           h.owner,    h.step_kind,    TraceId(h.traceparent),
                           h.mutating, clock_.Steady()};
  }
  if (!held->empty()) log_.Info(fmt::format("adopted {} step(s) agents still hold", held->size()));
  UpdateGauges();
  return true;
}

// Leadership is gone (the lock went with the database session): a standby may lead now, so
// every agent stream is closed (the agents try the next address, and this one answers
// "standby" until it leads again) and nothing held here counts against limits any more. The
// steps keep their leases; whoever leads adopts them or rescues them when they expire.
std::size_t DispatchCore::Demote() {
  for (auto& [id, conn] : agents_) conn->Fence();
  const auto closed = agents_.size();
  agents_.clear();
  for (const auto& [task, step] : running_) limits_.Finished(step.target, step.mutating);
  running_.clear();
  leading_ = false;
  UpdateGauges();
  return closed;
}

// Agents as the control plane shows them: each connected one seen now with the steps it runs
// here; one silent for three heartbeat intervals (a frozen process keeps its TCP connection)
// is closed, which marks it offline and lets its leases expire to be rescued.
void DispatchCore::TendAgents(CorePort& port) {
  const auto now = clock_.Steady();
  std::map<std::string, int> running_by_agent;
  for (const auto& [id, conn] : agents_) {
    if (now - conn->last_heard > 3 * options_.heartbeat + std::chrono::seconds(1)) {
      log_.Warn("agent silent for three heartbeats; closing its connection", {}, {{"agent", id}});
      conn->Fence();
      continue;
    }
    running_by_agent[id] = 0;
  }
  // A step whose lease nobody has renewed for longer than the lease is not running here any
  // more, whatever this dispatcher last knew (its agent is gone, or another process ended it):
  // its target's slot goes back. A late result for it is still recorded, lease-checked.
  const auto stale = options_.lease + 2 * options_.heartbeat;
  for (auto it = running_.begin(); it != running_.end();) {
    if (now - it->second.renewed > stale) {
      log_.Warn(
          "a step's lease was not renewed for longer than the lease; its target's slot is released",
          {}, {{"task", it->first}, {"agent", it->second.agent_id}, {"target", it->second.target}});
      limits_.Finished(it->second.target, it->second.mutating);
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
  UpdateGauges();
  for (const auto& [task, step] : running_) {
    if (auto it = running_by_agent.find(step.agent_id); it != running_by_agent.end()) ++it->second;
  }
  if (auto st = port.AgentsSeen({running_by_agent.begin(), running_by_agent.end()}); !st) {
    log_.Warn("could not record the agents' status", {}, {{"detail", st.error().message}});
  }
}

// Retention: a few batches per pass so the loop stays responsive; the rest next pass.
void DispatchCore::Prune(CorePort& port) {
  constexpr int kBatch = 1000;
  int total = 0;
  for (int pass = 0; pass < 10; ++pass) {
    auto n = port.Prune(options_.retention, kBatch);
    if (!n) {
      log_.Warn("retention: pruning finished jobs failed; tried again in 5 minutes", {},
                {{"detail", n.error().message}});
      return;
    }
    total += *n;
    if (*n < kBatch) break;
  }
  if (total > 0)
    log_.Info(fmt::format("retention: {} finished job(s) older than the retention deleted", total));
}

void DispatchCore::Rescued(const std::vector<RescuedStep>& steps) {
  for (const auto& r : steps) {
    if (auto it = running_.find(r.task_id); it != running_.end()) {
      limits_.Finished(it->second.target, it->second.mutating);
      running_.erase(it);
    }
  }
  UpdateGauges();
}

}  // namespace dcops::dispatcher
