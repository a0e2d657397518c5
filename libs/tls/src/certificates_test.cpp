#include "dcops/tls/certificates.hpp"

#include <catch2/catch.hpp>

namespace dcops::tls {
namespace {

TEST_CASE("A self-signed certificate and its fingerprint", "[tls]") {
  auto pair = SelfSigned({"idrac-ABC1234", {"idrac-abc1234.lab"}, {"127.0.1.4"}, 30, false});
  REQUIRE(pair.ok());
  CHECK(pair->certificate_pem.rfind("-----BEGIN CERTIFICATE-----", 0) == 0);
  CHECK(pair->private_key_pem.find("PRIVATE KEY") != std::string::npos);
  auto fp = Sha256Fingerprint(pair->certificate_pem);
  REQUIRE(fp.ok());
  CHECK(fp->size() == 64);
  CHECK(*Sha256Fingerprint(pair->certificate_pem) == *fp);  // stable
  auto other = SelfSigned({"idrac-XYZ", {}, {"127.0.1.5"}, 30, false});
  CHECK(*Sha256Fingerprint(other->certificate_pem) != *fp);
}

TEST_CASE("A CA signs site certificates", "[tls]") {
  auto ca = SelfSigned({"dcops site CA", {}, {}, 3650, true});
  REQUIRE(ca.ok());
  auto server = SignedBy({"job-dispatcher", {"localhost"}, {"127.0.0.1"}, 825, false}, *ca);
  REQUIRE(server.ok());
  CHECK(server->certificate_pem != ca->certificate_pem);
  auto bad = SignedBy({"x", {}, {}, 1, false}, KeyPair{"not pem", "not pem"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "tls.openssl");
  CHECK_FALSE(Sha256Fingerprint("garbage").ok());
}

}  // namespace
}  // namespace dcops::tls
