#include "dcops/common/redact.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>

namespace dcops {
namespace {

std::string Normalise(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    if (c == '_' || c == '-' || c == '.' || c == ' ') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

bool IsSecretKey(std::string_view key) {
  const std::string k = Normalise(key);
  // A reference to a secret (a file holding it, its id) is not the secret.
  for (std::string_view harmless : {"file", "path", "id", "name", "set"}) {
    if (EndsWith(k, harmless)) return false;
  }
  static constexpr std::array<std::string_view, 13> kMarkers = {
      "password", "passwd",     "passphrase", "secret", "token",      "apikey",    "privatekey",
      "accesskey", "authorization", "cookie", "credential", "ciphertext", "sessionkey"};
  for (std::string_view marker : kMarkers) {
    if (k.find(marker) != std::string::npos) return true;
  }
  return k == "key" || k == "pass" || k == "pw";
}

std::string RedactConnectionString(std::string_view dsn) {
  std::string out(dsn);
  const auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    const auto at = out.find('@', scheme + 3);
    const auto colon = out.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, kRedacted);
    }
    // Query-string form: ?password=...
    const auto q = out.find("password=");
    if (q != std::string::npos) {
      auto end = out.find('&', q);
      if (end == std::string::npos) end = out.size();
      out.replace(q + 9, end - q - 9, kRedacted);
    }
    return out;
  }
  // Keyword form: password=value or password='quoted value'.
  std::size_t pos = 0;
  while ((pos = out.find("password", pos)) != std::string::npos) {
    std::size_t i = pos + 8;
    while (i < out.size() && out[i] == ' ') ++i;
    if (i >= out.size() || out[i] != '=') { pos = i; continue; }
    ++i;
    while (i < out.size() && out[i] == ' ') ++i;
    std::size_t end = i;
    if (end < out.size() && out[end] == '\'') {
      ++end;
      while (end < out.size() && out[end] != '\'') end += (out[end] == '\\') ? 2 : 1;
      end = std::min(end + 1, out.size());
    } else {
      while (end < out.size() && out[end] != ' ') ++end;
    }
    out.replace(i, end - i, kRedacted);
    pos = i + kRedacted.size();
  }
  return out;
}

void SecretRegistry::Add(std::string value) {
  if (value.empty()) return;
  std::unique_lock lock(mu_);
  if (std::find(secrets_.begin(), secrets_.end(), value) != secrets_.end()) return;
  secrets_.push_back(std::move(value));
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string SecretRegistry::Scrub(std::string_view text) const {
  std::string out(text);
  std::shared_lock lock(mu_);
  for (const auto& secret : secrets_) {
    std::size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), kRedacted);
      pos += kRedacted.size();
    }
  }
  return out;
}

std::size_t SecretRegistry::size() const {
  std::shared_lock lock(mu_);
  return secrets_.size();
}

}  // namespace dcops
