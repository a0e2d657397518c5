#include "dcops/agent/agent_client.hpp"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "dcops/agent/v1/agent.grpc.pb.h"
#include "dcops/common/config.hpp"

namespace dcops::agent {
namespace {

namespace pb = dcops::agent::v1;
using Stream = grpc::ClientReaderWriter<pb::AgentMessage, pb::DispatcherMessage>;

pb::Level ToLevel(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return pb::LEVEL_DEBUG;
    case LogLevel::kInfo: return pb::LEVEL_INFO;
    case LogLevel::kWarn: return pb::LEVEL_WARN;
    case LogLevel::kError: return pb::LEVEL_ERROR;
  }
  return pb::LEVEL_INFO;
}

// Where a step's log lines belong: its job, step, trace (from the W3C traceparent) and target.
LogContext StepLogContext(const Assignment& a) {
  return {a.job_id, a.task_id, a.traceparent.size() > 35 ? a.traceparent.substr(3, 32) : "", a.target};
}

Assignment FromProto(const pb::Assign& a) {
  Assignment out;
  out.task_id = a.task_id();
  out.lease_id = a.lease_id();
  out.job_id = a.job_id();
  out.step_kind = a.step_kind();
  out.target = a.target();
  out.params_json = a.params_json();
  out.checkpoint_json = a.checkpoint_json();
  out.traceparent = a.traceparent();
  out.attempt = a.attempt();
  out.max_attempts = a.max_attempts();
  out.credentials = {a.credentials().username(), a.credentials().password()};
  for (const auto& c : a.credential_sets()) {
    out.credential_sets.push_back({c.id(), c.name(), {c.credentials().username(), c.credentials().password()}});
  }
  out.tls = {a.tls().verify(), a.tls().pinned_sha256(), a.tls().legacy()};
  out.min_interval = std::chrono::milliseconds(a.pacing().min_interval_ms());
  return out;
}

}  // namespace

// A running step's window on the stream.
class StreamStepContext final : public StepContext {
 public:
  StreamStepContext(AgentClient::Impl& agent, Assignment a, Clock& clock)
      : agent_(agent), a_(std::move(a)), clock_(clock) {}
  const Assignment& assignment() const override { return a_; }
  void Progress(int percent, std::string_view message) override;
  void Event(LogLevel level, std::string_view message) override;
  Status SaveCheckpoint(std::string json) override;
  Status SendInventory(std::string_view kind, std::string json) override;
  bool CancelRequested() const override {
    std::lock_guard lock(mu_);
    return cancel_;
  }
  Clock& clock() override { return clock_; }
  bool Wait(std::chrono::milliseconds d) override {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, d, [this] { return cancel_; });
  }
  void Cancel() {
    {
      std::lock_guard lock(mu_);
      cancel_ = true;
    }
    cv_.notify_all();
  }
  void Acked(std::uint64_t sequence, bool saved) {
    {
      std::lock_guard lock(mu_);
      acks_[sequence] = saved;
    }
    cv_.notify_all();
  }

 private:
  AgentClient::Impl& agent_;
  Assignment a_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool cancel_ = false;
  std::uint64_t NextSequence() {
    std::lock_guard lock(mu_);
    return next_sequence_++;
  }
  // Waits for the dispatcher to confirm `what` (a checkpoint or an inventory batch) as stored.
  Status AwaitAck(std::uint64_t sequence, const char* what) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(15), [&] { return acks_.count(sequence) != 0; })) {
      return MakeError("agent.checkpoint", std::string("the dispatcher did not confirm the ") + what, true);
    }
    if (!acks_[sequence]) return MakeError("agent.lease_lost", "the step's lease is gone; stopping", false);
    return {};
  }

  std::uint64_t next_sequence_ = 1;
  std::map<std::uint64_t, bool> acks_;
};

struct AgentClient::Impl {
  AgentOptions options;
  const StepRegistry& steps;
  const Logger& log;
  Clock& clock;

