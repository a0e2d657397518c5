// dcops: the operator's command line for a site's dispatcher. Wiring only; the commands
// live in src/commands.cpp.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "api_client.hpp"
#include "commands.hpp"
#include "dcops/common/config.hpp"
#include "dcops/common/names.hpp"

int main(int argc, char** argv) {
  using namespace dcops;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "--version") {
    std::printf("dcops %s\n", DCOPS_VERSION);
    return 0;
  }
  auto inv = cli::ParseArgs(args);
  if (!inv) {
    std::cerr << "dcops: " << inv.error().message << "\n" << cli::kUsage;
    return 2;
  }
  auto env = [](const char* key, const char* fallback) {
    const char* v = std::getenv(key);
    return std::string(v && *v ? v : fallback);
  };
  const std::string url = inv->Get("--api-url", env("DCOPS_API_URL", "http://127.0.0.1:8080"));
  std::string token = env("DCOPS_API_TOKEN", "");
  const std::string token_file = inv->Get("--token-file", env("DCOPS_API_TOKEN_FILE", ""));
  if (!token_file.empty()) {
    auto t = ReadSecretFile(token_file);
    if (!t) {
      std::cerr << "dcops: " << t.error().message << "\n";
      return 2;
    }
    token = *t;
  }
  // Who the audit log names: the login, when it is a plain name (the API refuses others).
  const std::string user = env("USER", "cli");
  cli::HttpApiTransport api(url, token, IsPrintableName(user, 100) ? user : "cli");
  cli::Terminal term{std::cout, std::cerr, std::cin, ::isatty(STDOUT_FILENO) == 1};
  return cli::RunCommand(*inv, api, SystemClock::Instance(), term);
}
