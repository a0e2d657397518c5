// esxi-worker: wiring only. Connects to the dispatcher and serves the ESXi steps built so far
// (steps.cpp lists them).
#include <cstdio>
#include <string_view>

#include "dcops/agent/agent_process.hpp"
#include "dcops/common/config.hpp"
#include "dcops/common/stop_signals.hpp"
#include "dcops/common/log.hpp"
#include "dcops/http/client.hpp"
#include "dcops/http/transport.hpp"
#include "steps.hpp"

int main(int argc, char** argv) {
  using namespace dcops;
  BlockStopSignals();  // first: as a container's PID 1, an unblocked SIGTERM would be dropped
  if (argc > 1 && std::string_view(argv[1]) == "--health") return agent::ProbeHealth();  // a container's healthcheck
  if (argc > 1 && std::string_view(argv[1]) == "--version") {
    std::printf("esxi-worker %s\n", DCOPS_VERSION);
    return 0;
  }
  StderrSink sink;
  SecretRegistry secrets;
  Logger log("esxi-worker", sink, SystemClock::Instance(), &secrets);
  agent::AgentSettings settings{{}, "", 4, ""};
  settings.options.kind = "esxi-worker";
  settings.options.version = DCOPS_VERSION;
  ConfigSpec spec("DCOPS_");
  agent::AddAgentSettings(spec, settings);
  if (auto st = agent::LoadAgentSettings(spec, settings, argc > 1 ? argv[1] : nullptr, secrets); !st) {
    log.Error(st.error().message);
    return 2;
  }
  http::CurlTransport transport;
  http::Client http(http::ClientOptions{}, transport, SystemClock::Instance());
  const agent::StepRegistry steps = esxi::MakeSteps(http);
  agent::AgentClient client(settings.options, steps, log, SystemClock::Instance());
  return agent::ServeUntilSignalled(client, settings, log);
}
