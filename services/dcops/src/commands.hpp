#pragma once
// The CLI's commands over the dispatcher's API:
//   dcops jobs [--status S] [--limit N] [--json]
//   dcops job create TYPE --target T [--target T …] [--param k=v …] [--params-json J]
//                    [--priority N] [--idempotency-key K] [--watch] [--json]
//   dcops job show ID [--json]
//   dcops job watch ID [--interval MS]
//   dcops job cancel ID [--json]
//   dcops job resume ID --retry | --evacuate | --skip-host [--json]
//   dcops agents [--json]
//   dcops credentials list [--json]
//   dcops credentials set NAME --kind KIND --user USER --password-stdin
//   dcops conflicts [--status open|resolved|dismissed|cleared|all] [--limit N] [--json]
//   dcops conflict resolve ID --action dismiss|merge|link|unlink|assign [--server SERVER_UUID]
//                             [--note TEXT] [--json]
//     (ID: the conflict's UUID, or a unique prefix of 8+ digits among the open conflicts)
// Exit codes: 0 done (a watched job succeeded), 1 failed (an API error, or a watched job that
// failed or was cancelled), 2 usage.
//
// Thread-safety: none (one command per process). Blocking: yes; `watch` polls until the job
// finishes, sleeping through the Clock between polls.

#include <iosfwd>

#include "api_client.hpp"
#include "args.hpp"
#include "dcops/common/clock.hpp"

namespace dcops::cli {

struct Terminal {
  std::ostream& out;
  std::ostream& err;
  std::istream& in;
  bool interactive = false;  // stdout is a terminal: redraw the watch frame in place
};

int RunCommand(const Invocation& invocation, ApiTransport& api, Clock& clock, Terminal& term);

extern const char* const kUsage;

}  // namespace dcops::cli
