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
#include "background_writer.hpp"
#include "control_plane.hpp"
#include "control_plane_port.hpp"
#include "dispatch_core.hpp"
#include "dcops/agent/v1/agent.grpc.pb.h"
#include "dcops/common/config.hpp"
#include "dcops/common/names.hpp"
#include "dcops/db/reconnector.hpp"
#include "change_feed.hpp"
#include "console_routes.hpp"
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
using AgentStream = grpc::ServerReaderWriter<pb::DispatcherMessage, pb::AgentMessage>;

// An agent's gRPC stream as the core writes to it. Valid while the call's thread is in
// Connect(); AgentConn stops using it once that thread has returned (Close).
class GrpcAgentLink final : public AgentLink {
 public:
  GrpcAgentLink(grpc::ServerContext* ctx, AgentStream* stream) : ctx_(ctx), stream_(stream) {}
  bool Write(const pb::DispatcherMessage& m, bool more) override {
    grpc::WriteOptions options;
    if (more) options.set_buffer_hint();
    return stream_->Write(m, options);
  }
  void Cancel() override { ctx_->TryCancel(); }

 private:
  grpc::ServerContext* ctx_;
  AgentStream* stream_;
};

CoreOptions CoreOptionsOf(const DispatcherOptions& o) {
  CoreOptions c;
  c.site = o.site;
  c.dispatcher_id = o.dispatcher_id;
  c.lease = o.lease;
  c.heartbeat = o.heartbeat;
  c.retention = o.retention;
  c.limits = o.limits;
  return c;
}

