#pragma once
// HTTP requests and responses as plain values.
//
// Thread-safety: values; const access from many threads is safe.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dcops/http/options.hpp"

namespace dcops::http {

enum class Method { kGet, kPost, kPatch, kPut, kDelete, kHead };
std::string_view MethodName(Method m);
// GET, HEAD, PUT and DELETE may be repeated without changing the outcome; POST and PATCH not.
bool IsIdempotent(Method m);

using Headers = std::vector<std::pair<std::string, std::string>>;

struct BasicAuth {
  std::string username;
  std::string password;  // secret: never logged, never part of a message
};

// One part of a multipart/form-data body. A part with `file_path` is streamed from that
// file while the request is sent (never read into memory whole); otherwise `data` is sent.
struct FormPart {
  std::string name;          // "UpdateParameters", "UpdateFile"
  std::string content_type;  // "application/json", "application/octet-stream"
  std::string data;
  std::string file_path;
  std::string filename;      // the part's file name as the server sees it
};

struct Request {
  Method method = Method::kGet;
  std::string url;
  Headers headers;
  std::string body;
  // When not empty, the body is multipart/form-data of these parts (and `body` is unused).
  std::vector<FormPart> form;
  std::optional<BasicAuth> basic_auth;
  // Overrides IsIdempotent(method): a POST the caller knows is safe to repeat (an action
  // refused with 409 took no effect) may be marked so.
  std::optional<bool> idempotent;
  // Statuses retried for this request in addition to the client's policy (e.g. 409).
  std::vector<int> extra_retry_statuses;
  // Per-target settings that override the client's (one client serves many BMCs).
  std::optional<TlsOptions> tls;
  std::optional<std::chrono::milliseconds> min_interval;
  // Overrides the client's whole-request timeout (an upload of a large package).
  std::optional<std::chrono::milliseconds> timeout;
  // Record the server certificate's SHA-256 fingerprint in Response::peer_sha256 (how
  // discovery learns the certificate it will pin from then on).
  bool capture_certificate = false;

  bool Idempotent() const { return idempotent.value_or(IsIdempotent(method)); }
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;
  // Number of attempts the client made (1 = no retry).
  int attempts = 1;
  // Lower-case hex SHA-256 of the server's leaf certificate, when the request asked for it.
  std::string peer_sha256;

  // Case-insensitive; the first value, or empty.
  std::string Header(std::string_view name) const;
  bool ok() const { return status >= 200 && status < 300; }
};

// The host[:port] part of a URL ("https://127.0.1.4:8443/redfish/v1" -> "127.0.1.4:8443").
std::string HostOf(std::string_view url);

}  // namespace dcops::http
