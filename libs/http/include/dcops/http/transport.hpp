#pragma once
// One attempt of one request, behind a seam: CurlTransport does it over the network, tests
// use a scripted fake. Transport errors (no HTTP status at all) map here, once:
//   http.connect   nothing listens / connection refused / unreachable (retryable; never sent)
//   http.dns       the name does not resolve
//   http.timeout   connect or transfer timeout (retryable when the request is idempotent)
//   http.tls       certificate verification or pin mismatch, handshake failure
//   http.too_large response larger than ClientOptions::max_body_bytes
//   http.transport anything else (retryable when the request is idempotent)
//
// Thread-safety: CurlTransport::Send may be called from many threads at once.
// Blocking: Send blocks for at most the timeouts in ClientOptions.

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dcops/common/result.hpp"
#include "dcops/http/message.hpp"
#include "dcops/http/options.hpp"

namespace dcops::http {

class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<Response> Send(const Request& request, const ClientOptions& options) = 0;
};

// Connections are kept alive per peer: an easy handle (and the connection it caches) is
// reused only for requests with the same scheme, host, port and TLS policy (pin, verify,
// CA, legacy), so a connection verified under one pin never carries a request meant for
// another. Idle handles beyond `max_idle` are closed, least recently used first.
class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(std::size_t max_idle = 512);
  ~CurlTransport() override;
  Result<Response> Send(const Request& request, const ClientOptions& options) override;

 private:
  void* Acquire(const std::string& key);
  void Release(const std::string& key, void* handle);
  std::mutex mu_;
  std::size_t max_idle_;
  // Most recently released at the front.
  std::list<std::pair<std::string, void*>> idle_;
  std::multimap<std::string, std::list<std::pair<std::string, void*>>::iterator> by_key_;
};

}  // namespace dcops::http
