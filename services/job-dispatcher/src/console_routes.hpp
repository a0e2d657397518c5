#pragma once
// The operator console on the dispatcher's HTTP port (docs/CONSOLE.md):
//
//   GET  /console/login         the login page (takes the operator or viewer token and a name)
//   POST /console/login         a session cookie (HttpOnly, SameSite=Strict), then /console/
//   POST /console/logout        ends the session (X-Dcops-Console: 1 required)
//   GET  /console/              the page (to the login page without a session)
//   GET  /console/<file>        its script and style sheet
//   GET  /api/v1/stream         server-sent events for the page (console_stream.hpp), run
//                               whenever the ChangeFeed moves (and every `check_every`), paced,
//                               with a one-byte comment each idle second
//
// Every console response carries a Content-Security-Policy that allows this origin's files
// only (no inline script, no external font, script or frame).
//
// Ownership: borrows the Api, the feed and the logger; they outlive the server.
// Thread-safety: handlers run on httplib's threads; a stream holds one for its life, at most
// `max_streams` at once and `max_streams_per_caller` per session (then 503).
#include <chrono>

#include "api.hpp"
#include "change_feed.hpp"
#include "dcops/common/log.hpp"

namespace httplib {
class Server;
}

namespace dcops::dispatcher {

struct ConsoleOptions {
  int max_streams = 32;                        // event streams open at once
  int max_streams_per_caller = 4;              // of one session (or one bearer token's role)
  std::chrono::milliseconds pace{250};         // least time between two rounds of one stream
  std::chrono::seconds check_every{15};        // a round even without a change (a database gone away)
};

void AddConsoleRoutes(httplib::Server& server, Api& api, ChangeFeed& feed, const Logger& log,
                      ConsoleOptions options = {});

}  // namespace dcops::dispatcher
