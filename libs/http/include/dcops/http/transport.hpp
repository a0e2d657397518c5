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

#include <memory>
#include <mutex>
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

class CurlTransport final : public Transport {
 public:
  CurlTransport();
  ~CurlTransport() override;
  Result<Response> Send(const Request& request, const ClientOptions& options) override;

 private:
  // Easy handles are reused (and with them, kept-alive connections to each BMC).
  void* Acquire();
  void Release(void* handle);
  std::mutex mu_;
  std::vector<void*> idle_;
};

}  // namespace dcops::http
