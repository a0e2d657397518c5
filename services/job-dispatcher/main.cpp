// job-dispatcher: wiring only.
//   job-dispatcher serve [--insecure-dev]
//   job-dispatcher migrate [--dir DIR]
//   job-dispatcher credentials set NAME --kind KIND --user USER --password-stdin
#include <cstdio>
#include <string_view>

#include "dcops/common/clock.hpp"
#include "dcops/common/config.hpp"
#include "dcops/common/log.hpp"
#include "dcops/common/stop_signals.hpp"
#include "certs_command.hpp"
#include "migrate_command.hpp"
#include "serve_command.hpp"

namespace {

const char* kUsage =
    "usage: job-dispatcher serve [--insecure-dev]\n"
    "       job-dispatcher migrate [--dir DIR]\n"
    "       job-dispatcher credentials set NAME --kind KIND --user USER --password-stdin\n"
    "       job-dispatcher certs init DIR [HOST ...]   (default hosts: 127.0.0.1 localhost)\n"
    "       job-dispatcher certs agent-token DIR AGENT_ID|PREFIX*   (a token for one agent, or for replicas)\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace dcops;
  const std::string_view command = argc > 1 ? argv[1] : "";
  if (command == "--version") {
    std::printf("job-dispatcher %s\n", DCOPS_VERSION);
    return 0;
  }
  StderrSink sink;
  SecretRegistry secrets;
  Logger log("job-dispatcher", sink, SystemClock::Instance(), &secrets);
  const Environment env = ProcessEnvironment("DCOPS_");
  if (command == "serve") {
    BlockStopSignals();  // before any thread: as a container's PID 1, an unblocked SIGTERM would be dropped
    const bool insecure = argc > 2 && std::string_view(argv[2]) == "--insecure-dev";
    return dispatcher::RunServe(env, insecure, log, secrets);
  }
  if (command == "credentials" && argc >= 9 && std::string_view(argv[2]) == "set") {
    std::string kind, user;
    bool stdin_password = false;
    for (int i = 4; i < argc; ++i) {
      const std::string_view a = argv[i];
      if (a == "--kind" && i + 1 < argc) kind = argv[++i];
      else if (a == "--user" && i + 1 < argc) user = argv[++i];
      else if (a == "--password-stdin") stdin_password = true;
    }
    if (kind.empty() || user.empty() || !stdin_password) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    return dispatcher::RunCredentialsSet(env, argv[3], kind, user, log, secrets);
  }
  if (command == "certs" && argc >= 4 && std::string_view(argv[2]) == "init") {
    std::vector<std::string> hosts(argv + 4, argv + argc);
    if (hosts.empty()) hosts = {"127.0.0.1", "localhost"};
    return dispatcher::RunCertsInit(argv[3], hosts, log);
  }
  if (command == "certs" && argc == 5 && std::string_view(argv[2]) == "agent-token") {
    return dispatcher::RunCertsAgentToken(argv[3], argv[4], log);
  }
  if (command == "migrate") {
    dispatcher::MigrateOptions options;
    auto spec = dispatcher::MigrateConfig(&options);
    Environment migrate_env;  // migrate reads only its own keys
    for (const auto& key : {"DCOPS_CONFIG_FILE", "DCOPS_DATABASE_URL", "DCOPS_DATABASE_URL_ALLOW_UNVERIFIED",
                            "DCOPS_MIGRATIONS_DIR", "DCOPS_DB_CONNECT_TIMEOUT", "DCOPS_DB_WAIT"}) {
      if (auto it = env.find(key); it != env.end()) migrate_env[key] = it->second;
    }
    if (auto st = spec.Load(migrate_env, ReadWholeFile); !st) {
      log.Error(st.error().message, {}, {{"code", st.error().code}});
      return 2;
    }
    if (argc > 3 && std::string_view(argv[2]) == "--dir") options.migrations_dir = argv[3];
    return dispatcher::RunMigrate(options, log, secrets, SystemClock::Instance());
  }
  std::fputs(kUsage, stderr);
  return 2;
}
