#pragma once
// The HTTP client every agent uses: one place for retries with backoff and jitter (and
// Retry-After), per-host pacing, timeouts and TLS policy.
//
// Retries: transport errors that happened before anything was sent (http.connect, http.dns)
// are retried for every request; timeouts, other transport errors and the policy's
// statuses only for idempotent requests. The last response or error is returned; a response
// with a non-2xx status is a value, not an error: the caller maps it (Redfish, SOAP, OME
// each have their own error bodies).
//
// Ownership: borrows its Transport and Clock; they must outlive it.
// Thread-safety: Execute may be called from many threads; pacing is shared across them.
// Blocking: yes, through Clock::SleepFor for backoff and pacing.

#include <map>
#include <mutex>
#include <random>
#include <string>

#include "dcops/common/clock.hpp"
#include "dcops/http/transport.hpp"

namespace dcops::http {

class Client {
 public:
  Client(ClientOptions options, Transport& transport, Clock& clock);

  Result<Response> Execute(const Request& request);
  const ClientOptions& options() const { return options_; }

 private:
  void WaitForPacing(const std::string& host, std::chrono::milliseconds interval);
  std::chrono::milliseconds RetryDelay(int retry, const Response* response);

  ClientOptions options_;
  Transport& transport_;
  Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Clock::SteadyTime> next_start_;  // per host, for pacing
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace dcops::http
