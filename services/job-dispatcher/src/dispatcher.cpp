#include "dispatcher.hpp"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <openssl/crypto.h>
#include <rapidjson/document.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "agent_conn.hpp"
#include "agent_identity.hpp"
#include "assign.hpp"
#include "control_plane.hpp"
#include "dcops/agent/v1/agent.grpc.pb.h"
#include "dcops/common/config.hpp"
#include "dcops/common/names.hpp"
#include "dcops/db/reconnector.hpp"
#include "http_endpoints.hpp"
#include "metrics.hpp"
#include "plan_pending.hpp"
#include "planner.hpp"
#include "step_results.hpp"
#include "write_behind.hpp"

namespace dcops::dispatcher {
namespace {

namespace pb = dcops::agent::v1;
using Steady = std::chrono::steady_clock;

const char* LevelName(pb::Level l) {
  switch (l) {
    case pb::LEVEL_DEBUG: return "debug";
    case pb::LEVEL_WARN: return "warn";
    case pb::LEVEL_ERROR: return "error";
    default: return "info";
  }
}

}  // namespace

struct Dispatcher::Impl final : public pb::AgentService::Service {
  DispatcherOptions options;
  tls::SecretBox secrets;
  const Logger& log;
  SecretRegistry& redact;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Inbound> inbox;
  bool wake = false;
  std::atomic<bool> stopping{false};
  std::atomic<bool> leader{false};
  std::atomic<bool> db_ok{false};
  DispatcherMetrics metrics;
  // grpc.health.v1 on the agents' port: SERVING while this dispatcher leads its site with the
  // database reachable, NOT_SERVING as a standby or during an outage. Set by Run().
  grpc::HealthCheckServiceInterface* health = nullptr;
  bool serving = false;

  // Loop-owned.
  std::map<std::string, std::shared_ptr<AgentConn>> agents;
  std::map<std::string, RunningStep> running;  // by task id
  TargetLimits limits;
  PlannerRegistry planners;
  std::map<std::string, std::string> affinity;  // target -> the agent that served it last
  WriteBehind pending;  // completions, events and progress for the control plane

  Impl(DispatcherOptions o, tls::SecretBox s, const Logger& l, SecretRegistry& r)
      : options(std::move(o)), secrets(std::move(s)), log(l), redact(r), limits(options.limits),
        planners(MakePlanners(options.bench_job_types)), pending(l) {}

  void UpdateHealth() {
    const bool now = leader && db_ok;
    if (health != nullptr && now != serving) health->SetServingStatus(now);
    serving = now;
  }

  void UpdateGauges() { metrics.SetGauges(static_cast<int>(agents.size()), static_cast<int>(running.size()), leader); }

  void Post(Inbound in) {
    {
      std::lock_guard lock(mu);
      inbox.push_back(std::move(in));
    }
    cv.notify_one();
  }
  void Wake() {
    {
      std::lock_guard lock(mu);
      wake = true;
    }
    cv.notify_one();
  }

