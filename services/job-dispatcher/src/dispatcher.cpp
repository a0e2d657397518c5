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

#include "control_plane.hpp"
#include "dcops/agent/v1/agent.grpc.pb.h"
#include "dcops/common/config.hpp"
#include "dcops/db/reconnector.hpp"
#include "planner.hpp"

namespace dcops::dispatcher {
namespace {

namespace pb = dcops::agent::v1;
using AgentStream = grpc::ServerReaderWriter<pb::DispatcherMessage, pb::AgentMessage>;
using Steady = std::chrono::steady_clock;

// One connected agent. The stream belongs to its gRPC thread; the loop writes through
// Write(), which refuses once that thread has returned.
struct AgentConn {
  std::string id, kind, version, hostname;
  int capacity = 1;
  std::vector<std::string> step_kinds;
  std::mutex write_mu;
  AgentStream* stream = nullptr;
  bool alive = true;

  bool Write(const pb::DispatcherMessage& m) {
    std::lock_guard lock(write_mu);
    return alive && stream->Write(m);
  }
  void Close() {
    std::lock_guard lock(write_mu);
    alive = false;
  }
};

struct Inbound {
  enum Kind { kHello, kMessage, kGone } kind;
  std::shared_ptr<AgentConn> conn;
  pb::AgentMessage msg;
};

struct RunningStep {
  std::string job_id, lease_id, target, agent_id, step_kind, trace_id;
  bool mutating = false;
};

bool SameSecret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

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
  std::atomic<int> agents_connected{0};
  std::atomic<int> steps_running{0};
  std::atomic<long> steps_assigned{0};
  std::atomic<long> steps_finished{0};

  // Loop-owned.
  std::map<std::string, std::shared_ptr<AgentConn>> agents;
  std::map<std::string, RunningStep> running;  // by task id
  TargetLimits limits;
  PlannerRegistry planners = MakePlanners();
  std::vector<Completion> completions;
  std::vector<EventRecord> events;