  // Serialises writes to the stream (gRPC allows one at a time). Taken before `mu`, never
  // while holding it: a write blocks while the dispatcher reads slowly, and holding `mu` then
  // would stall heartbeats, cancels and every step's bookkeeping.
  std::mutex write_mu;
  std::mutex mu;  // guards everything below
  std::condition_variable cv;
  // Workers wait here alone, so an assignment wakes one worker, not every thread.
  std::condition_variable work_cv;
  std::shared_ptr<Stream> stream;
  std::shared_ptr<grpc::ClientContext> context;
  std::deque<pb::AgentMessage> undelivered;
  std::deque<Assignment> queue;
  std::map<std::string, std::shared_ptr<StreamStepContext>> running;  // by task id
  bool draining = false;
  bool drained = false;  // every step's result is written; the stream is being closed
  bool half_closed = false;  // WritesDone was called on the current stream: no more writes
  bool stopping = false;
  std::chrono::milliseconds heartbeat{5000};

  Impl(AgentOptions o, const StepRegistry& s, const Logger& l, Clock& c)
      : options(std::move(o)), steps(s), log(l), clock(c) {}

  // Results, checkpoints, inventory batches and events wait for the next stream when there is none (a
  // dispatcher restarting or failing over): a step waiting on its checkpoint's ack rides over
  // the reconnect instead of failing. Events are kept up to a bound; progress is best effort
  // (the next report replaces it).
  // write_mu is held from the look at the stream to the Keep: a reconnect (which replays what
  // waits under write_mu) can never slip in between and leave this message for the one after.
  void Send(const pb::AgentMessage& m) {
    std::lock_guard w(write_mu);
    if (WriteLocked(m)) return;
    std::lock_guard lock(mu);
    Keep(m);
  }

  // Writes to the open stream, outside `mu`. False when there is none (or it is half-closed)
  // or the write failed. For messages that need not wait for the next stream (heartbeats).
  bool WriteOut(const pb::AgentMessage& m) {
    std::lock_guard w(write_mu);
    return WriteLocked(m);
  }
  // WriteOut's body; the caller holds write_mu.
  bool WriteLocked(const pb::AgentMessage& m) {
    std::shared_ptr<Stream> s;
    {
      std::lock_guard lock(mu);
      if (!stream || half_closed) return false;
      s = stream;
    }
    return s->Write(m);
  }

  // Holds an unsent message for the next stream (the caller holds `mu`).
  void Keep(const pb::AgentMessage& m) {
    if (m.has_result() || m.has_checkpoint() || m.has_inventory() || (m.has_event() && undelivered.size() < kMaxUndelivered)) {
      undelivered.push_back(m);
    }
  }
  static constexpr std::size_t kMaxUndelivered = 10000;

  void Worker() {
    for (;;) {
      Assignment a;
      std::shared_ptr<StreamStepContext> ctx;
      {
        std::unique_lock lock(mu);
        work_cv.wait(lock, [this] { return stopping || !queue.empty(); });
        if (queue.empty()) return;
        a = std::move(queue.front());
        queue.pop_front();
        ctx = std::make_shared<StreamStepContext>(*this, a, clock);
        running[a.task_id] = ctx;
      }
      const LogContext lc = StepLogContext(a);
      log.Info(fmt::format("running {} (attempt {})", a.step_kind, a.attempt), lc);
      const StepOutcome out = steps.Run(*ctx);
      pb::AgentMessage m;
      auto* r = m.mutable_result();
      r->set_task_id(a.task_id);
      r->set_lease_id(a.lease_id);
      switch (out.kind) {
        case StepOutcome::Kind::kSucceeded:
          r->set_outcome(pb::Result::SUCCEEDED);
          r->set_result_json(out.result_json);
          break;
        case StepOutcome::Kind::kFailed:
          r->set_outcome(pb::Result::FAILED);
          r->mutable_error()->set_code(out.error.code);
          r->mutable_error()->set_message(out.error.message);
          r->mutable_error()->set_retryable(out.error.retryable);
          break;
        case StepOutcome::Kind::kSnoozed:
          r->set_outcome(pb::Result::SNOOZED);
          r->set_snooze_seconds(static_cast<int>(out.snooze.count()));
          r->set_reason(out.reason);
          break;
        case StepOutcome::Kind::kCancelled:
          r->set_outcome(pb::Result::CANCELLED);
          r->set_reason(out.reason);
          break;
      }
      // A failure is worth a look (the dispatcher decides whether it is retried and says so).
      log.Log(out.kind == StepOutcome::Kind::kFailed ? LogLevel::kWarn : LogLevel::kInfo,
              fmt::format("{} finished: {}", a.step_kind, pb::Result::Outcome_Name(r->outcome())), lc,
              {{"error", out.error.message}});
      Send(m);
      {
        std::lock_guard lock(mu);
        running.erase(a.task_id);
      }
      cv.notify_all();
    }
  }

