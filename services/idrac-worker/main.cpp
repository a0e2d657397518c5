// idrac-worker: wiring only. Connects to the dispatcher and serves Redfish steps.
#include <unistd.h>

#include <cstdio>
#include <string_view>

#include "dcops/agent/agent_process.hpp"
#include "dcops/common/config.hpp"
#include "dcops/common/stop_signals.hpp"
#include "dcops/common/log.hpp"
#include "dcops/http/client.hpp"
#include "dcops/redfish/client.hpp"
#include "session_hygiene.hpp"
#include "steps.hpp"

int main(int argc, char** argv) {
  using namespace dcops;
  BlockStopSignals();  // first: as a container's PID 1, an unblocked SIGTERM would be dropped
  if (argc > 1 && std::string_view(argv[1]) == "--health") return agent::ProbeHealth();  // a container's healthcheck
  if (argc > 1 && std::string_view(argv[1]) == "--version") {
    std::printf("idrac-worker %s\n", DCOPS_VERSION);
    return 0;
  }
  StderrSink sink;
  SecretRegistry secrets;
  Logger log("idrac-worker", sink, SystemClock::Instance(), &secrets);

  agent::AgentSettings settings{{}, "", 8, ""};
  settings.options.kind = "idrac-worker";
  settings.options.version = DCOPS_VERSION;
  std::chrono::milliseconds session_idle{60000};
  std::chrono::milliseconds poll_interval{0};
  std::string state_dir;
  idrac::OperationOptions ops;
  redfish::BreakerOptions breaker;
  std::int64_t breaker_failures = breaker.failures_to_open;
  ConfigSpec spec("DCOPS_");
  agent::AddAgentSettings(spec, settings);
  spec.Duration("SESSION_IDLE", &session_idle, "Redfish sessions idle longer are deleted")
      .String("STATE_DIR", &state_dir, "where the worker journals its open Redfish sessions, so a restart logs out "
                                       "what a crash left (a private, persistent directory)")
      .Int("BREAKER_FAILURES", &breaker_failures, 1, 1000, "consecutive failures that open a BMC's circuit breaker")
      .Duration("BREAKER_OPEN", &breaker.open_for, "how long an open breaker fails requests fast before a trial")
      .Duration("POLL_INTERVAL", &poll_interval, "how often a waiting step re-reads its BMC (default 2s for power, 5s for jobs)")
      .String("PACKAGE_DIR", &ops.package_dir, "where firmware packages to push must be (server.firmware_update method push)")
      .Duration("UPLOAD_TIMEOUT", &ops.upload_timeout, "longest upload of one pushed firmware package");
  if (auto st = agent::LoadAgentSettings(spec, settings, argc > 1 ? argv[1] : nullptr, secrets); !st) {
    log.Error(st.error().message);
    return 2;
  }

  http::CurlTransport transport;
  http::Client http(http::ClientOptions{}, transport, SystemClock::Instance());
  idrac::RecoveredJournal journal;
  if (state_dir.empty()) {
    log.Warn("DCOPS_STATE_DIR is not set: Redfish sessions of a killed worker stay on their BMCs until they expire");
  } else if (auto recovered = idrac::RecoverSessionJournal(
                 state_dir, idrac::JournalKey(settings.options.agent_id, settings.options.kind, ::getpid()))) {
    journal = std::move(*recovered);
  } else {
    log.Error(recovered.error().message);
    return 2;
  }
  redfish::SessionCache sessions(journal.journal.get(), &SystemClock::Instance());
  sessions.AdoptOrphans(journal.left_open);
  idrac::ReclaimOrphans(http, sessions, log, "start");
  breaker.failures_to_open = static_cast<int>(breaker_failures);
  redfish::BreakerBoard breakers(breaker);
  idrac::WorkerDeps deps{http, sessions, breakers, SystemClock::Instance(), idrac::PowerOptions{}, ops,
                         idrac::DiscoveryOptions{}};
  if (poll_interval.count() > 0) {
    deps.power.poll_interval = poll_interval;
    deps.ops.poll_interval = poll_interval;
  }
  const agent::StepRegistry steps = idrac::MakeSteps(deps);
  agent::AgentClient client(settings.options, steps, log, SystemClock::Instance());
  // Idle Redfish sessions are deleted so a BMC never keeps sessions nobody uses.
  // Orphans (sessions a DELETE could not reach) are tried again once a minute.
  auto last_reclaim = SystemClock::Instance().Steady();
  long journal_failures = 0;
  const int rc = agent::ServeUntilSignalled(client, settings, log, [&] {
    const auto now = SystemClock::Instance().Steady();
    redfish::DeleteSessions(http, sessions, sessions.TakeIdle(now, session_idle));
    idrac::ReportJournalFailures(journal.journal.get(), journal_failures, log);
    if (now - last_reclaim >= std::chrono::minutes(1)) {
      last_reclaim = now;
      idrac::ReclaimOrphans(http, sessions, log, "sweep");
    }
  });
  redfish::DeleteSessions(http, sessions, sessions.TakeAll());
  return rc;
}