  Impl(DispatcherOptions o, tls::SecretBox s, const Logger& l, SecretRegistry& r)
      : options(std::move(o)), secrets(std::move(s)), log(l), redact(r), limits(options.limits) {}

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
    if (!options.agent_token.empty()) {
      auto it = ctx->client_metadata().find("authorization");
      const std::string presented = it == ctx->client_metadata().end()
                                        ? std::string() : std::string(it->second.data(), it->second.size());
      if (!SameSecret(presented, "Bearer " + options.agent_token)) {
        log.Warn("agent refused: bad or missing token", {}, {{"peer", ctx->peer()}});
        return {grpc::StatusCode::UNAUTHENTICATED, "bad or missing agent token"};
      }
    } else if (!options.insecure_dev) {
      return {grpc::StatusCode::UNAUTHENTICATED, "no agent token is configured"};
    }
    pb::AgentMessage first;
    if (!stream->Read(&first) || !first.has_hello()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "the first message must be Hello"};
    }
    const auto& h = first.hello();
    if (h.agent_id().empty() || h.agent_id().size() > 200 || h.capacity() < 1 || h.capacity() > 1000) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "Hello needs an agent_id and a capacity of 1..1000"};
    }
    auto conn = std::make_shared<AgentConn>();
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
      if (auto old = agents.find(conn->id); old != agents.end()) Forget(*old->second);
      agents[conn->id] = conn;
      agents_connected = static_cast<int>(agents.size());
      (void)cp.RegisterAgent({conn->id, options.site, conn->kind, conn->version, conn->hostname,
                              conn->capacity, conn->step_kinds});
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
        Forget(*conn);
        agents.erase(it);
        (void)cp.AgentDisconnected(conn->id);
        log.Warn("agent disconnected; its steps are rescued when their leases expire", {},
                 {{"agent", conn->id}});
      }
      agents_connected = static_cast<int>(agents.size());
      return;
    }
    const auto& m = in.msg;
    if (m.has_progress()) {
      (void)cp.ReportProgress(m.progress().task_id(), m.progress().lease_id(), m.progress().percent(),
                              redact.Scrub(m.progress().message()));
    } else if (m.has_checkpoint()) {
      auto saved = cp.SaveCheckpoint(m.checkpoint().task_id(), m.checkpoint().lease_id(),
                                     m.checkpoint().checkpoint_json());
      pb::DispatcherMessage ack;
      ack.mutable_checkpoint_ack()->set_task_id(m.checkpoint().task_id());
      ack.mutable_checkpoint_ack()->set_sequence(m.checkpoint().sequence());
      ack.mutable_checkpoint_ack()->set_saved(saved.ok() && *saved);
      conn->Write(ack);
    } else if (m.has_event()) {
      auto it = running.find(m.event().task_id());
      if (it != running.end()) {
        events.push_back({it->second.job_id, m.event().task_id(), LevelName(m.event().level()),
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

  void HandleResult(ControlPlane& cp, AgentConn& conn, const pb::Result& r) {
    auto it = running.find(r.task_id());
    RunningStep step = it != running.end() ? it->second : RunningStep{};
    if (it != running.end()) {
      limits.Finished(step.target, step.mutating);
      running.erase(it);
    }
    steps_running = static_cast<int>(running.size());
    ++steps_finished;
    switch (r.outcome()) {
      case pb::Result::SUCCEEDED:
        if (step.step_kind == "server.refresh" && !r.result_json().empty()) {
          if (auto up = cp.UpsertServer(options.site, r.result_json()); !up) {
            (void)cp.FailStep(r.task_id(), r.lease_id(), up.error());
            return;
          }
        }
        completions.push_back({r.task_id(), r.lease_id(), r.result_json()});
        break;
      case pb::Result::SNOOZED:
        (void)cp.SnoozeStep(r.task_id(), r.lease_id(), std::chrono::seconds(std::max(0, r.snooze_seconds())),
                            redact.Scrub(r.reason()));
        break;
      case pb::Result::CANCELLED:
        (void)cp.CancelStep(r.task_id(), r.lease_id(), redact.Scrub(r.reason()));
        break;
      default: {
        Error e = MakeError(r.error().code().empty() ? "step.failed" : r.error().code(),
                            redact.Scrub(r.error().message()), r.error().retryable());
        (void)cp.FailStep(r.task_id(), r.lease_id(), e);
        if (!step.job_id.empty()) {
          events.push_back({step.job_id, r.task_id(), "error",
                            fmt::format("{} failed on {}: {}", step.step_kind, step.target, e.message),
                            "", conn.id, step.trace_id});
        }
      }
    }
  }

  // An agent that is gone frees its slots here; its leases expire and are rescued.
  void Forget(AgentConn& conn) {
    for (auto it = running.begin(); it != running.end();) {
      if (it->second.agent_id == conn.id) {
        limits.Finished(it->second.target, it->second.mutating);
        it = running.erase(it);
      } else {
        ++it;
      }
    }
    steps_running = static_cast<int>(running.size());
  }

  void Plan(ControlPlane& cp, DbServerDirectory& dir) {
    auto jobs = cp.JobsToPlan(options.site, 50);
    if (!jobs) return;
    for (const auto& job : *jobs) {
      const Planner* planner = planners.Find(job.job_type);
      if (planner == nullptr) {
        (void)cp.FailJob(job.id, MakeError("plan.unknown_type",
                                           "this dispatcher cannot plan job type " + job.job_type));
        continue;
      }
      auto steps = (*planner)(job, dir);
      if (!steps) {
        (void)cp.FailJob(job.id, steps.error());
        continue;
      }
      auto n = cp.PlanJob(job.id, *steps);
      if (n) log.Info(fmt::format("planned {} step(s)", *n), {job.id, "", "", ""}, {{"job_type", job.job_type}});
    }
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
      auto claimed = cp.ClaimSteps({options.site, agent->id, agent->step_kinds, free, options.lease,
                                    exclude, 1});
      if (!claimed) return;
      for (const auto& s : *claimed) StartStep(cp, *agent, s);
    }
  }

  int Free(const AgentConn& a) const {
    int used = 0;
    for (const auto& [_, r] : running) used += r.agent_id == a.id ? 1 : 0;
    return a.capacity - used;
  }

  void StartStep(ControlPlane& cp, AgentConn& agent, const ClaimedStep& s) {
    if (!limits.CanStart(s.target, s.mutating)) {
      (void)cp.SnoozeStep(s.task_id, s.lease_id, std::chrono::seconds(0), "target at its limit");
      return;
    }
    rapidjson::Document params;
    params.Parse(s.params_json.c_str());
    std::string cred_id, pin;
    bool verify = true;
    if (!params.HasParseError() && params.IsObject() && params.HasMember("_bmc") && params["_bmc"].IsObject()) {
      const auto& b = params["_bmc"];
      if (b.HasMember("credential_set_id") && b["credential_set_id"].IsString()) cred_id = b["credential_set_id"].GetString();
      if (b.HasMember("tls_pin_sha256") && b["tls_pin_sha256"].IsString()) pin = b["tls_pin_sha256"].GetString();
      if (b.HasMember("tls_verify") && b["tls_verify"].IsBool()) verify = b["tls_verify"].GetBool();
    }
    pb::DispatcherMessage m;
    auto* a = m.mutable_assign();
    if (!cred_id.empty()) {
      auto set = cp.GetCredentialSet(cred_id);
      std::optional<std::string> password;
      if (set && set->has_value()) {
        auto opened = secrets.Open((*set)->ciphertext, (*set)->name);
        if (opened) {
          password = *opened;
          redact.Add(*opened);
          a->mutable_credentials()->set_username((*set)->username);
        }
      }
      if (!password) {
        (void)cp.FailStep(s.task_id, s.lease_id,
                          MakeError("step.credentials", "the credential set for " + s.target +
                                                            " is missing or cannot be decrypted with this dispatcher's key"));
        return;
      }
      a->mutable_credentials()->set_password(*password);
    }
    a->set_task_id(s.task_id);
    a->set_lease_id(s.lease_id);
    a->set_job_id(s.job_id);
    a->set_step_kind(s.step_kind);
    a->set_target(s.target);
    a->set_params_json(s.params_json);
    a->set_checkpoint_json(s.checkpoint_json);
    a->set_traceparent(s.traceparent);
    a->set_attempt(s.attempt);
    a->set_max_attempts(s.max_attempts);
    a->mutable_tls()->set_verify(verify);
    a->mutable_tls()->set_pinned_sha256(pin);
    if (!agent.Write(m)) {
      (void)cp.SnoozeStep(s.task_id, s.lease_id, std::chrono::seconds(0), "agent went away before the assignment");
      return;
    }
    (void)cp.StartStep(s.task_id, s.lease_id);
    limits.Started(s.target, s.mutating);
    running[s.task_id] = {s.job_id, s.lease_id, s.target, agent.id, s.step_kind,
                          s.traceparent.size() > 35 ? s.traceparent.substr(3, 32) : "", s.mutating};
    steps_running = static_cast<int>(running.size());
    ++steps_assigned;
  }

  // Events first, so a job's "succeeded" event follows its steps' last words.
  void Flush(ControlPlane& cp) {
    if (!events.empty()) {
      if (cp.AppendEvents(events)) events.clear();
    }
    if (!completions.empty()) {
      if (cp.CompleteSteps(completions)) completions.clear();
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

  int Loop() {
    db::Reconnector db(options.db, SystemClock::Instance());
    auto last_plan = Steady::now() - options.poll;
    auto last_rescue = Steady::now();
    while (!stopping) {
      auto conn = db.Get(std::chrono::milliseconds(60000));
      if (!conn) {
        db_ok = false;
        log.Error("control plane unreachable; retrying", {}, {{"detail", conn.error().message}});
        continue;
      }
      db_ok = true;
      ControlPlane cp(**conn);
      if (!leader) {
        auto got = cp.TryLeaderLock(options.site);
        if (!got) { db.Reset(); continue; }
        if (!*got) {
          std::unique_lock lock(mu);
          cv.wait_for(lock, options.poll, [this] { return stopping.load(); });
          continue;
        }
        leader = true;
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
      if (woken || now - last_plan >= options.poll) {
        Plan(cp, dir);
        last_plan = now;
      }
      if (now - last_rescue >= std::chrono::seconds(2)) {
        auto rescued = cp.RescueExpired(options.site);
        if (rescued && !rescued->empty()) {
          log.Warn(fmt::format("rescued {} step(s) with expired leases", rescued->size()));
        }
        last_rescue = now;
      }
      AssignWork(cp);
      Flush(cp);
      if (!(*conn)->Healthy()) {
        db.Reset();
        leader = false;  // the advisory lock went with the session
      }
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
  int port = 0;
  builder.AddListeningPort(im.options.grpc_listen, creds, &port);
  builder.RegisterService(&im);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    im.log.Error("cannot listen for agents on " + im.options.grpc_listen);
    return 1;
  }
  httplib::Server http;
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  http.Get("/readyz", [&im](const httplib::Request&, httplib::Response& res) {
    const bool ready = im.leader && im.db_ok;
    res.status = ready ? 200 : 503;
    res.set_content(ready ? "ready\n" : (im.leader ? "database unreachable\n" : "standby\n"), "text/plain");
  });
  http.Get("/metrics", [&im](const httplib::Request&, httplib::Response& res) {
    res.set_content(fmt::format(
        "# TYPE dcops_agents_connected gauge\ndcops_agents_connected {}\n"
        "# TYPE dcops_steps_running gauge\ndcops_steps_running {}\n"
        "# TYPE dcops_steps_assigned_total counter\ndcops_steps_assigned_total {}\n"
        "# TYPE dcops_steps_finished_total counter\ndcops_steps_finished_total {}\n"
        "# TYPE dcops_leader gauge\ndcops_leader {}\n",
        im.agents_connected.load(), im.steps_running.load(), im.steps_assigned.load(),
        im.steps_finished.load(), im.leader ? 1 : 0), "text/plain; version=0.0.4");
  });
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
