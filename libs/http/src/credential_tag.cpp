#include "dcops/http/credential_tag.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cstdlib>

#include "dcops/common/hex.hpp"

namespace dcops::http {
namespace {

const std::array<unsigned char, 32>& ProcessKey() {
  static const std::array<unsigned char, 32> key = [] {
    std::array<unsigned char, 32> k{};
    if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1) std::abort();  // no entropy: nothing is safe
    return k;
  }();
  return key;
}

}  // namespace

std::string CredentialTag(const std::string& username, const std::string& password) {
  std::string message = username;
  message.push_back('\0');
  message += password;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const auto& key = ProcessKey();
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &len);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

}  // namespace dcops::http
