#include "dcops/agent/agent_process.hpp"
#include "dcops/common/stop_signals.hpp"

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"

namespace dcops::agent {

void AddAgentSettings(ConfigSpec& spec, AgentSettings& s) {
  spec.String("DISPATCHER_ADDRESS", &s.options.dispatcher_address,
              "dispatcher gRPC address (comma-separated: leader and standbys)")
      .String("AGENT_ID", &s.options.agent_id, "this agent's name (default: <kind>-<host>-<pid>)")
      .String("AGENT_TOKEN_FILE", &s.token_file, "file holding the bearer token")
      .String("AGENT_TOKEN", &s.options.token, "bearer token (prefer the _FILE form)")
      .String("TLS_CA_FILE", &s.options.tls_ca_file, "CA that signed the dispatcher's certificate")
      .Bool("INSECURE_DEV", &s.options.insecure_dev, "plaintext gRPC (development only)")
      .Int("CAPACITY", &s.capacity, 1, 256, "steps run at once")
      .String("HEALTH_SOCKET", &s.health_socket, "unix socket for grpc.health.v1 (the container's healthcheck: <agent> --health)")
      .Duration("DRAIN_TIMEOUT", &s.options.drain_timeout,
                "on SIGTERM, how long running steps may take to finish before they are cancelled (60s)");
}

Status LoadAgentSettings(const ConfigSpec& spec, AgentSettings& s, const char* argv1, SecretRegistry& secrets) {
  if (auto st = spec.Load(ProcessEnvironment("DCOPS_"), ReadWholeFile); !st) return st;
  if (argv1 != nullptr && std::string_view(argv1) == "--insecure-dev") s.options.insecure_dev = true;
  if (!s.token_file.empty()) {
    auto t = ReadSecretFile(s.token_file);
    if (!t) return t.error();
    s.options.token = *t;
  }
  secrets.Add(s.options.token);
  s.options.capacity = static_cast<int>(s.capacity);
  if (s.options.agent_id.empty()) {
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    s.options.agent_id = s.options.kind + "-" + host + "-" + std::to_string(::getpid());
  }
  return {};
}

namespace {

// grpc.health.v1 on a unix socket: what `--health` (a container's healthcheck) asks. Check
// only; the overall status ("") is the agent's.
class HealthService final : public grpc::health::v1::Health::Service {
 public:
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override {
    if (!request->service().empty()) return {grpc::StatusCode::NOT_FOUND, "only the agent's own status (\"\") is served"};
    response->set_status(serving_.load() ? grpc::health::v1::HealthCheckResponse::SERVING
                                         : grpc::health::v1::HealthCheckResponse::NOT_SERVING);
    return grpc::Status::OK;
  }
  void Set(bool serving) { serving_.store(serving); }

 private:
  std::atomic<bool> serving_{false};
};

class HealthServer {
 public:
  Status Start(const std::string& socket) {
    if (socket.empty()) return {};
    ::unlink(socket.c_str());  // a socket a killed agent left behind
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    if (!server_) return MakeError("config.health_socket", "cannot serve grpc.health.v1 on " + socket);
    return {};
  }
  void Set(bool serving) { service_.Set(serving); }
  void Stop() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

 private:
  HealthService service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace

int ProbeHealth() {
  const char* socket = std::getenv("DCOPS_HEALTH_SOCKET");
  if (socket == nullptr || *socket == '\0') {
    std::fputs("--health: DCOPS_HEALTH_SOCKET is not set\n", stderr);
    return 1;
  }
  auto channel = grpc::CreateChannel(std::string("unix:") + socket, grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status st = stub->Check(&ctx, request, &response);
  if (!st.ok()) {
    std::fprintf(stderr, "--health: %s: %s\n", socket, st.error_message().c_str());
    return 1;
  }
  const bool serving = response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  std::fputs(serving ? "SERVING\n" : "NOT_SERVING (no dispatcher, or draining)\n", serving ? stdout : stderr);
  return serving ? 0 : 1;
}

int ServeUntilSignalled(AgentClient& client, const AgentSettings& settings, const Logger& log,
                        const std::function<void()>& periodic, std::chrono::milliseconds period) {
  const sigset_t signals = BlockStopSignals();
  // After the mask: gRPC's threads inherit it, so SIGTERM reaches only the waiter below.
  HealthServer health;
  if (auto st = health.Start(settings.health_socket); !st) {
    log.Error(st.error().message);
    return 2;
  }
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::unique_lock lock(done_mu);
    if (!done) {
      lock.unlock();
      log.Info("draining");
      client.RequestDrain();
    }
  });
  std::thread ticker([&] {
    if (!periodic) return;
    std::unique_lock lock(done_mu);
    while (!done_cv.wait_for(lock, period, [&] { return done; })) {
      lock.unlock();
      periodic();
      lock.lock();
    }
  });
  // The health status follows the client's stream, read once a second.
  std::thread health_updater([&] {
    if (settings.health_socket.empty()) return;
    std::unique_lock lock(done_mu);
    do {
      lock.unlock();
      health.Set(client.Serving());
      lock.lock();
    } while (!done_cv.wait_for(lock, std::chrono::seconds(1), [&] { return done; }));
  });
  const int rc = client.Run();
  {
    std::lock_guard lock(done_mu);
    done = true;
  }
  done_cv.notify_all();
  ticker.join();
  health_updater.join();
  health.Set(false);
  health.Stop();
  ::kill(::getpid(), SIGTERM);  // release the waiter if the run ended on its own
  waiter.join();
  return rc;
}

}  // namespace dcops::agent
