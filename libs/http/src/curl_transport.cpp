#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>

#include "dcops/common/hex.hpp"
#include "curl_errors.hpp"
#include "dcops/http/transport.hpp"

namespace dcops::http {
namespace {

struct GlobalInit {
  GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~GlobalInit() { curl_global_cleanup(); }
};

struct Transfer {
  Response response;
  std::size_t max_body = 0;
  bool too_large = false;
  const std::string* pin = nullptr;
  bool pin_mismatch = false;
  bool capture = false;      // record the leaf certificate's fingerprint in the response
  bool chain_matters = true;  // false: pinned, or verification off for this target
};

std::size_t OnBody(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t bytes = size * n;
  if (t->response.body.size() + bytes > t->max_body) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->response.body.append(data, bytes);
  return bytes;
}

std::size_t OnHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t bytes = size * n;
  std::string_view line(data, bytes);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response.headers.clear();  // a new response (after 100 Continue, say)
    return bytes;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return bytes;
  std::string key(line.substr(0, colon));
  std::string value(line.substr(colon + 1));
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.pop_back();
  }
  t->response.headers.emplace_back(std::move(key), std::move(value));
  return bytes;
}

// Pinned certificates: the handshake itself accepts exactly the pinned leaf certificate, so
// no byte of the request (credentials included) goes to anyone else. libcurl makes a fresh
// SSL_CTX per connection and hands it to OnSslContext first; the transfer rides on it.
// The same hook records the leaf's fingerprint when asked (discovery's trust on first use).
int VerifyLeaf(int preverified, X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* t = ssl ? static_cast<Transfer*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl))) : nullptr;
  if (t == nullptr) return 0;
  const int accept_chain = t->chain_matters ? preverified : 1;
  if (X509_STORE_CTX_get_error_depth(store) != 0) return accept_chain;
  X509* leaf = X509_STORE_CTX_get_current_cert(store);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (leaf == nullptr || X509_digest(leaf, EVP_sha256(), md, &len) != 1) return 0;
  const std::string fingerprint = HexEncode(std::string_view(reinterpret_cast<const char*>(md), len));
  if (t->capture) t->response.peer_sha256 = fingerprint;
  if (t->pin == nullptr) return accept_chain;
  if (fingerprint == *t->pin) return 1;
  t->pin_mismatch = true;
  return 0;
}

CURLcode OnSslContext(CURL*, void* ssl_ctx, void* user) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  SSL_CTX_set_app_data(ctx, user);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, VerifyLeaf);
  // `user` lives for one request, the connection longer: no renegotiation may call back later.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  return CURLE_OK;
}

}  // namespace

CurlTransport::CurlTransport(std::size_t max_idle) : max_idle_(max_idle) { static GlobalInit init; }

