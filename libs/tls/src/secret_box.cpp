#include "dcops/tls/secret_box.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <memory>

#include "dcops/common/config.hpp"
#include "dcops/common/hex.hpp"

namespace dcops::tls {
namespace {

constexpr unsigned char kVersion = 0x01;
constexpr int kNonce = 12;
constexpr int kTag = 16;

using Ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

}  // namespace

Result<SecretBox> SecretBox::FromKeyBytes(const std::string& key) {
  std::string raw = key;
  std::string hex;
  for (char c : key) {
    if (!std::isspace(static_cast<unsigned char>(c))) hex.push_back(c);
  }
  if (hex.size() == 64) {
    if (auto decoded = HexDecode(hex)) raw = std::move(*decoded);
  }
  if (raw.size() != 32) {
    return MakeError("tls.key", "the secret key must be 32 bytes (or 64 hex characters)");
  }
  std::array<unsigned char, 32> k{};
  std::copy(raw.begin(), raw.end(), k.begin());
  return SecretBox(k);
}

Result<SecretBox> SecretBox::FromKeyFile(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text) return MakeError("tls.key", fmt::format("cannot read the secret key: {}", text.error().message));
  auto box = FromKeyBytes(*text);
  if (!box) return MakeError("tls.key", fmt::format("{}: {}", path, box.error().message));
  return box;
}

std::string SecretBox::NewHexKey() {
  unsigned char k[32];
  RAND_bytes(k, sizeof k);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(k), sizeof k));
}

std::string SecretBox::KeyId() const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  const std::string label = "dcops-key-id";
  std::string input(label);
  input.append(reinterpret_cast<const char*>(key_.data()), key_.size());
  EVP_Digest(input.data(), input.size(), md, &n, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md), 8));
}

Result<std::string> SecretBox::Seal(const std::string& plaintext, const std::string& associated) const {
  unsigned char nonce[kNonce];
  if (RAND_bytes(nonce, kNonce) != 1) return MakeError("tls.encrypt", "no randomness for a nonce");
  Ctx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  std::string out(1 + kNonce + plaintext.size() + kTag, '\0');
  out[0] = static_cast<char>(kVersion);
  std::copy(nonce, nonce + kNonce, out.begin() + 1);
  auto* cipher = reinterpret_cast<unsigned char*>(out.data() + 1 + kNonce);
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(associated.data()),
                        static_cast<int>(associated.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), cipher, &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), cipher + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag,
                          out.data() + 1 + kNonce + plaintext.size()) != 1) {
    return MakeError("tls.encrypt", "encryption failed");
  }
  return out;
}

Result<std::string> SecretBox::Open(const std::string& sealed, const std::string& associated) const {
  const auto fail = [] { return MakeError("tls.decrypt", "the secret cannot be decrypted with this key"); };
  if (sealed.size() < 1 + kNonce + kTag || static_cast<unsigned char>(sealed[0]) != kVersion) return fail();
  const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data() + 1);
  const std::size_t n = sealed.size() - 1 - kNonce - kTag;
  const auto* cipher = reinterpret_cast<const unsigned char*>(sealed.data() + 1 + kNonce);
  std::string tag = sealed.substr(1 + kNonce + n);
  Ctx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  std::string plain(n, '\0');
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(associated.data()),
                        static_cast<int>(associated.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, cipher,
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &len) != 1) {
    return fail();
  }
  return plain;
}

}  // namespace dcops::tls