// The BackgroundWriter's writes: WriteBehind::Flush through a connection of the writer's own.
// An outage is said once when it starts holding writes back and once when they go in again
// (the loop says the same of its own connection); the writes wait meanwhile.
BackgroundWriter::WriteFn WriteThroughOwnConnection(const db::DbOptions& options, const Logger& log) {
  struct State {
    db::Reconnector db;
    bool away = false;
    int configured = 0;  // the backend pid whose session has the lock timeout set
  };
  auto state = std::make_shared<State>(State{db::Reconnector(options, SystemClock::Instance())});
  return [state, &log](WriteBehind& pending) {
    auto conn = state->db.Get(std::chrono::milliseconds(1000));
    if (conn && (*conn)->BackendPid() != state->configured) {
      // The writer never holds the loop up for long on a row lock: with two sessions writing
      // one job's rows (its events' keys here, its step there), a lock cycle would otherwise
      // stall the loop until PostgreSQL's deadlock check (1 s). A write that times out is
      // rolled back whole and tried again in `retry`.
      if (auto set = (*conn)->Exec("SET lock_timeout = '100ms'"); set) {
        state->configured = (*conn)->BackendPid();
      } else {
        state->db.Reset();
        conn = set.error();
      }
    }
    bool wrote = false;
    if (conn) {
      ControlPlane cp(**conn);
      try {
        wrote = pending.Flush(cp, **conn);
      } catch (...) {
        // A transaction the exception left open would take the next attempt's writes too.
        state->db.Reset();
        throw;
      }
      if (!(*conn)->Healthy()) state->db.Reset();
    }
    const bool held = pending.HasCompletions() || !pending.events().empty();
    if (held && !state->away) {
      state->away = true;
      log.Warn("step completions and events wait for the control plane; retrying", {},
               {{"completions", std::int64_t(pending.completions().size())},
                {"events", std::int64_t(pending.events().size())},
                {"detail", conn ? std::string("the write failed") : conn.error().message}});
    } else if (!held && state->away) {
      state->away = false;
      log.Info("step completions and events written again");
    }
    return wrote;
  };
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
  std::atomic<int> loop_session{0};  // the backend pid of the loop's database session (Listen)
  DispatcherMetrics metrics;
  ChangeFeed feed;  // the console's streams wait on it (change_feed.hpp)
  // grpc.health.v1 on the agents' port: SERVING while this dispatcher leads its site with the
  // database reachable, NOT_SERVING as a standby or during an outage. Set by Run().
  grpc::HealthCheckServiceInterface* health = nullptr;
  bool serving = false;

  // Writes the loop's step completions and events (core.pending()); set by Run().
  std::unique_ptr<BackgroundWriter> writer;

  // Loop-owned.
  PlannerRegistry planners;
  DispatchCore core;

  Impl(DispatcherOptions o, tls::SecretBox s, const Logger& l, SecretRegistry& r)
      : options(std::move(o)), secrets(std::move(s)), log(l), redact(r), planners(MakePlanners(options.bench_job_types)),
        core(CoreOptionsOf(options), SystemClock::Instance(), l, r, metrics) {}

  void UpdateHealth() {
    const bool now = leader && db_ok;
    if (now != serving) {
      if (health != nullptr) health->SetServingStatus(now);
      feed.Publish();  // consoles look again, and say so when the database is away
    }
    serving = now;
  }

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
    conn->link = std::make_shared<GrpcAgentLink>(ctx, stream);
    conn->id = h.agent_id();
    conn->kind = h.kind();
    conn->version = h.version();
    conn->hostname = h.hostname();
    conn->capacity = h.capacity();
    conn->step_kinds.assign(h.step_kinds().begin(), h.step_kinds().end());
    Post({Inbound::kHello, conn, {}});
    pb::AgentMessage m;
    while (!stopping && stream->Read(&m)) Post({Inbound::kMessage, conn, m});
    conn->Close();
    Post({Inbound::kGone, conn, {}});
    return grpc::Status::OK;
  }

  // ---- loop side.
  void Handle(CorePort& port, Inbound& in) {
    switch (in.kind) {
      case Inbound::kHello: core.OnHello(port, in.conn); return;
      case Inbound::kGone: core.OnGone(port, in.conn); return;
      case Inbound::kMessage:
        // The database is away: the message (a checkpoint, a batch) is handled once it is back.
        if (!core.OnMessage(port, *in.conn, in.msg)) Post(std::move(in));
        return;
    }
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
      bool ours = false, work = false;
      for (const auto& n : *notes) {
        rapidjson::Document payload;
        payload.Parse(n.payload.c_str());
        if (payload.HasParseError() || !payload.IsObject() || !payload.HasMember("site") ||
            !payload["site"].IsString() || options.site != payload["site"].GetString()) {
          continue;
        }
        ours = true;
        // A job that finished or paused gives the loop nothing to plan or claim: consoles look
        // again, the loop sleeps on. Nor do steps the loop's own session made ready: it made
        // them in a round that claims after its writes (a plan, a result's dependents). Anything
        // else (a job created or resumed, steps ready elsewhere, a cancel, an event this build
        // does not know) wakes it.
        const std::string event =
            payload.HasMember("event") && payload["event"].IsString() ? payload["event"].GetString() : "";
        const bool own_steps = event == "steps_ready" && n.sender_pid != 0 && n.sender_pid == loop_session.load();
        if (event != "job_finished" && event != "job_paused" && !own_steps) work = true;
      }
      if (work) Wake();
      if (ours) feed.Publish();  // a job created, cancelled, resumed or ended elsewhere: consoles look again
    }
  }

  // Leadership is gone (the lock went with the database session): see DispatchCore::Demote.
  void Demote(const std::string& why) {
    if (!leader) return;
    leader = false;
    const auto closed = core.Demote();
    UpdateHealth();
    log.Warn("no longer leader: " + why, {}, {{"agents_closed", std::int64_t(closed)}});
  }

  int Loop() {
    db::Reconnector db(options.db, SystemClock::Instance());
    PlanCadence planning(options.poll);
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
      loop_session = (*conn)->BackendPid();
      ControlPlane cp(**conn);
      ControlPlanePort port(cp, options.site, secrets, redact);
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
        auto catalog = cp.JobCatalog();
        if (!catalog) {
          db.Reset();
          continue;
        }
        core.SetCatalog(*catalog);
        fit_to_serve = true;
      }
      core.RetryDeferred(port);  // what an outage held back goes first
      // The leader lock lives in one database session: a new session (a reconnect the loop
      // did not see coming) holds no lock, whatever this process believed.
      if (leader && (*conn)->BackendPid() != leader_session) {
        Demote("the database session that held the site's leader lock is gone");
      }
      if (!leader) {
        auto got = cp.TryLeaderLock(options.site);
        if (!got) { db.Reset(); continue; }
        if (!*got) {
          writer->Hand(core.pending());  // results taken while leading: lease-checked, still worth writing
          std::unique_lock lock(mu);
          cv.wait_for(lock, options.poll, [this] { return stopping.load(); });
          continue;
        }
        // Results that arrived while the database was away go in first, or their steps would
        // look held forever.
        writer->Hand(core.pending());
        // Deferred step-ending writes too: a step adopted now and ended by one of them later
        // would hold its target's slot with no result to come.
        if (!writer->WaitUntilWritten(std::chrono::seconds(2)) || core.deferred() > 0 || !core.AdoptHeldSteps(port)) {
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
        core.SetLeading(true);
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
      // Anything that may change what a console shows: agents' messages, a NOTIFY, a
      // schedule fired, jobs planned, steps rescued, results written (ChangeFeed).
      bool changed = woken;
      // What may have made steps claimable (DispatchCore::AssignWork): a NOTIFY, a schedule
      // fired, an agent come or gone, a result that freed something, jobs planned, steps rescued.
      bool new_work = woken;
      for (const auto& in : batch) {
        // A heartbeat changes nothing a console shows (agents' last_seen_at aside).
        if (in.kind != Inbound::kMessage || !in.msg.has_heartbeat()) changed = true;
        // An agent come or gone is new work; a result, or a step write it caused, is when it
        // freed something no NOTIFY will announce (TakeFreedWork, below).
        if (in.kind != Inbound::kMessage) new_work = true;
      }
      for (auto& in : batch) Handle(port, in);
      if (core.TakeFreedWork()) new_work = true;
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
      if (planning.Due(now, woken)) {
        const int planned = PlanPendingJobs(cp, **conn, dir, planners, options.site, log);
        if (planned > 0) changed = new_work = true;
        planning.Planned(planned, now);
      }
      if (now - last_rescue >= std::chrono::seconds(2)) {
        // No rescue while the writer holds writes the control plane refused: a step whose
        // completion waits there has ended, and its lease running out must not run it again.
        Result<std::vector<RescuedStep>> rescued = std::vector<RescuedStep>{};
        if (!writer->Stalled(std::chrono::milliseconds(0))) rescued = cp.RescueExpired(options.site);
        if (rescued && !rescued->empty()) {
          log.Warn(fmt::format("rescued {} step(s) with expired leases", rescued->size()));
          core.Rescued(*rescued);
          changed = new_work = true;
        }
        if (auto st = cp.RefreshStatistics(); !st) log.Warn("control-plane write RefreshStatistics failed: " + st.error().message);
        core.TendAgents(port);
        last_rescue = now;
      }
      if (options.retention.count() > 0 && now - last_prune >= std::chrono::minutes(5)) {
        core.Prune(port);
        last_prune = now;
      }
      core.AssignWork(port, new_work);
      writer->Hand(core.pending());  // written beside the loop; consoles hear of it from the writer
      feed.SetLimits(core.limits().InUseJson());  // publishes itself when the limits in use move
      if (changed) feed.Publish();
      if (!(*conn)->Healthy()) {
        db.Reset();
        db_ok = false;
        Demote("lost the control-plane connection, and the site's leader lock with it");
      }
      UpdateHealth();
    }
    // The agents' last results are written while this session still holds the site's leader
    // lock (it ends when Loop returns): a standby that led sooner would count their steps as
    // still held, with no result to come.
    writer->Hand(core.pending());
    if (leader) (void)writer->WaitUntilWritten(std::chrono::seconds(4));
    if (core.deferred() > 0) {
      log.Warn(fmt::format("stopping with {} step-ending write(s) the database did not take; their steps are rescued "
                           "when their leases expire",
                           core.deferred()));
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
  Api api(im.options.site, im.options.api_token, im.options.db, im.secrets, im.redact, im.log, im.options.viewer_token);
  api.ServeLimitsFrom(im.feed);
  // First: httplib takes the first route that matches, and /api/v1/.* would take the stream.
  AddConsoleRoutes(http, api, im.feed, im.log);
  AddHttpEndpoints(http, {im.leader, im.db_ok, im.metrics, api});
  if (!http.bind_to_port(im.options.http_listen_host.c_str(), im.options.http_port)) {
    im.log.Error(fmt::format("cannot listen on {}:{}", im.options.http_listen_host, im.options.http_port));
    server->Shutdown();
    return 1;
  }
  std::thread http_thread([&http] { http.listen_after_bind(); });
  im.writer = std::make_unique<BackgroundWriter>(im.log, WriteThroughOwnConnection(im.options.db, im.log),
                                                 [&im] { im.feed.Publish(); });
  // Thread entries end in a log line, never in std::terminate: a listener that fails leaves
  // the loop polling (slower pickup, nothing lost); a loop that fails stops the dispatcher.
  std::thread listener([&im] {
    try {
      im.Listen();
    } catch (const std::exception& e) {
      im.log.Error(std::string("the NOTIFY listener stopped on an internal error; polling only: ") + e.what());
    }
  });
  im.log.Info("serving", {}, {{"grpc", im.options.grpc_listen}, {"http_port", std::int64_t{im.options.http_port}},
                              {"site", im.options.site}});
  int rc = 1;
  try {
    rc = im.Loop();
  } catch (const std::exception& e) {
    im.log.Error(std::string("the dispatch loop stopped on an internal error: ") + e.what());
  }
  if (const auto left = im.writer->Stop(std::chrono::seconds(2)); left > 0) {
    im.log.Warn(fmt::format("stopping with {} step completion(s) the control plane did not take; their steps are "
                            "rescued when their leases expire",
                            left));
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  im.feed.Close();  // console streams end, or http.stop() would wait for their keep-alive
  http.stop();
  http_thread.join();
  listener.join();
  return rc;
}

}  // namespace dcops::dispatcher
