#include "dcops/agent/agent_process.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <string_view>
#include <thread>

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

int ServeUntilSignalled(AgentClient& client, const Logger& log, const std::function<void()>& periodic,
                        std::chrono::milliseconds period) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
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
  const int rc = client.Run();
  {
    std::lock_guard lock(done_mu);
    done = true;
  }
  done_cv.notify_all();
  ticker.join();
  ::kill(::getpid(), SIGTERM);  // release the waiter if the run ended on its own
  waiter.join();
  return rc;
}

}  // namespace dcops::agent
