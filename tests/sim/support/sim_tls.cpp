#include "sim_tls.hpp"

#include <openssl/pem.h>

#include "dcops/tls/certificates.hpp"

namespace dcops::sim {

Result<std::unique_ptr<httplib::SSLServer>> SelfSignedServer(const std::string& address, const std::string& name,
                                                             std::string* fingerprint) {
  auto pair = tls::SelfSigned({name, {}, {address}, 365, false});
  if (!pair) return pair.error();
  *fingerprint = *tls::Sha256Fingerprint(pair->certificate_pem);
  BIO* cb = BIO_new_mem_buf(pair->certificate_pem.data(), static_cast<int>(pair->certificate_pem.size()));
  X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  BIO_free(cb);
  BIO* kb = BIO_new_mem_buf(pair->private_key_pem.data(), static_cast<int>(pair->private_key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  auto server = std::make_unique<httplib::SSLServer>(cert, key);  // copies both
  X509_free(cert);
  EVP_PKEY_free(key);
  return server;
}

}  // namespace dcops::sim
