#include "agent_identity.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "dcops/common/hex.hpp"
#include "dcops/common/names.hpp"

namespace dcops::dispatcher {
namespace {

constexpr std::string_view kPrefix = "dcops-agent-v1.";

std::string Mac(const std::string& secret, const std::string& scope) {
  const std::string message = std::string(kPrefix) + scope;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &len);
  return HexEncode(std::string(reinterpret_cast<const char*>(out), len));
}

bool SameBytes(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool ValidScope(const std::string& scope) {
  const std::string name = !scope.empty() && scope.back() == '*' ? scope.substr(0, scope.size() - 1) : scope;
  return IsPrintableName(name, 200);
}

}  // namespace

Result<std::string> IssueAgentToken(const std::string& secret, const std::string& scope) {
  if (secret.empty()) return MakeError("certs.agent_token", "no agent secret to issue tokens with");
  if (!ValidScope(scope)) {
    return MakeError("certs.agent_token", "scope: an agent id (letters, digits, '.', '_', '-', ':', '@'), "
                                          "optionally ending in '*' for a prefix");
  }
  return std::string(kPrefix) + scope + "." + Mac(secret, scope);
}

Result<AgentGrant> VerifyAgentToken(const std::string& secret, const std::string& authorization, bool accept_shared) {
  constexpr std::string_view kBearer = "Bearer ";
  if (secret.empty()) return MakeError("agent.token", "no agent secret is configured");
  if (authorization.rfind(kBearer, 0) != 0) return MakeError("agent.token", "missing agent token");
  const std::string token = authorization.substr(kBearer.size());
  if (SameBytes(token, secret)) {
    if (!accept_shared) {
      return MakeError("agent.token", "the site's shared agent secret is not an agent token: issue this agent its "
                                      "own (job-dispatcher certs agent-token)");
    }
    return AgentGrant{"*", true};
  }
  const auto dot = token.rfind('.');
  if (token.rfind(kPrefix, 0) != 0 || dot == std::string::npos || dot < kPrefix.size()) {
    return MakeError("agent.token", "bad agent token");
  }
  const std::string scope = token.substr(kPrefix.size(), dot - kPrefix.size());
  if (!ValidScope(scope) || !SameBytes(token.substr(dot + 1), Mac(secret, scope))) {
    return MakeError("agent.token", "bad agent token");
  }
  return AgentGrant{scope, false};
}

bool GrantAllows(const AgentGrant& grant, const std::string& agent_id) {
  if (grant.shared) return true;
  if (!grant.scope.empty() && grant.scope.back() == '*') {
    const std::string prefix = grant.scope.substr(0, grant.scope.size() - 1);
    return agent_id.size() > prefix.size() && agent_id.rfind(prefix, 0) == 0;
  }
  return agent_id == grant.scope;
}

}  // namespace dcops::dispatcher
