#include "api_access.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "dcops/common/names.hpp"

namespace dcops::dispatcher {
namespace {

bool SameSecret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string NewSessionId() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();  // no entropy: no session is safe
  static const char* hex = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id.push_back(hex[b >> 4]);
    id.push_back(hex[b & 15]);
  }
  return id;
}

}  // namespace

const char* RoleName(Role role) { return role == Role::kOperator ? "operator" : "viewer"; }

std::string CookieValue(const std::string& header, const std::string& name) {
  std::size_t at = 0;
  while (at < header.size()) {
    const std::size_t end = std::min(header.find(';', at), header.size());
    std::size_t begin = at;
    while (begin < end && header[begin] == ' ') ++begin;
    const std::size_t eq = header.find('=', begin);
    if (eq < end && header.compare(begin, eq - begin, name) == 0) return header.substr(eq + 1, end - eq - 1);
    at = end + 1;
  }
  return "";
}

ApiAccess::ApiAccess(std::string operator_token, std::string viewer_token, const Clock& clock, SessionOptions options)
    : operator_token_(std::move(operator_token)), viewer_token_(std::move(viewer_token)), clock_(clock),
      options_(options) {}

std::optional<Role> ApiAccess::RoleOf(const std::string& token) const {
  if (operator_token_.empty() || token.empty()) return std::nullopt;
  // Both compared, whatever the first gives: the time taken says nothing about which matched.
  const bool op = SameSecret(token, operator_token_);
  const bool viewer = !viewer_token_.empty() && SameSecret(token, viewer_token_);
  if (op) return Role::kOperator;
  if (viewer) return Role::kViewer;
  return std::nullopt;
}

std::optional<Principal> ApiAccess::FromBearer(const std::string& authorization) const {
  static const std::string kBearer = "Bearer ";
  if (authorization.compare(0, kBearer.size(), kBearer) != 0) return std::nullopt;
  auto role = RoleOf(authorization.substr(kBearer.size()));
  if (!role) return std::nullopt;
  return Principal{*role, "", false};
}

std::optional<Principal> ApiAccess::FromCookie(const std::string& cookie_header) {
  const std::string id = CookieValue(cookie_header, kCookie);
  if (id.size() != 64 || !Enabled()) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (clock_.Steady() >= it->second.expires) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second.principal;
}

std::optional<Principal> ApiAccess::Authenticate(const std::string& authorization, const std::string& cookie_header) {
  if (!authorization.empty()) return FromBearer(authorization);
  return FromCookie(cookie_header);
}

Result<std::string> ApiAccess::Login(const std::string& token, const std::string& name) {
  if (!Enabled()) return MakeError("disabled", "the console is disabled: give the dispatcher DCOPS_API_TOKEN_FILE");
  if (!name.empty() && !IsPrintableName(name, 64)) {
    return MakeError("invalid", "name: 1-64 letters, digits, '.', '_', '-', ':', '@'");
  }
  auto role = RoleOf(token);
  if (!role) return MakeError("unauthorized", "that token was not accepted");
  const auto now = clock_.Steady();
  std::lock_guard lock(mu_);
  DropExpired(now);
  // The cap is per role, and a full role gives up its own oldest session: logins with the
  // viewer token can never push an operator out.
  auto oldest = sessions_.end();
  std::size_t of_role = 0;
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    if (it->second.principal.role != *role) continue;
    ++of_role;
    if (oldest == sessions_.end() || it->second.expires < oldest->second.expires) oldest = it;
  }
  if (of_role >= options_.max_sessions && oldest != sessions_.end()) sessions_.erase(oldest);
  std::string id = NewSessionId();
  sessions_[id] = {Principal{*role, "console:" + (name.empty() ? std::string(RoleName(*role)) : name), true},
                   now + options_.ttl};
  return id;
}

void ApiAccess::Logout(const std::string& cookie_header) {
  const std::string id = CookieValue(cookie_header, kCookie);
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

std::size_t ApiAccess::sessions() {
  std::lock_guard lock(mu_);
  DropExpired(clock_.Steady());
  return sessions_.size();
}

void ApiAccess::DropExpired(Clock::SteadyTime now) {
  std::erase_if(sessions_, [now](const auto& s) { return now >= s.second.expires; });
}

}  // namespace dcops::dispatcher
