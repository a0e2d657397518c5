#pragma once
// The dispatcher's HTTP endpoints: /healthz, /readyz (leader and database connected),
// /metrics (Prometheus text) and /api/v1 (see api.hpp), registered on an httplib server, with
// the limits every request meets before a handler runs: a pool of threads larger than a few
// slow peers can hold, read/write timeouts, a body size cap checked from Content-Length, and
// the API token (or console session) checked before a body is read (an unauthenticated
// upload costs nothing). The console's routes are added by AddConsoleRoutes.
//
// Ownership: borrows everything; the caller keeps it alive while the server runs.
// Thread-safety: handlers run on httplib's threads; what they touch is thread-safe (atomics,
// DispatcherMetrics, Api).

#include <atomic>
#include <chrono>
#include <cstddef>

#include "api.hpp"
#include "metrics.hpp"

namespace httplib {
class Server;
}

namespace dcops::dispatcher {

struct HttpLimits {
  int threads = 64;                      // connections served at once; more wait in the queue
  std::chrono::seconds read_timeout{5};  // silence on a connection longer than this closes it
  std::chrono::seconds write_timeout{5};
  std::chrono::seconds keep_alive{5};    // an idle kept-alive connection is closed after this
  std::size_t max_body = 4 << 20;        // bytes; larger bodies get 413 unread
};

struct HttpEndpoints {
  const std::atomic<bool>& leader;
  const std::atomic<bool>& db_ok;
  DispatcherMetrics& metrics;
  Api& api;
  HttpLimits limits = {};
};

void AddHttpEndpoints(httplib::Server& server, const HttpEndpoints& endpoints);

}  // namespace dcops::dispatcher
