#pragma once
// What a failed libcurl transfer means, classified by what happened rather than by curl's
// code alone (private to libs/http):
//   http.connect   refused / unreachable: nothing reached the server          retry always
//   http.dns       the name does not resolve                                   retry always
//   http.reset     the connection dropped before the request was sent (a reset
//                  during the TLS handshake, a BMC closing idle connections)   retry always
//   http.closed    the connection dropped after the request was sent: it may
//                  have taken effect                                           idempotent only
//   http.timeout   no answer in time after the request was sent (before it: http.connect):
//                  may have taken effect                                       idempotent only
//   http.tls       trust (certificate, chain, pin) or a handshake the two sides
//                  cannot agree on (protocol version, ciphers)                 never
//   http.too_large the answer exceeded the limit                               never
//   http.transport anything else                                               idempotent only
// Only a trust failure suggests pinning; a protocol mismatch suggests the legacy TLS option.
//
// Thread-safety: a pure function.

#include <curl/curl.h>

#include <cstddef>
#include <string>

#include "dcops/common/result.hpp"

namespace dcops::http {

struct CurlFailure {
  CURLcode code = CURLE_OK;
  long os_errno = 0;         // CURLINFO_OS_ERRNO
  std::string detail;        // CURLOPT_ERRORBUFFER, may be empty
  bool request_sent = false;  // CURLINFO_REQUEST_SIZE > 0
  bool pin_mismatch = false;  // our certificate callback refused the leaf
  bool too_large = false;
  std::size_t max_body = 0;
};

Error ClassifyCurlFailure(const CurlFailure& failure, const std::string& where);

}  // namespace dcops::http
