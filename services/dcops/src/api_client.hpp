#pragma once
// The CLI's side of the dispatcher's /api/v1 (services/job-dispatcher/src/api.hpp).
//
// ApiTransport is the seam: HttpApiTransport speaks HTTP through libs/http (its retry policy
// covers a dispatcher that restarts under a `job watch`); tests use a fake.
// Thread-safety: none needed (the CLI is one thread). Blocking: every call blocks.

#include <memory>
#include <string>

#include "dcops/common/clock.hpp"
#include "dcops/common/result.hpp"
#include "dcops/http/client.hpp"
#include "dcops/http/transport.hpp"

namespace dcops::cli {

class ApiTransport {
 public:
  virtual ~ApiTransport() = default;
  // The JSON body of a 2xx answer, or an Error carrying the API's code and message
  // ("api.invalid: params.action: …"); transport failures keep libs/http's error.
  virtual Result<std::string> Call(const std::string& method, const std::string& path,
                                   const std::string& body = "") = 0;
};

class HttpApiTransport final : public ApiTransport {
 public:
  // `base_url` like http://127.0.0.1:8080; `token` is secret and only sent as a header.
  HttpApiTransport(std::string base_url, std::string token, std::string actor);
  ~HttpApiTransport() override;
  Result<std::string> Call(const std::string& method, const std::string& path, const std::string& body) override;

 private:
  std::string base_url_, token_, actor_;
  std::unique_ptr<http::CurlTransport> curl_;
  std::unique_ptr<http::Client> client_;
};

// An API error body ({"error": {"code", "message"}}) or a bare status into an Error.
Error ApiError(int status, const std::string& body);

}  // namespace dcops::cli
