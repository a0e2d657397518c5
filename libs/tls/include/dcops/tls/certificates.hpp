#pragma once
// Certificates for a site and for simulators: a local CA, certificates it signs, and
// self-signed ones (what BMCs ship with). PEM in, PEM out; OpenSSL stays inside this library.
//
// Thread-safety: every function is safe to call from many threads.

#include <string>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops::tls {

struct KeyPair {
  std::string certificate_pem;
  std::string private_key_pem;  // secret: never log
};

struct CertificateRequest {
  std::string common_name;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries ("127.0.1.4")
  int valid_days = 825;
  bool is_ca = false;
};

// A self-signed certificate with a fresh P-256 key.
Result<KeyPair> SelfSigned(const CertificateRequest& request);
// A certificate signed by `issuer` (a CA made with is_ca = true).
Result<KeyPair> SignedBy(const CertificateRequest& request, const KeyPair& issuer);
// SHA-256 of the certificate's DER encoding, as lower-case hex ("ab12…", 64 characters):
// the form a pinned-certificate option compares against.
Result<std::string> Sha256Fingerprint(const std::string& certificate_pem);

}  // namespace dcops::tls
