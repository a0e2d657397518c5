// idrac-worker: wiring only. Connects to the dispatcher and serves Redfish steps.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string_view>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "dcops/agent/agent_client.hpp"
#include "dcops/common/config.hpp"
#include "dcops/common/log.hpp"
#include "dcops/http/client.hpp"
#include "dcops/redfish/client.hpp"
#include "steps.hpp"

int main(int argc, char** argv) {
  using namespace dcops;
  if (argc > 1 && std::string_view(argv[1]) == "--version") {
    std::printf("idrac-worker %s\n", DCOPS_VERSION);
    return 0;
  }
  StderrSink sink;
  SecretRegistry secrets;
  Logger log("idrac-worker", sink, SystemClock::Instance(), &secrets);

  agent::AgentOptions o;
  o.kind = "idrac-worker";
  o.version = DCOPS_VERSION;
  std::int64_t capacity = 8;
  std::string token_file;
  std::chrono::milliseconds session_idle{60000};
  std::chrono::milliseconds poll_interval{0};
  idrac::OperationOptions ops;
  redfish::BreakerOptions breaker;
  std::int64_t breaker_failures = breaker.failures_to_open;
  ConfigSpec spec("DCOPS_");
  spec.String("DISPATCHER_ADDRESS", &o.dispatcher_address, "dispatcher gRPC address (comma-separated: leader and standbys)")
      .String("AGENT_ID", &o.agent_id, "this agent's name (default: idrac-worker-<host>-<pid>)")
      .String("AGENT_TOKEN_FILE", &token_file, "file holding the bearer token")
      .String("AGENT_TOKEN", &o.token, "bearer token (prefer the _FILE form)")
      .String("TLS_CA_FILE", &o.tls_ca_file, "CA that signed the dispatcher's certificate")
      .Bool("INSECURE_DEV", &o.insecure_dev, "plaintext gRPC (development only)")
      .Int("CAPACITY", &capacity, 1, 256, "steps run at once")
      .Duration("SESSION_IDLE", &session_idle, "Redfish sessions idle longer are deleted")
      .Int("BREAKER_FAILURES", &breaker_failures, 1, 1000, "consecutive failures that open a BMC's circuit breaker")
      .Duration("BREAKER_OPEN", &breaker.open_for, "how long an open breaker fails requests fast before a trial")
      .Duration("POLL_INTERVAL", &poll_interval, "how often a waiting step re-reads its BMC (default 2s for power, 5s for jobs)")
      .String("PACKAGE_DIR", &ops.package_dir, "where firmware packages to push must be (server.firmware_update method push)")
      .Duration("UPLOAD_TIMEOUT", &ops.upload_timeout, "longest upload of one pushed firmware package");
  if (auto st = spec.Load(ProcessEnvironment("DCOPS_"), ReadWholeFile); !st) {
    log.Error(st.error().message);
    return 2;
  }
  if (argc > 1 && std::string_view(argv[1]) == "--insecure-dev") o.insecure_dev = true;
  if (!token_file.empty()) {
    auto t = ReadSecretFile(token_file);
    if (!t) {
      log.Error(t.error().message);
      return 2;
    }
    o.token = *t;
  }
  secrets.Add(o.token);
  o.capacity = static_cast<int>(capacity);
  if (o.agent_id.empty()) {
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    o.agent_id = std::string("idrac-worker-") + host + "-" + std::to_string(::getpid());
  }

  http::CurlTransport transport;
  http::Client http(http::ClientOptions{}, transport, SystemClock::Instance());
  redfish::SessionCache sessions;
  breaker.failures_to_open = static_cast<int>(breaker_failures);
  redfish::BreakerBoard breakers(breaker);
  idrac::WorkerDeps deps{http, sessions, breakers, SystemClock::Instance(), idrac::PowerOptions{}, ops,
                         idrac::DiscoveryOptions{}};
  if (poll_interval.count() > 0) {
    deps.power.poll_interval = poll_interval;
    deps.ops.poll_interval = poll_interval;
  }
  const agent::StepRegistry steps = idrac::MakeSteps(deps);
  agent::AgentClient client(o, steps, log, SystemClock::Instance());

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
  // Idle Redfish sessions are deleted so a BMC never keeps sessions nobody uses.
  std::thread sweeper([&] {
    std::unique_lock lock(done_mu);
    while (!done_cv.wait_for(lock, std::chrono::seconds(5), [&] { return done; })) {
      lock.unlock();
      redfish::DeleteSessions(http, sessions.TakeIdle(SystemClock::Instance().Steady(), session_idle));
      lock.lock();
    }
  });
  const int rc = client.Run();
  {
    std::lock_guard lock(done_mu);
    done = true;
  }
  done_cv.notify_all();
  redfish::DeleteSessions(http, sessions.TakeAll());
  ::kill(::getpid(), SIGTERM);  // release the waiter if the run ended on its own
  waiter.join();
  sweeper.join();
  return rc;
}
