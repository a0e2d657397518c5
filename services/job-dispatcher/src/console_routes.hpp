#pragma once
// The operator console on the dispatcher's HTTP port (docs/CONSOLE.md):
//
//   GET  /console/login         the login page (takes the operator or viewer token and a name)
//   POST /console/login         a session cookie (HttpOnly, SameSite=Strict), then /console/
//   POST /console/logout        ends the session (X-Dcops-Console: 1 required)
//   GET  /console/              the page (to the login page without a session)
//   GET  /console/<file>        its script and style sheet
//   GET  /api/v1/stream         server-sent events for the page (console_stream.hpp), run
//                               whenever the ChangeFeed moves, paced, with a keep-alive comment
//
// Every console response carries a Content-Security-Policy that allows this origin's files
// only (no inline script, no external font, script or frame).
//
// Ownership: borrows the Api, the feed and the logger; they outlive the server.
// Thread-safety: handlers run on httplib's threads; a stream holds one for its life, at most
// `max_streams` at once (then 503).
#include <chrono>

#include "api.hpp"
#include "change_feed.hpp"
#include "dcops/common/log.hpp"

namespace httplib {
class Server;
}

namespace dcops::dispatcher {

struct ConsoleOptions {
  int max_streams = 16;                        // event streams open at once
  std::chrono::milliseconds pace{250};         // least time between two rounds of one stream
  std::chrono::seconds keep_alive{15};         // a comment after this long without a change
};

void AddConsoleRoutes(httplib::Server& server, Api& api, ChangeFeed& feed, const Logger& log,
                      ConsoleOptions options = {});

}  // namespace dcops::dispatcher
