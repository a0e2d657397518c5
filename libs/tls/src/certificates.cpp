#include "dcops/tls/certificates.hpp"

#include "dcops/common/hex.hpp"

#include <fmt/format.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace dcops::tls {
namespace {

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;

Error OpenSslError(std::string_view what) {
  const unsigned long code = ERR_get_error();
  char buf[256] = {0};
  if (code != 0) ERR_error_string_n(code, buf, sizeof buf);
  return MakeError("tls.openssl", fmt::format("{}: {}", what, code ? buf : "unknown error"));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

Result<PKey> NewKey() {
  PKey key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("generating a P-256 key");
  return key;
}

Result<PKey> ReadKey(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return OpenSslError("reading a private key");
  return key;
}

Result<Cert> ReadCert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return OpenSslError("reading a certificate");
  return cert;
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

Result<KeyPair> Issue(const CertificateRequest& req, EVP_PKEY* signing_key, X509* issuer) {
  auto key = NewKey();
  if (!key) return key.error();
  Cert cert(X509_new());
  if (!cert) return OpenSslError("allocating a certificate");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(req.valid_days) * 86400L);
  X509_set_pubkey(cert.get(), key->get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(req.common_name.c_str()), -1,
                             -1, 0);
  X509* issuer_cert = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert));

  std::string san;
  for (const auto& d : req.dns_names) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
  for (const auto& ip : req.ip_addresses) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  bool ok = true;
  if (req.is_ca) {
    ok &= AddExtension(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    ok &= AddExtension(cert.get(), issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok &= AddExtension(cert.get(), issuer_cert, NID_basic_constraints, "CA:FALSE");
    ok &= AddExtension(cert.get(), issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  if (!san.empty()) ok &= AddExtension(cert.get(), issuer_cert, NID_subject_alt_name, san);
  ok &= AddExtension(cert.get(), issuer_cert, NID_subject_key_identifier, "hash");
  if (!ok) return OpenSslError("adding certificate extensions");
  if (X509_sign(cert.get(), signing_key ? signing_key : key->get(), EVP_sha256()) == 0) {
    return OpenSslError("signing a certificate");
  }
  Bio cert_bio(BIO_new(BIO_s_mem()));
  Bio key_bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key->get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("writing PEM");
  }
  return KeyPair{BioText(cert_bio.get()), BioText(key_bio.get())};
}

}  // namespace

Result<KeyPair> SelfSigned(const CertificateRequest& request) {
  return Issue(request, nullptr, nullptr);
}

Result<KeyPair> SignedBy(const CertificateRequest& request, const KeyPair& issuer) {
  auto key = ReadKey(issuer.private_key_pem);
  if (!key) return key.error();
  auto cert = ReadCert(issuer.certificate_pem);
  if (!cert) return cert.error();
  return Issue(request, key->get(), cert->get());
}

Result<std::string> Sha256Fingerprint(const std::string& certificate_pem) {
  auto cert = ReadCert(certificate_pem);
  if (!cert) return cert.error();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert->get(), EVP_sha256(), md, &n) != 1) return OpenSslError("hashing");
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md), n));
}

}  // namespace dcops::tls
