// job-dispatcher: wiring only. Serving (gRPC, scheduling) arrives with its issue; today the
// binary applies the control-plane migrations.
#include <cstdio>
#include <string_view>

#include "dcops/common/clock.hpp"
#include "dcops/common/config.hpp"
#include "dcops/common/log.hpp"
#include "migrate_command.hpp"

int main(int argc, char** argv) {
  using namespace dcops;
  const std::string_view command = argc > 1 ? argv[1] : "";
  if (command == "--version") {
    std::printf("job-dispatcher %s\n", DCOPS_VERSION);
    return 0;
  }
  StderrSink sink;
  Logger log("job-dispatcher", sink, SystemClock::Instance());
  if (command == "migrate") {
    dispatcher::MigrateOptions options;
    auto spec = dispatcher::MigrateConfig(&options);
    if (argc > 2 && std::string_view(argv[2]) == "--help") {
      std::printf("usage: job-dispatcher migrate [--dir DIR]\n%s", spec.Describe().c_str());
      return 0;
    }
    if (auto st = spec.Load(ProcessEnvironment("DCOPS_"), ReadWholeFile); !st) {
      log.Error(st.error().message, {}, {{"code", st.error().code}});
      return 2;
    }
    if (argc > 3 && std::string_view(argv[2]) == "--dir") options.migrations_dir = argv[3];
    return dispatcher::RunMigrate(options, log, SystemClock::Instance());
  }
  std::fprintf(stderr,
               "usage: job-dispatcher migrate [--dir DIR]\n"
               "(serving jobs is not implemented yet; see docs/ROADMAP.md)\n");
  return 2;
}
