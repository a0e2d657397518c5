#pragma once
// How the HTTP client behaves, as data: timeouts, TLS, retries, pacing. The client owns the
// loop of attempts; nobody else writes one.

#include <chrono>
#include <string>
#include <vector>

#include "dcops/common/backoff.hpp"

namespace dcops::http {

struct TlsOptions {
  // Verify the server's certificate chain and name. On unless a target opts out.
  bool verify = true;
  // Trust anchors for verification (PEM file); empty: the system store.
  std::string ca_file;
  // Accept exactly the certificate whose SHA-256 (lower-case hex of the DER) is this, and
  // nothing else, whatever its chain: how a BMC's self-signed certificate is trusted safely.
  std::string pinned_sha256;
  // Allow TLS 1.0/1.1 and legacy ciphers (iDRAC8 and older BMCs). Explicit, per target.
  bool legacy = false;
};

struct RetryPolicy {
  // Attempts in all, including the first.
  int max_attempts = 3;
  BackoffPolicy backoff{std::chrono::milliseconds(250), std::chrono::milliseconds(8000), 2.0, 0.5, 0};
  // Statuses worth another attempt on idempotent requests.
  std::vector<int> retry_statuses{429, 502, 503, 504};
  // A Retry-After header is honoured up to this long; longer waits are the caller's call.
  std::chrono::milliseconds max_retry_after{30000};
};

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  // Bound on a whole request (connect + send + receive), per attempt.
  std::chrono::milliseconds timeout{30000};
  TlsOptions tls;
  RetryPolicy retry;
  // Pacing: the minimum gap between the starts of two requests to the same host.
  std::chrono::milliseconds min_interval{0};
  // Responses larger than this fail with http.too_large.
  std::size_t max_body_bytes = 64u << 20;
  std::string user_agent = "dcops/0.1";
};

}  // namespace dcops::http