  // ---- gRPC side: authenticate, read, post. Never touches the database.
  grpc::Status Connect(grpc::ServerContext* ctx, AgentStream* stream) override {
    if (!leader) return {grpc::StatusCode::UNAVAILABLE, "this dispatcher is a standby"};
    // The agent's token says which ids it may use; the Hello below must name one of them.
    AgentGrant grant{"*", true};
    if (!options.agent_token.empty()) {
      auto it = ctx->client_metadata().find("authorization");
      const std::string presented = it == ctx->client_metadata().end()
                                        ? std::string() : std::string(it->second.data(), it->second.size());
      auto verified = VerifyAgentToken(options.agent_token, presented, options.accept_shared_agent_token);
      if (!verified) {
        log.Warn("agent refused: " + verified.error().message, {}, {{"peer", ctx->peer()}});
        return {grpc::StatusCode::UNAUTHENTICATED, verified.error().message};
      }
      grant = *verified;
    } else if (!options.insecure_dev) {
      return {grpc::StatusCode::UNAUTHENTICATED, "no agent token is configured"};
    }
    pb::AgentMessage first;
    if (!stream->Read(&first) || !first.has_hello()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "the first message must be Hello"};
    }
    const auto& h = first.hello();
    if (!IsPrintableName(h.agent_id(), 200) || h.capacity() < 1 || h.capacity() > 1000) {
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "Hello needs an agent_id (1-200 letters, digits, '.', '_', '-', ':', '@') and a capacity of 1..1000"};
    }
    if (!GrantAllows(grant, h.agent_id())) {
      log.Warn("agent refused: its token does not name this agent id", {},
               {{"peer", ctx->peer()}, {"agent", h.agent_id()}, {"token_scope", grant.scope}});
      return {grpc::StatusCode::PERMISSION_DENIED, "this agent token is for " + grant.scope + ", not " + h.agent_id()};
    }
    if (grant.shared) {
      log.Warn("agent uses the site's shared secret; issue it its own token (job-dispatcher certs agent-token)", {},
               {{"agent", h.agent_id()}});
    }
    auto conn = std::make_shared<AgentConn>();
    conn->ctx = ctx;
    conn->id = h.agent_id();
    conn->kind = h.kind();
    conn->version = h.version();
    conn->hostname = h.hostname();
    conn->capacity = h.capacity();
    conn->step_kinds.assign(h.step_kinds().begin(), h.step_kinds().end());
    conn->stream = stream;
    Post({Inbound::kHello, conn, {}});
    pb::AgentMessage m;
    while (!stopping && stream->Read(&m)) Post({Inbound::kMessage, conn, m});
    conn->Close();
    Post({Inbound::kGone, conn, {}});
    return grpc::Status::OK;
  }

  // ---- loop side.
  void Handle(ControlPlane& cp, Inbound& in) {
    auto& conn = in.conn;
    if (in.kind == Inbound::kHello) {
      // A reconnecting agent keeps its steps: they count against limits until their results
      // arrive or their leases are rescued, whatever happened to the stream in between. One
      // identity, one connection: an earlier one still open is closed, so the steps' results
      // can only come from this one (a stale stream never idles on, holding its place).
      if (auto old = agents.find(conn->id); old != agents.end() && old->second != conn) {
        old->second->Fence();
        log.Warn("agent connected again; its earlier connection is closed", {}, {{"agent", conn->id}});
      }
      agents[conn->id] = conn;
      UpdateGauges();
      Noted(cp.RegisterAgent({conn->id, options.site, conn->kind, conn->version, conn->hostname,
                              conn->capacity, conn->step_kinds}), "RegisterAgent");
      pb::DispatcherMessage w;
      w.mutable_welcome()->set_dispatcher_id(options.dispatcher_id);
      w.mutable_welcome()->set_site(options.site);
      w.mutable_welcome()->set_heartbeat_interval_ms(static_cast<int>(options.heartbeat.count()));
      w.mutable_welcome()->set_lease_ms(static_cast<int>(options.lease.count() * 1000));
      conn->Write(w);
      log.Info("agent connected", {}, {{"agent", conn->id}, {"kind", conn->kind},
                                       {"capacity", std::int64_t{conn->capacity}}});
      return;
    }
    if (in.kind == Inbound::kGone) {
      auto it = agents.find(conn->id);
      if (it != agents.end() && it->second == conn) {
        agents.erase(it);
        Noted(cp.AgentDisconnected(conn->id), "AgentDisconnected");
        log.Warn("agent disconnected; its steps are rescued when their leases expire", {},
                 {{"agent", conn->id}});
      }
      UpdateGauges();
      return;
    }
    const auto& m = in.msg;
    conn->last_heard = Steady::now();
    if (m.has_progress()) {
      pending.Progress({m.progress().task_id(), m.progress().lease_id(), m.progress().percent(),
                        redact.Scrub(m.progress().message())});
    } else if (m.has_checkpoint()) {
      auto saved = cp.SaveCheckpoint(m.checkpoint().task_id(), m.checkpoint().lease_id(),
                                     redact.Scrub(m.checkpoint().checkpoint_json()));
      if (!saved && saved.error().retryable) {
        // The database is away, not the lease: answer once it is back (the agent waits for
        // the ack; a "not saved" now would stop a step that holds a valid lease).
        Post(std::move(in));
        return;
      }
      pb::DispatcherMessage ack;
      ack.mutable_checkpoint_ack()->set_task_id(m.checkpoint().task_id());
      ack.mutable_checkpoint_ack()->set_sequence(m.checkpoint().sequence());
      ack.mutable_checkpoint_ack()->set_saved(saved.ok() && *saved);
      conn->Write(ack);
    } else if (m.has_inventory()) {
      HandleInventory(cp, in);
    } else if (m.has_event()) {
      auto it = running.find(m.event().task_id());
      if (it != running.end()) {
        pending.Event({it->second.job_id, m.event().task_id(), LevelName(m.event().level()),
                          redact.Scrub(m.event().message()), "", conn->id, it->second.trace_id});
      }
    } else if (m.has_heartbeat()) {
      std::vector<std::string> leases(m.heartbeat().lease_ids().begin(), m.heartbeat().lease_ids().end());
      if (leases.empty()) return;
      auto states = cp.ExtendLeases(leases, options.lease);
      if (!states) return;
      for (const auto& s : *states) {
        if (!s.valid || s.cancel_requested) {
          for (const auto& [task, r] : running) {
            if (r.lease_id != s.lease_id) continue;
            pb::DispatcherMessage c;
            c.mutable_cancel()->set_task_id(task);
            c.mutable_cancel()->set_lease_id(s.lease_id);
            c.mutable_cancel()->set_reason(s.valid ? "the job was cancelled" : "the lease is gone");
            conn->Write(c);
          }
        }
      }
    } else if (m.has_result()) {
      HandleResult(cp, *conn, m.result());
    }
  }

  // A sync's batch is staged under the step's lease and acknowledged, so the agent sends the
  // next one only after this one is safe (and a step whose lease is gone stops).
  void HandleInventory(ControlPlane& cp, Inbound& in) {
    const auto& b = in.msg.inventory();
    auto staged = cp.StageInventory(b.task_id(), b.lease_id(), b.sequence(), b.kind(), redact.Scrub(b.json()));
    if (!staged && staged.error().retryable) {
      Post(std::move(in));  // the database is away: the agent waits for the ack
      return;
    }
    if (!staged) {
      log.Warn("inventory batch refused: " + staged.error().message, {}, {{"task", b.task_id()}});
      if (auto it = running.find(b.task_id()); it != running.end()) {
        pending.Event({it->second.job_id, b.task_id(), "error",
                          "inventory batch refused: " + redact.Scrub(staged.error().message), "", in.conn->id,
                          it->second.trace_id});
      }
    }
    pb::DispatcherMessage ack;
    ack.mutable_checkpoint_ack()->set_task_id(b.task_id());
    ack.mutable_checkpoint_ack()->set_sequence(b.sequence());
    ack.mutable_checkpoint_ack()->set_saved(staged.ok() && *staged);
    in.conn->Write(ack);
  }

  void HandleResult(ControlPlane& cp, AgentConn& conn, const pb::Result& r) {
    auto it = running.find(r.task_id());
    // Only the lease's holder ends a step: a late or foreign result must neither free the
    // target's slot (a second mutating step would start on a busy BMC) nor touch the step.
    if (it != running.end() && (it->second.lease_id != r.lease_id() || it->second.agent_id != conn.id)) {
      log.Warn("result refused: not from the agent holding the step's lease", {},
               {{"task", r.task_id()}, {"agent", conn.id}, {"holder", it->second.agent_id}});
      pending.Event({it->second.job_id, r.task_id(), "warn", fmt::format("a result from agent {} was refused: it does not "
                     "hold this step's lease", conn.id), "", conn.id, it->second.trace_id});
      return;
    }
    RunningStep step = it != running.end() ? it->second : RunningStep{};
    if (it != running.end()) {
      limits.Finished(step.target, step.mutating);
      running.erase(it);
    }
    UpdateGauges();
    static const std::map<int, std::string> kOutcome{{pb::Result::SUCCEEDED, "succeeded"},
                                                    {pb::Result::SNOOZED, "snoozed"},
                                                    {pb::Result::CANCELLED, "cancelled"}};
    const auto outcome = kOutcome.find(r.outcome());
    metrics.StepFinished(step.step_kind.empty() ? "unknown" : step.step_kind,
                         outcome == kOutcome.end() ? "failed" : outcome->second);
    switch (r.outcome()) {
      case pb::Result::SUCCEEDED: {
        // Results are stored and shown like events: with every secret this dispatcher handed out
        // scrubbed (a BMC that echoes a password into an attribute must not store it).
        const std::string result_json = redact.Scrub(r.result_json());
        auto effects = RecordStepResult(cp, options.site, step.step_kind, r.task_id(), r.lease_id(), result_json);
        if (!effects) {  // recording it failed (an apply that timed out, say): an attempt that failed
          RecordFailure(cp, conn, step, r.task_id(), r.lease_id(), effects.error(),
                        IsSyncStep(step.step_kind) && !effects.error().retryable);
          return;
        }
        if (!effects->summary.empty() && !step.job_id.empty()) {
          pending.Event({step.job_id, r.task_id(), "info", effects->summary, "", conn.id, step.trace_id});
        }
        if (!effects->refresh_job_id.empty() && !step.job_id.empty()) {
          pending.Event({step.job_id, r.task_id(), "info",
                            fmt::format("{} new server(s); refresh job {}", effects->servers_added,
                                        effects->refresh_job_id),
                            "", conn.id, step.trace_id});
        }
        pending.Completion({r.task_id(), r.lease_id(),
                               effects->stored_result.empty() ? result_json : effects->stored_result});
        break;
      }
      case pb::Result::SNOOZED:
        Noted(cp.SnoozeStep(r.task_id(), r.lease_id(), std::chrono::seconds(std::max(0, r.snooze_seconds())),
                            redact.Scrub(r.reason())), "SnoozeStep");
        break;
      case pb::Result::CANCELLED:
        Noted(cp.CancelStep(r.task_id(), r.lease_id(), redact.Scrub(r.reason())), "CancelStep");
        if (IsSyncStep(step.step_kind)) Noted(cp.DiscardSync(r.task_id(), "cancelled"), "DiscardSync");
        break;
      default:
        RecordFailure(cp, conn, step, r.task_id(), r.lease_id(),
                      MakeError(r.error().code().empty() ? "step.failed" : r.error().code(),
                                redact.Scrub(r.error().message()), r.error().retryable()),
                      IsSyncStep(step.step_kind));
    }
  }

  // A failed attempt (the agent's, or the dispatcher's when recording a result failed): on
  // record with where the step stands, an event on the job and a log line at the level it
  // deserves (a retry is a warning, the end an error).
  void RecordFailure(ControlPlane& cp, const AgentConn& conn, const RunningStep& step, const std::string& task_id,
                     const std::string& lease_id, const Error& e, bool discard_sync) {
    auto report = cp.FailStepReport(task_id, lease_id, e);
    if (discard_sync) Noted(cp.DiscardSync(task_id, e.code + ": " + e.message), "DiscardSync");
    const LogContext lc{step.job_id, task_id, step.trace_id, step.target};
    if (!report) {
      // The failure is not on record: the lease expires and the step runs again.
      log.Warn("a step's failure could not be recorded; it runs again when its lease expires", lc,
               {{"detail", report.error().message}, {"error", e.message}});
    }
    const bool retrying = report && report->outcome == "retry_scheduled";
    const std::string message = FailureMessage(step.step_kind, step.target, e.message, report ? &*report : nullptr);
    log.Log(retrying ? LogLevel::kWarn : LogLevel::kError, message, lc, {{"code", e.code}});
    if (!step.job_id.empty()) {
      pending.Event({step.job_id, task_id, retrying ? "warn" : "error", message, "", conn.id, step.trace_id});
    }
  }

  // A control-plane write whose failure changes nothing here but must not pass unseen.
  template <typename R>
  void Noted(const R& result, const char* write) {
    if (!result) log.Warn(fmt::format("control-plane write {} failed: {}", write, result.error().message));
  }

  // A new leader (after a restart or a takeover) counts the steps agents still hold against
  // the limits, so it never starts a second mutating step on a target mid-operation. Their
  // agents reconnect, heartbeat the leases and deliver the results; steps whose agent never
  // comes back are rescued when their leases expire.
  bool AdoptHeldSteps(ControlPlane& cp, db::Connection& conn) {
    // Results that arrived while the database was away go in first, or their steps would
    // look held forever.
    pending.Flush(cp, conn);
    if (pending.HasCompletions()) return false;
    auto held = cp.HeldSteps(options.site);
    if (!held) return false;
    for (auto& [_, r] : running) limits.Finished(r.target, r.mutating);
    running.clear();
    for (const auto& h : *held) {
      limits.Started(h.target, h.mutating);
      running[h.task_id] = {h.job_id, h.lease_id, h.target, h.owner, h.step_kind,
                            h.traceparent.size() > 35 ? h.traceparent.substr(3, 32) : "", h.mutating};
    }
    if (!held->empty()) log.Info(fmt::format("adopted {} step(s) agents still hold", held->size()));
    return true;
  }

  void AssignWork(ControlPlane& cp) {
    std::vector<std::shared_ptr<AgentConn>> order;
    for (const auto& [id, a] : agents) order.push_back(a);
    std::sort(order.begin(), order.end(), [this](const auto& a, const auto& b) {
      return Free(*a) > Free(*b);
    });
    for (const auto& agent : order) {
      const int free = Free(*agent);
      if (free <= 0 || agent->step_kinds.empty()) continue;
      std::vector<std::string> exclude = limits.Full();
      for (auto& t : limits.FullForMutating()) exclude.push_back(t);
      metrics.SetTargetsAtLimit(static_cast<long>(exclude.size()));
      // Affinity: this agent prefers the targets it served last; targets another agent with
      // a free slot served last are left to that agent. Affinity is a preference, never a
      // wait: a target whose agent is busy goes to whoever is free.
      std::vector<std::string> prefer;
      for (const auto& t : agent->recent_targets) {
        if (auto it = affinity.find(t); it != affinity.end() && it->second == agent->id) prefer.push_back(t);
      }
      for (const auto& [id, other] : agents) {
        if (other == agent || Free(*other) <= 0 || other->step_kinds != agent->step_kinds) continue;
        for (const auto& t : other->recent_targets) {
          if (auto it = affinity.find(t); it != affinity.end() && it->second == other->id) exclude.push_back(t);
        }
      }
      ClaimRequest request{options.site, agent->id, agent->step_kinds, free, options.lease, exclude, 1,
                           std::move(prefer)};
      auto claimed = cp.ClaimSteps(request);
      if (!claimed) return;
      std::vector<std::pair<const ClaimedStep*, pb::DispatcherMessage>> assigns;
      for (const auto& s : *claimed) {
        if (auto m = PrepareAssign(cp, s)) assigns.emplace_back(&s, std::move(*m));
      }
      for (std::size_t i = 0; i < assigns.size(); ++i) {
        const auto& [s, m] = assigns[i];
        if (!agent->Write(m, /*more=*/i + 1 < assigns.size())) {
          Noted(cp.SnoozeStep(s->task_id, s->lease_id, std::chrono::seconds(0), "agent went away before the assignment"),
                "SnoozeStep");
          continue;
        }
        Started(*agent, *s);
      }
    }
  }

  // At most this many targets remembered per agent for affinity.
  static constexpr std::size_t kRecentTargets = 512;

  void Remember(AgentConn& agent, const std::string& target) {
    affinity[target] = agent.id;
    auto& recent = agent.recent_targets;
    if (auto it = std::find(recent.begin(), recent.end(), target); it != recent.end()) recent.erase(it);
    recent.push_back(target);
    if (recent.size() > kRecentTargets) recent.pop_front();
    if (affinity.size() > 64 * kRecentTargets) {  // forget targets nobody remembers any more
      std::set<std::string> kept;
      for (const auto& [_, a] : agents) kept.insert(a->recent_targets.begin(), a->recent_targets.end());
      std::erase_if(affinity, [&kept](const auto& kv) { return !kept.count(kv.first); });
    }
  }

  int Free(const AgentConn& a) const {
    int used = 0;
    for (const auto& [_, r] : running) used += r.agent_id == a.id ? 1 : 0;
    return a.capacity - used;
  }

  // The Assign of a claimed step, with its credentials decrypted just in time; nothing when
  // the step cannot start (it is snoozed or failed here).
  std::optional<pb::DispatcherMessage> PrepareAssign(ControlPlane& cp, const ClaimedStep& s) {
    if (!limits.CanStart(s.target, s.mutating)) {
      Noted(cp.SnoozeStep(s.task_id, s.lease_id, std::chrono::seconds(0), "target at its limit"), "SnoozeStep");
      metrics.LimitWait();
      return std::nullopt;
    }
    auto m = BuildAssign(cp, s, secrets, redact, limits.RuleFor(s.target).min_interval_ms);
    if (!m) {
      Noted(cp.FailStep(s.task_id, s.lease_id, m.error()), "FailStep");
      return std::nullopt;
    }
    return std::move(*m);
  }

  void Started(AgentConn& agent, const ClaimedStep& s) {
    limits.Started(s.target, s.mutating);
    Remember(agent, s.target);
    running[s.task_id] = {s.job_id, s.lease_id, s.target, agent.id, s.step_kind,
                          s.traceparent.size() > 35 ? s.traceparent.substr(3, 32) : "", s.mutating};
    UpdateGauges();
    metrics.StepStarted(s.step_kind, s.waited_ms / 1000.0);
  }

  void Listen() {
    db::Reconnector listener(options.db, SystemClock::Instance());
    while (!stopping) {
      auto conn = listener.Get(std::chrono::milliseconds(5000));
      if (!conn) continue;
      if ((*conn)->channels().empty() && !(*conn)->Listen("dcops_work")) {
        listener.Reset();
        continue;
      }
      auto notes = (*conn)->WaitForNotifications(std::chrono::milliseconds(500));
      if (!notes) {
        listener.Reset();
        continue;
      }
      for (const auto& n : *notes) {
        rapidjson::Document payload;
        payload.Parse(n.payload.c_str());
        if (!payload.HasParseError() && payload.IsObject() && payload.HasMember("site") &&
            payload["site"].IsString() && options.site == payload["site"].GetString()) {
          Wake();
          break;
        }
      }
    }
  }

  // Leadership is gone (the lock went with the database session): a standby may lead now, so
  // every agent stream is closed (the agents try the next address, and this one answers
  // "standby" until it leads again) and nothing held here counts against limits any more. The
  // steps keep their leases; whoever leads adopts them or rescues them when they expire.
  void Demote(const std::string& why) {
    if (!leader) return;
    leader = false;
    for (auto& [id, conn] : agents) conn->Fence();
    const auto closed = agents.size();
    agents.clear();
    for (const auto& [task, step] : running) limits.Finished(step.target, step.mutating);
    running.clear();
    UpdateGauges();
    UpdateHealth();
    log.Warn("no longer leader: " + why, {}, {{"agents_closed", std::int64_t(closed)}});
  }

  // Agents as the control plane shows them: each connected one seen now with the steps it runs
  // here; one silent for three heartbeat intervals (a frozen process keeps its TCP connection)
  // is closed, which marks it offline and lets its leases expire to be rescued.
  void TendAgents(ControlPlane& cp, Steady::time_point now) {
    std::map<std::string, int> running_by_agent;
    for (const auto& [id, conn] : agents) {
      if (now - conn->last_heard > 3 * options.heartbeat + std::chrono::seconds(1)) {
        log.Warn("agent silent for three heartbeats; closing its connection", {}, {{"agent", id}});
        conn->Fence();
        continue;
      }
      running_by_agent[id] = 0;
    }
    for (const auto& [task, step] : running) {
      if (auto it = running_by_agent.find(step.agent_id); it != running_by_agent.end()) ++it->second;
    }
    if (auto st = cp.AgentsSeen({running_by_agent.begin(), running_by_agent.end()}); !st) {
      log.Warn("could not record the agents' status", {}, {{"detail", st.error().message}});
    }
  }

  // Retention: a few batches per pass so the loop stays responsive; the rest next pass.
  void Prune(ControlPlane& cp) {
    constexpr int kBatch = 1000;
    int total = 0;
    for (int pass = 0; pass < 10; ++pass) {
      auto n = cp.Prune(options.retention, kBatch);
      if (!n) {
        log.Warn("retention: pruning finished jobs failed; tried again in 5 minutes", {}, {{"detail", n.error().message}});
        return;
      }
      total += *n;
      if (*n < kBatch) break;
    }
    if (total > 0) log.Info(fmt::format("retention: {} finished job(s) older than the retention deleted", total));
  }

  int Loop() {
    db::Reconnector db(options.db, SystemClock::Instance());
    auto last_plan = Steady::now() - options.poll;
    auto last_rescue = Steady::now();
    auto last_schedules = Steady::now() - std::chrono::seconds(1);
    auto last_prune = Steady::now() - std::chrono::minutes(5);
    int leader_session = 0;  // the backend pid of the session holding the leader lock
    bool fit_to_serve = false;  // schema, contract and catalog checked (StartupProblems)
    while (!stopping) {
      auto conn = db.Get(std::chrono::milliseconds(5000));  // short: Stop() is honoured during an outage
      if (!conn) {
        db_ok = false;
        UpdateHealth();
        log.Error("control plane unreachable; retrying", {}, {{"detail", conn.error().message}});
        continue;
      }
      db_ok = true;
      ControlPlane cp(**conn);
      if (!fit_to_serve) {
        // Once, before anything else: a database this build cannot serve is an operator's
        // problem to fix, said at start, not a stream of failed jobs later.
        auto problems = StartupProblems(cp, planners);
        if (!problems) {
          log.Warn("could not check the database's schema and job catalog; retrying", {},
                   {{"detail", problems.error().message}});
          db.Reset();
          continue;
        }
        if (!problems->empty()) {
          for (const auto& p : *problems) log.Error("cannot serve this database: " + p);
          return 2;
        }
        fit_to_serve = true;
      }
      // The leader lock lives in one database session: a new session (a reconnect the loop
      // did not see coming) holds no lock, whatever this process believed.
      if (leader && (*conn)->BackendPid() != leader_session) {
        Demote("the database session that held the site's leader lock is gone");
      }
      if (!leader) {
        auto got = cp.TryLeaderLock(options.site);
        if (!got) { db.Reset(); continue; }
        if (!*got) {
          pending.Flush(cp, **conn);  // results taken while leading: lease-checked, still worth writing
          std::unique_lock lock(mu);
          cv.wait_for(lock, options.poll, [this] { return stopping.load(); });
          continue;
        }
        if (!AdoptHeldSteps(cp, **conn)) {
          db.Reset();
          continue;
        }
        if (auto led = cp.SiteLed(options.site, options.dispatcher_id); !led) {
          db.Reset();  // the site must be on record before jobs for it are accepted
          continue;
        }
        leader = true;
        leader_session = (*conn)->BackendPid();
        // Nothing is connected to a dispatcher that has just become leader (Connect refuses a
        // standby): whatever the control plane shows as online for this site is not.
        if (auto reset = cp.AgentsReset(options.site, {}); !reset) {
          log.Warn("could not mark the site's agents offline", {}, {{"detail", reset.error().message}});
        }
        UpdateGauges();
        log.Info("leader for site " + options.site);
      }
      DbServerDirectory dir(cp, **conn);
      std::deque<Inbound> batch;
      bool woken = false;
      {
        std::unique_lock lock(mu);
        cv.wait_for(lock, std::chrono::milliseconds(50), [this] { return stopping || wake || !inbox.empty(); });
        batch.swap(inbox);
        woken = wake;
        wake = false;
      }
      for (auto& in : batch) Handle(cp, in);
      const auto now = Steady::now();
      if (now - last_schedules >= std::chrono::seconds(1)) {
        // Periodic syncs and the like: a due schedule makes one job, none while its last is
        // unfinished (the SQL decides; see dispatcher_v1_fire_due_schedules).
        if (auto fired = cp.FireDueSchedules(options.site); fired && !fired->empty()) {
          log.Info(fmt::format("{} scheduled job(s) created", fired->size()));
          woken = true;
        }
        last_schedules = now;
      }
      if (woken || now - last_plan >= options.poll) {
        PlanPendingJobs(cp, **conn, dir, planners, options.site, log);
        last_plan = now;
      }
      if (now - last_rescue >= std::chrono::seconds(2)) {
        auto rescued = cp.RescueExpired(options.site);
        if (rescued && !rescued->empty()) {
          log.Warn(fmt::format("rescued {} step(s) with expired leases", rescued->size()));
          for (const auto& r : *rescued) {
            if (auto it = running.find(r.task_id); it != running.end()) {
              limits.Finished(it->second.target, it->second.mutating);
              running.erase(it);
            }
          }
          UpdateGauges();
        }
        Noted(cp.RefreshStatistics(), "RefreshStatistics");
        TendAgents(cp, now);
        last_rescue = now;
      }
      if (options.retention.count() > 0 && now - last_prune >= std::chrono::minutes(5)) {
        Prune(cp);
        last_prune = now;
      }
      AssignWork(cp);
      pending.Flush(cp, **conn);
      if (!(*conn)->Healthy()) {
        db.Reset();
        db_ok = false;
        Demote("lost the control-plane connection, and the site's leader lock with it");
      }
      UpdateHealth();
    }
    return 0;
  }
};