  void Heartbeats() {
    std::unique_lock lock(mu);
    while (!stopping) {
      cv.wait_for(lock, heartbeat, [this] { return stopping; });
      if (stopping) break;
      pb::AgentMessage m;
      auto* hb = m.mutable_heartbeat();
      for (const auto& [task, ctx] : running) hb->add_lease_ids(ctx->assignment().lease_id);
      hb->set_running(static_cast<int>(running.size()));
      lock.unlock();
      WriteOut(m);  // a lost heartbeat is replaced by the next
      lock.lock();
    }
  }

  // A result that hands an assignment back unstarted (the dispatcher re-queues it at once).
  static pb::AgentMessage HandBack(const Assignment& a) {
    pb::AgentMessage m;
    auto* r = m.mutable_result();
    r->set_task_id(a.task_id);
    r->set_lease_id(a.lease_id);
    r->set_outcome(pb::Result::SNOOZED);
    r->set_reason("agent draining");
    return m;
  }

  // Drain, on the stream that is open (SIGTERM must not cost a finished step its result):
  // queued assignments are handed back, running steps get drain_timeout to finish (then are
  // cancelled and get a little longer to say so), and only then is the stream half-closed, so
  // the dispatcher reads every result before it sees the end. A stream that does not end soon
  // after is cancelled.
  void Drainer() {
    std::unique_lock lock(mu);
    cv.wait(lock, [this] { return draining || stopping; });
    if (stopping) return;
    std::deque<Assignment> unstarted;
    unstarted.swap(queue);
    lock.unlock();
    for (const auto& a : unstarted) Send(HandBack(a));
    lock.lock();
    if (!cv.wait_for(lock, options.drain_timeout, [this] { return running.empty(); })) {
      log.Warn("drain timeout: cancelling the steps still running", {}, {{"running", std::int64_t(running.size())}});
      for (auto& [task, ctx] : running) ctx->Cancel();
      cv.wait_for(lock, std::chrono::seconds(10), [this] { return running.empty(); });
    }
    drained = true;
    if (stream) {
      half_closed = true;  // from here WriteOut() keeps messages instead
      auto s = stream;
      lock.unlock();
      {
        // Under write_mu, and only if the stream is still the current one: a stream that has
        // ended is reset under write_mu before it is finished, and must not be half-closed.
        std::lock_guard w(write_mu);
        bool current = false;
        {
          std::lock_guard again(mu);
          current = stream == s;
        }
        if (current) s->WritesDone();
      }
      lock.lock();
      auto ctx = context;
      if (!cv.wait_for(lock, std::chrono::seconds(10), [this] { return !stream; }) && ctx) ctx->TryCancel();
    }
    cv.notify_all();
  }

