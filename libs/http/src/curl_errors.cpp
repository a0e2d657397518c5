#include "curl_errors.hpp"

#include <fmt/format.h>

#include <cerrno>

namespace dcops::http {
namespace {

bool Mentions(const std::string& text, const char* what) {
  return text.find(what) != std::string::npos;
}

// The peer went away mid-handshake (RST, or EOF where a TLS record was due), as opposed to a
// handshake both ends completed the conversation of and disagreed.
bool DroppedConnection(const CurlFailure& f) {
  if (f.os_errno == ECONNRESET || f.os_errno == EPIPE || f.os_errno == ECONNABORTED) return true;
  return Mentions(f.detail, "reset by peer") || Mentions(f.detail, "SSL_ERROR_SYSCALL") ||
         Mentions(f.detail, "unexpected eof") || Mentions(f.detail, "Connection reset");
}

}  // namespace

Error ClassifyCurlFailure(const CurlFailure& f, const std::string& where) {
  const std::string text = !f.detail.empty() ? f.detail : curl_easy_strerror(f.code);
  if (f.too_large) {
    return MakeError("http.too_large",
                     fmt::format("{}: response larger than {} bytes", where, f.max_body));
  }
  if (f.pin_mismatch) {
    return MakeError(
        "http.tls",
        fmt::format("{}: the certificate does not match the pinned SHA-256 fingerprint", where));
  }
  switch (f.code) {
    case CURLE_COULDNT_CONNECT:
      return MakeError("http.connect", fmt::format("{}: cannot connect: {}", where, text), true);
    case CURLE_COULDNT_RESOLVE_HOST:
      return MakeError("http.dns", fmt::format("{}: name does not resolve", where), true);
    case CURLE_OPERATION_TIMEDOUT:
      if (!f.request_sent) {  // connecting or in the handshake: nothing reached the server's
                              // application
        return MakeError("http.connect",
                         fmt::format("{}: timed out before the request was sent: {}", where, text),
                         true);
      }
      return MakeError("http.timeout", fmt::format("{}: timed out: {}", where, text), true);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ISSUER_ERROR:
      return MakeError(
          "http.tls",
          fmt::format("{}: the certificate is not trusted: {} (to trust a self-signed BMC, "
                      "pin its certificate or opt out of verification for this target)",
                      where, text));
    case CURLE_SSL_CONNECT_ERROR:
      if (DroppedConnection(f)) {
        return MakeError(
            "http.reset",
            fmt::format(
                "{}: the connection was reset during the TLS handshake (no request was sent; "
                "if it keeps happening, an older BMC may need the legacy TLS option): {}",
                where, text),
            true);
      }
      [[fallthrough]];
    case CURLE_SSL_CIPHER:
      return MakeError(
          "http.tls",
          fmt::format("{}: the TLS handshake failed: {} (an older BMC may need the legacy "
                      "TLS option for this target)",
                      where, text));
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
      if (!f.request_sent) {
        return MakeError(
            "http.reset",
            fmt::format("{}: the connection dropped before the request was sent: {}", where, text),
            true);
      }
      return MakeError("http.closed",
                       fmt::format("{}: the connection dropped after the request was sent (it may "
                                   "have taken effect): {}",
                                   where, text),
                       true);
    default:
      return MakeError("http.transport", fmt::format("{}: {}", where, text), true);
  }
}

}  // namespace dcops::http
