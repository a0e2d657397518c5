#pragma once
// The console's files (services/job-dispatcher/console/), compiled into the dispatcher by
// console/embed.cmake. Immutable; thread-safe.
#include <string_view>

namespace dcops::dispatcher {

struct ConsoleAsset {
  const char* name;          // "app.js"
  const char* content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
};

// The file called `name` (no directory), or nullptr.
const ConsoleAsset* FindConsoleAsset(std::string_view name);

}  // namespace dcops::dispatcher