  // One connection's life. Returns when the stream ends or the agent has drained: true when
  // the dispatcher welcomed the agent, false when it was unreachable or refused it.
  bool Session(const std::string& address) {
    auto channel = grpc::CreateChannel(
        address,
        options.insecure_dev ? grpc::InsecureChannelCredentials() : [this] {
          grpc::SslCredentialsOptions ssl;
          if (!options.tls_ca_file.empty()) ssl.pem_root_certs = ReadWholeFile(options.tls_ca_file).value_or("");
          return grpc::SslCredentials(ssl);
        }());
    auto stub = pb::AgentService::NewStub(channel);
    auto ctx = std::make_shared<grpc::ClientContext>();
    if (!options.token.empty()) ctx->AddMetadata("authorization", "Bearer " + options.token);
    std::shared_ptr<Stream> s(stub->Connect(ctx.get()));
    pb::AgentMessage hello;
    auto* h = hello.mutable_hello();
    h->set_agent_id(options.agent_id);
    h->set_kind(options.kind);
    h->set_version(options.version);
    h->set_capacity(options.capacity);
    for (const auto& k : steps.kinds()) h->add_step_kinds(k);
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    h->set_hostname(host);
    if (!s->Write(hello)) {
      log.Warn("dispatcher unreachable", {}, {{"address", address}, {"detail", s->Finish().error_message()}});
      return false;
    }
    pb::DispatcherMessage in;
    if (!s->Read(&in) || !in.has_welcome()) {
      log.Warn("dispatcher refused the agent", {}, {{"address", address}, {"detail", s->Finish().error_message()}});
      return false;
    }
    {
      // What waited goes first: other writers queue on write_mu until it is out.
      std::lock_guard w(write_mu);
      std::deque<pb::AgentMessage> waiting;
      bool close_after = false;
      {
        std::lock_guard lock(mu);
        stream = s;
        context = ctx;
        heartbeat = std::chrono::milliseconds(std::max(100, in.welcome().heartbeat_interval_ms()));
        waiting.swap(undelivered);
        // Reconnected after the drain finished its steps: deliver what waited, then close.
        close_after = drained;
        half_closed = drained;
      }
      for (const auto& m : waiting) s->Write(m);
      if (close_after) s->WritesDone();
    }
    cv.notify_all();
    log.Info("connected", {}, {{"dispatcher", in.welcome().dispatcher_id()}, {"site", in.welcome().site()}});
    while (s->Read(&in)) {
      if (in.has_assign()) {
        Assignment a = FromProto(in.assign());
        std::unique_lock lock(mu);
        if (draining) {
          lock.unlock();
          Send(HandBack(a));
        } else {
          queue.push_back(std::move(a));
          work_cv.notify_one();
        }
      } else if (in.has_cancel()) {
        std::lock_guard lock(mu);
        if (auto it = running.find(in.cancel().task_id()); it != running.end()) it->second->Cancel();
      } else if (in.has_checkpoint_ack()) {
        std::lock_guard lock(mu);
        if (auto it = running.find(in.checkpoint_ack().task_id()); it != running.end()) {
          it->second->Acked(in.checkpoint_ack().sequence(), in.checkpoint_ack().saved());
        }
      } else if (in.has_drain()) {
        std::lock_guard lock(mu);
        draining = true;
        cv.notify_all();
      }
    }
    {
      std::lock_guard w(write_mu);  // no write is in flight when the stream is finished
      std::lock_guard lock(mu);
      stream.reset();
      context.reset();
    }
    cv.notify_all();
    const grpc::Status st = s->Finish();
    if (!draining) log.Warn("stream to the dispatcher ended", {}, {{"detail", st.error_message()}});
    return true;
  }

};

void StreamStepContext::Progress(int percent, std::string_view message) {
  pb::AgentMessage m;
  auto* p = m.mutable_progress();
  p->set_task_id(a_.task_id);
  p->set_lease_id(a_.lease_id);
  p->set_percent(percent);
  p->set_message(std::string(message));
  agent_.Send(m);
}

void StreamStepContext::Event(LogLevel level, std::string_view message) {
  // A warning or an error is also the agent's own log line, so a failure a step reports is in
  // the host's logs even when the dispatcher is unreachable.
  if (level >= LogLevel::kWarn) {
    agent_.log.Log(level, message, StepLogContext(a_));
  }
  pb::AgentMessage m;
  auto* e = m.mutable_event();
  e->set_task_id(a_.task_id);
  e->set_lease_id(a_.lease_id);
  e->set_level(ToLevel(level));
  e->set_message(std::string(message));
  e->set_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch()).count());
  agent_.Send(m);
}

