#include "dcops/tls/secret_box.hpp"

#include <catch2/catch.hpp>

namespace dcops::tls {
namespace {

TEST_CASE("Sealed secrets open only with the same key and binding", "[secrets]") {
  auto box = SecretBox::FromKeyBytes(SecretBox::NewHexKey());
  REQUIRE(box.ok());
  auto sealed = box->Seal("calvin-S3cret", "credential_set:idrac-default");
  REQUIRE(sealed.ok());
  CHECK(sealed->size() == 1 + 12 + 13 + 16);
  CHECK(sealed->find("calvin-S3cret") == std::string::npos);
  CHECK(*box->Open(*sealed, "credential_set:idrac-default") == "calvin-S3cret");
  CHECK(*box->Seal("x", "a") != *box->Seal("x", "a"));  // a fresh nonce every time

  CHECK(box->Open(*sealed, "credential_set:other").error().code == "tls.decrypt");
  std::string tampered = *sealed;
  tampered[15] ^= 1;
  CHECK_FALSE(box->Open(tampered, "credential_set:idrac-default").ok());
  auto other = SecretBox::FromKeyBytes(SecretBox::NewHexKey());
  auto wrong = other->Open(*sealed, "credential_set:idrac-default");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message == "the secret cannot be decrypted with this key");
  CHECK(box->KeyId() != other->KeyId());
  CHECK(box->KeyId().size() == 16);
}

TEST_CASE("Keys must be 32 bytes or 64 hex characters", "[secrets]") {
  CHECK(SecretBox::FromKeyBytes(std::string(32, 'k')).ok());
  CHECK(SecretBox::FromKeyBytes(SecretBox::NewHexKey() + "\n").ok());
  auto short_key = SecretBox::FromKeyBytes("too short");
  REQUIRE_FALSE(short_key.ok());
  CHECK(short_key.error().code == "tls.key");
  auto missing = SecretBox::FromKeyFile("/nonexistent/dcops.key");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("cannot read the secret key") != std::string::npos);
}

}  // namespace
}  // namespace dcops::tls