CurlTransport::~CurlTransport() {
  for (auto& [_, h] : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* CurlTransport::Acquire(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    auto it = by_key_.find(key);
    if (it != by_key_.end()) {
      void* h = it->second->second;
      idle_.erase(it->second);
      by_key_.erase(it);
      return h;
    }
  }
  return curl_easy_init();
}

void CurlTransport::Release(const std::string& key, void* handle) {
  void* evicted = nullptr;
  {
    std::lock_guard lock(mu_);
    idle_.emplace_front(key, handle);
    by_key_.emplace(key, idle_.begin());
    if (idle_.size() > max_idle_) {
      auto last = std::prev(idle_.end());
      auto range = by_key_.equal_range(last->first);
      for (auto it = range.first; it != range.second; ++it) {
        if (it->second == last) {
          by_key_.erase(it);
          break;
        }
      }
      evicted = last->second;
      idle_.erase(last);
    }
  }
  if (evicted != nullptr) curl_easy_cleanup(static_cast<CURL*>(evicted));  // closes its connection
}

Result<Response> CurlTransport::Send(const Request& request, const ClientOptions& options) {
  const TlsOptions& tls = request.tls ? *request.tls : options.tls;
  // Which connections this request may ride on: same peer, same trust.
  const std::string peer = std::string(HostOf(request.url)) + (request.url.rfind("https://", 0) == 0 ? "|s" : "|p");
  const std::string key = peer + "|" + tls.pinned_sha256 + "|" + (tls.verify ? "v" : "n") + "|" + tls.ca_file + "|" +
                          (tls.legacy ? "l" : "m");
  CURL* curl = static_cast<CURL*>(Acquire(key));
  if (curl == nullptr) return MakeError("http.transport", "libcurl could not start a transfer", true);
  curl_easy_reset(curl);  // keeps the connection cache, forgets the last request's options
  Transfer t;
  t.max_body = options.max_body_bytes;
  char error[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.value_or(options.timeout).count()));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);

  if (!tls.pinned_sha256.empty()) {
    // The pin replaces chain and name checks; OnSslContext enforces it in the handshake.
    t.pin = &tls.pinned_sha256;
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, OnSslContext);
    curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, &t);
    // This handle only ever carries requests with this pin to this peer (see Acquire), so
    // the connection it keeps alive was verified against this pin. No TLS session resumption:
    // every new connection goes through the check.
    curl_easy_setopt(curl, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    t.chain_matters = false;
  } else {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, tls.verify ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, tls.verify ? 2L : 0L);
    if (!tls.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, tls.ca_file.c_str());
    t.chain_matters = tls.verify;
  }
  if (request.capture_certificate && request.url.rfind("https://", 0) == 0) {
    t.capture = true;
    if (t.pin == nullptr) {
      curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, OnSslContext);
      curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, &t);
      // The fingerprint is read in the handshake: a reused connection would have none.
      curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
      curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
      curl_easy_setopt(curl, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    }
  }
  if (tls.legacy) {
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_0);
    curl_easy_setopt(curl, CURLOPT_SSL_CIPHER_LIST, "DEFAULT@SECLEVEL=0");
  }

  if (request.basic_auth) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, request.basic_auth->username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, request.basic_auth->password.c_str());
  }
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : request.headers) {
    headers = curl_slist_append(headers, fmt::format("{}: {}", k, v).c_str());
  }
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  curl_mime* mime = nullptr;
  switch (request.method) {
    case Method::kGet: curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L); break;
    case Method::kHead: curl_easy_setopt(curl, CURLOPT_NOBODY, 1L); break;
    default:
      if (!request.form.empty()) {
        mime = curl_mime_init(curl);
        for (const auto& p : request.form) {
          curl_mimepart* part = curl_mime_addpart(mime);
          curl_mime_name(part, p.name.c_str());
          if (!p.file_path.empty()) {
            if (curl_mime_filedata(part, p.file_path.c_str()) != CURLE_OK) {
              curl_mime_free(mime);
              curl_slist_free_all(headers);
              curl_easy_reset(curl);
              Release(key, curl);
              return MakeError("http.file", "cannot read " + p.file_path);
            }
          } else {
            curl_mime_data(part, p.data.data(), p.data.size());
          }
          if (!p.filename.empty()) curl_mime_filename(part, p.filename.c_str());
          if (!p.content_type.empty()) curl_mime_type(part, p.content_type.c_str());
        }
        curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, std::string(MethodName(request.method)).c_str());
        break;
      }
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, std::string(MethodName(request.method)).c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      break;
  }

  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (mime != nullptr) curl_mime_free(mime);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  CurlFailure failure;
  if (code != CURLE_OK) {
    long request_size = 0;
    curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &failure.os_errno);
    curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_size);
    failure = CurlFailure{code, failure.os_errno, error, request_size > 0, t.pin_mismatch, t.too_large, t.max_body};
  }
  // Forget credentials and callbacks that point at this stack frame before reuse.
  curl_easy_reset(curl);
  Release(key, curl);
  if (code != CURLE_OK) return ClassifyCurlFailure(failure, HostOf(request.url));
  t.response.status = static_cast<int>(status);
  return std::move(t.response);
}

}  // namespace dcops::http
