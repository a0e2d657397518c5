#pragma once
// The dispatcher's HTTP endpoints: /healthz, /readyz (leader and database connected),
// /metrics (Prometheus text) and /api/v1 (see api.hpp), registered on an httplib server.
//
// Ownership: borrows everything; the caller keeps it alive while the server runs.
// Thread-safety: handlers run on httplib's threads; what they touch is thread-safe (atomics,
// DispatcherMetrics, Api).

#include <atomic>

#include "api.hpp"
#include "metrics.hpp"

namespace httplib {
class Server;
}

namespace dcops::dispatcher {

struct HttpEndpoints {
  const std::atomic<bool>& leader;
  const std::atomic<bool>& db_ok;
  DispatcherMetrics& metrics;
  Api& api;
};

void AddHttpEndpoints(httplib::Server& server, const HttpEndpoints& endpoints);

}  // namespace dcops::dispatcher