Dispatcher::Dispatcher(DispatcherOptions options, tls::SecretBox secrets, const Logger& log,
                       SecretRegistry& redact)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(secrets), log, redact)) {}

Dispatcher::~Dispatcher() = default;

void Dispatcher::Stop() {
  impl_->stopping = true;
  impl_->cv.notify_all();
}

int Dispatcher::Run() {
  Impl& im = *impl_;
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (im.options.insecure_dev) {
    creds = grpc::InsecureServerCredentials();
  } else {
    auto cert = ReadWholeFile(im.options.tls_cert_file);
    auto key = ReadWholeFile(im.options.tls_key_file);
    if (!cert || !key) {
      im.log.Error("TLS is required: set DCOPS_TLS_CERT_FILE and DCOPS_TLS_KEY_FILE (or --insecure-dev)");
      return 2;
    }
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    creds = grpc::SslServerCredentials(ssl);
  }
  grpc::EnableDefaultHealthCheckService(true);
  int port = 0;
  builder.AddListeningPort(im.options.grpc_listen, creds, &port);
  builder.RegisterService(&im);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    im.log.Error("cannot listen for agents on " + im.options.grpc_listen);
    return 1;
  }
  im.health = server->GetHealthCheckService();
  if (im.health != nullptr) im.health->SetServingStatus(false);  // until it leads
  httplib::Server http;
  Api api(im.options.site, im.options.api_token, im.options.db, im.secrets, im.redact, im.log);
  AddHttpEndpoints(http, {im.leader, im.db_ok, im.metrics, api});
  if (!http.bind_to_port(im.options.http_listen_host.c_str(), im.options.http_port)) {
    im.log.Error(fmt::format("cannot listen on {}:{}", im.options.http_listen_host, im.options.http_port));
    server->Shutdown();
    return 1;
  }
  std::thread http_thread([&http] { http.listen_after_bind(); });
  std::thread listener([&im] { im.Listen(); });
  im.log.Info("serving", {}, {{"grpc", im.options.grpc_listen}, {"http_port", std::int64_t{im.options.http_port}},
                              {"site", im.options.site}});
  const int rc = im.Loop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  http.stop();
  http_thread.join();
  listener.join();
  return rc;
}

}  // namespace dcops::dispatcher
