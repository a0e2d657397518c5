#pragma once
// AES-256-GCM for device credentials at rest: the control plane stores only what Seal()
// returns; only the holder of the 32-byte key (the on-prem dispatcher) can Open() it.
//
// Format: 0x01 | 12-byte random nonce | ciphertext | 16-byte tag. The associated data binds
// a ciphertext to its credential set (its name), so one set's secret cannot be pasted into
// another's row.
//
// Ownership: a SecretBox holds its key; the key never leaves it.
// Thread-safety: Seal/Open are const and safe from many threads.

#include <array>
#include <string>

#include "dcops/common/result.hpp"

namespace dcops::tls {

class SecretBox {
 public:
  // From a key file: 32 raw bytes, or 64 hex characters (whitespace ignored).
  static Result<SecretBox> FromKeyFile(const std::string& path);
  static Result<SecretBox> FromKeyBytes(const std::string& key);
  // A fresh random key as 64 hex characters (for `dcops certs init` and tests).
  static std::string NewHexKey();

  Result<std::string> Seal(const std::string& plaintext, const std::string& associated) const;
  // tls.decrypt when the ciphertext, its binding or the key is wrong; never says more.
  Result<std::string> Open(const std::string& sealed, const std::string& associated) const;
  // A short identifier of the key (not secret): lets a ciphertext name the key it needs.
  std::string KeyId() const;

 private:
  explicit SecretBox(std::array<unsigned char, 32> key) : key_(key) {}
  std::array<unsigned char, 32> key_;
};

}  // namespace dcops::tls
