#pragma once
// Agents' own identities (issue 13): each agent presents a token that names what it may call
// itself, so the shared site secret never leaves the dispatcher and no agent can connect as
// another. A token is "dcops-agent-v1.<scope>.<mac>": the scope is an agent id, or a prefix
// ending in '*' for the replicas of one service ("idrac-worker-*", whose ids differ by host),
// and the mac is HMAC-SHA256 of "dcops-agent-v1.<scope>" under the site's agent secret
// (DCOPS_AGENT_TOKEN_FILE). `job-dispatcher certs` issues them; nothing is stored per agent.
//
// Thread-safety: pure functions. No I/O.

#include <string>

#include "dcops/common/result.hpp"

namespace dcops::dispatcher {

// A token for `scope`. `scope`: 1-200 of letters, digits, '.', '_', '-', ':', '@', optionally
// ending in '*'.
Result<std::string> IssueAgentToken(const std::string& secret, const std::string& scope);

struct AgentGrant {
  std::string scope;
  bool shared = false;  // the site secret itself (only when the dispatcher still accepts it)
};

// What a presented bearer value ("Bearer …") proves. The site secret itself is accepted only
// when `accept_shared` (deployments from before per-agent tokens); anything else is an error
// whose message names no secret.
Result<AgentGrant> VerifyAgentToken(const std::string& secret, const std::string& authorization, bool accept_shared);

// Whether the grant lets an agent call itself `agent_id`.
bool GrantAllows(const AgentGrant& grant, const std::string& agent_id);

}  // namespace dcops::dispatcher