Status StreamStepContext::SaveCheckpoint(std::string json) {
  const std::uint64_t sequence = NextSequence();
  pb::AgentMessage m;
  auto* c = m.mutable_checkpoint();
  c->set_task_id(a_.task_id);
  c->set_lease_id(a_.lease_id);
  c->set_checkpoint_json(std::move(json));
  c->set_sequence(sequence);
  agent_.Send(m);
  // The step waits for the dispatcher to have stored it: that is what makes resuming safe.
  return AwaitAck(sequence, "checkpoint");
}

Status StreamStepContext::SendInventory(std::string_view kind, std::string json) {
  if (auto st = CheckInventoryBatch(kind, json); !st) return st;
  const std::uint64_t sequence = NextSequence();
  pb::AgentMessage m;
  auto* b = m.mutable_inventory();
  b->set_task_id(a_.task_id);
  b->set_lease_id(a_.lease_id);
  b->set_kind(std::string(kind));
  b->set_json(std::move(json));
  b->set_sequence(sequence);
  agent_.Send(m);
  return AwaitAck(sequence, "inventory batch");
}

AgentClient::AgentClient(AgentOptions options, const StepRegistry& steps, const Logger& log, Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), steps, log, clock)) {}

AgentClient::~AgentClient() = default;

bool AgentClient::Serving() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stream != nullptr && !impl_->draining;
}

void AgentClient::RequestDrain() {
  std::lock_guard lock(impl_->mu);
  impl_->draining = true;
  impl_->cv.notify_all();
}

int AgentClient::Run() {
  Impl& im = *impl_;
  std::vector<std::thread> workers;
  for (int i = 0; i < std::max(1, im.options.capacity); ++i) workers.emplace_back([&im] { im.Worker(); });
  std::thread heartbeats([&im] { im.Heartbeats(); });
  std::thread drainer([&im] { im.Drainer(); });
  std::mt19937_64 rng(std::random_device{}());
  // Several addresses (a leader and its standbys): an address that is unreachable or refuses
  // the agent (a standby does) makes the agent try the next one.
  std::vector<std::string> addresses;
  for (std::size_t at = 0; at <= im.options.dispatcher_address.size();) {
    const auto comma = im.options.dispatcher_address.find(',', at);
    const auto end = comma == std::string::npos ? im.options.dispatcher_address.size() : comma;
    if (end > at) addresses.push_back(im.options.dispatcher_address.substr(at, end - at));
    at = end + 1;
  }
  if (addresses.empty()) addresses.push_back("127.0.0.1:50051");
  std::size_t next = 0;
  // Connected until drained: a drain that finds no stream (the dispatcher failing over) keeps
  // reconnecting, so the results of the steps it lets finish are still delivered.
  for (int attempt = 1;; ++attempt) {
    {
      std::lock_guard lock(im.mu);
      if (im.drained) break;
    }
    if (im.Session(addresses[next % addresses.size()])) {
      attempt = 1;  // a session that was welcomed starts the backoff afresh
    } else {
      ++next;
    }
    std::unique_lock lock(im.mu);
    if (im.drained) break;
    const auto delay = im.options.reconnect.Delay(std::min(attempt, 20), rng);
    im.cv.wait_for(lock, delay, [&im] { return im.drained; });
  }
  {
    std::lock_guard lock(im.mu);
    im.stopping = true;
  }
  im.cv.notify_all();
  im.work_cv.notify_all();
  for (auto& t : workers) t.join();
  heartbeats.join();
  drainer.join();
  std::size_t undelivered_results = 0;
  for (const auto& m : im.undelivered) undelivered_results += m.has_result() ? 1 : 0;
  if (undelivered_results > 0) {
    im.log.Warn("drained with results the dispatcher never received; their steps run again when the leases expire",
                {}, {{"results", std::int64_t(undelivered_results)}});
  }
  im.log.Info("drained");
  return 0;
}

}  // namespace dcops::agent
