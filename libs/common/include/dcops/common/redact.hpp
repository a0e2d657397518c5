#pragma once
// Keeping secrets out of logs, events and error messages.
//
// Two defences, used together by the logger and by anything that turns data into text:
//  - by name: a field whose key says it holds a secret (password, token, key, ...) is
//    replaced whole, whatever its value;
//  - by value: every secret this process has seen (a decrypted device password, an agent
//    token) is registered once, and every outgoing string is scrubbed of it.
//
// Thread-safety: SecretRegistry is safe to use from many threads.

#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace dcops {

inline constexpr std::string_view kRedacted = "[REDACTED]";

// True when a field named `key` carries a secret ("password", "DCOPS_AGENT_TOKEN",
// "X-Auth-Token", "secret_key_file" is not: a file path is not the secret itself).
bool IsSecretKey(std::string_view key);

// Replaces the password of a URL ("postgres://u:pw@h/db") or of a libpq keyword string
// ("host=h password=pw") with [REDACTED]. Anything else is returned unchanged.
std::string RedactConnectionString(std::string_view dsn);

class SecretRegistry {
 public:
  // Remembers `value` so Scrub() removes it. Empty values are ignored.
  void Add(std::string value);
  // `text` with every registered secret replaced by [REDACTED].
  std::string Scrub(std::string_view text) const;
  std::size_t size() const;

 private:
  mutable std::shared_mutex mu_;
  std::vector<std::string> secrets_;  // longest first, so a prefix never leaves a tail
};

}  // namespace dcops
