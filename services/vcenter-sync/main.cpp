// vcenter-sync: wiring only. Connects to the dispatcher and serves inventory.vcenter_sync,
// keeping each vCenter's session between syncs so the next one can be incremental.
#include <cstdio>
#include <string_view>

#include "dcops/agent/agent_process.hpp"
#include "dcops/common/config.hpp"
#include "dcops/common/stop_signals.hpp"
#include "dcops/common/log.hpp"
#include "dcops/http/client.hpp"
#include "dcops/http/transport.hpp"
#include "vcenter_sync_step.hpp"

int main(int argc, char** argv) {
  using namespace dcops;
  BlockStopSignals();  // first: as a container's PID 1, an unblocked SIGTERM would be dropped
  if (argc > 1 && std::string_view(argv[1]) == "--health") return agent::ProbeHealth();  // a container's healthcheck
  if (argc > 1 && std::string_view(argv[1]) == "--version") {
    std::printf("vcenter-sync %s\n", DCOPS_VERSION);
    return 0;
  }
  StderrSink sink;
  SecretRegistry secrets;
  Logger log("vcenter-sync", sink, SystemClock::Instance(), &secrets);
  agent::AgentSettings settings{{}, "", 4, ""};
  settings.options.kind = "vcenter-sync";
  settings.options.version = DCOPS_VERSION;
  std::chrono::milliseconds session_idle{std::chrono::hours(2)};
  ConfigSpec spec("DCOPS_");
  agent::AddAgentSettings(spec, settings);
  spec.Duration("SESSION_IDLE", &session_idle, "vCenter sessions unused for longer are logged out (the next sync reads everything)");
  if (auto st = agent::LoadAgentSettings(spec, settings, argc > 1 ? argv[1] : nullptr, secrets); !st) {
    log.Error(st.error().message);
    return 2;
  }
  http::CurlTransport transport;
  http::Client http(http::ClientOptions{}, transport, SystemClock::Instance());
  vcsync::SessionPool pool;
  const agent::StepRegistry steps = vcsync::MakeSteps({http, pool});
  agent::AgentClient client(settings.options, steps, log, SystemClock::Instance());
  // Kept sessions are touched so vCenter does not time them out between syncs.
  const int rc = agent::ServeUntilSignalled(
      client, settings, log, [&] { pool.Tend(std::chrono::steady_clock::now(), session_idle); }, std::chrono::minutes(5));
  pool.LogoutAll();
  return rc;
}
