// Failed transfers classified by what happened: a reset is not a trust problem, a dropped
// connection after the request is not one before it.
#include "curl_errors.hpp"

#include <catch2/catch.hpp>
#include <cerrno>

namespace dcops::http {
namespace {

Error Classify(CURLcode code, long os_errno = 0, std::string detail = "", bool sent = false) {
  CurlFailure f;
  f.code = code;
  f.os_errno = os_errno;
  f.detail = std::move(detail);
  f.request_sent = sent;
  return ClassifyCurlFailure(f, "127.0.0.2:443");
}

TEST_CASE("A reset during the TLS handshake is retryable and says nothing about certificates",
          "[http][errors]") {
  auto by_errno = Classify(CURLE_SSL_CONNECT_ERROR, ECONNRESET,
                           "OpenSSL SSL_connect: Connection reset by peer");
  CHECK(by_errno.code == "http.reset");
  CHECK(by_errno.retryable);
  CHECK(by_errno.message.find("no request was sent") != std::string::npos);
  CHECK(by_errno.message.find("pin its") == std::string::npos);
  CHECK(by_errno.message.find("legacy TLS option") !=
        std::string::npos);  // a BMC that drops old clients
  // An EOF where the server's hello was due, reported without an errno.
  CHECK(Classify(CURLE_SSL_CONNECT_ERROR, 0,
                 "OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to 127.0.0.2:443")
            .code == "http.reset");
}

TEST_CASE("A handshake the two sides disagree on is TLS, with advice that fits", "[http][errors]") {
  auto version = Classify(CURLE_SSL_CONNECT_ERROR, 0,
                          "error:0A00042E:SSL routines::tlsv1 alert protocol version");
  CHECK(version.code == "http.tls");
  CHECK_FALSE(version.retryable);
  CHECK(version.message.find("legacy TLS option") != std::string::npos);
  auto trust = Classify(CURLE_PEER_FAILED_VERIFICATION, 0,
                        "SSL certificate problem: self-signed certificate");
  CHECK(trust.code == "http.tls");
  CHECK(trust.message.find("pin its certificate") != std::string::npos);
  CurlFailure pinned;
  pinned.code = CURLE_PEER_FAILED_VERIFICATION;
  pinned.pin_mismatch = true;
  CHECK(ClassifyCurlFailure(pinned, "h").message ==
        "h: the certificate does not match the pinned SHA-256 fingerprint");
}

TEST_CASE(
    "A dropped connection before the request is a reset, after it a close that may have acted",
    "[http][errors]") {
  for (CURLcode code :
       {CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_PARTIAL_FILE}) {
    INFO(curl_easy_strerror(code));
    CHECK(Classify(code, ECONNRESET, "", false).code == "http.reset");
    auto after = Classify(code, ECONNRESET, "", true);
    CHECK(after.code == "http.closed");
    CHECK(after.message.find("may have taken effect") != std::string::npos);
  }
}

TEST_CASE("Refused, unresolvable, slow and the rest keep their classes", "[http][errors]") {
  CHECK(Classify(CURLE_COULDNT_CONNECT).code == "http.connect");
  CHECK(Classify(CURLE_COULDNT_RESOLVE_HOST).code == "http.dns");
  CHECK(Classify(CURLE_OPERATION_TIMEDOUT, 0, "", /*sent=*/true).code == "http.timeout");
  // Timed out connecting: nothing was sent, so even a POST may try again.
  CHECK(Classify(CURLE_OPERATION_TIMEDOUT, 0, "", /*sent=*/false).code == "http.connect");
  CHECK(Classify(CURLE_UNSUPPORTED_PROTOCOL).code == "http.transport");
  CurlFailure big;
  big.code = CURLE_WRITE_ERROR;
  big.too_large = true;
  big.max_body = 10;
  CHECK(ClassifyCurlFailure(big, "h").code == "http.too_large");
}

}  // namespace
}  // namespace dcops::http
