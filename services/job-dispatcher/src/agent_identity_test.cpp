#include "agent_identity.hpp"

#include <catch2/catch.hpp>

namespace dcops::dispatcher {
namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef";

TEST_CASE("An agent token names the ids it may use, and nothing else", "[identity][attack]") {
  auto one = IssueAgentToken(kSecret, "worker-a");
  REQUIRE(one.ok());
  auto grant = VerifyAgentToken(kSecret, "Bearer " + *one, false);
  REQUIRE(grant.ok());
  CHECK(GrantAllows(*grant, "worker-a"));
  CHECK_FALSE(GrantAllows(*grant, "worker-b"));
  CHECK_FALSE(GrantAllows(*grant, "worker-a2"));
  // Replicas: a prefix grants every id that extends it, not the prefix alone or another kind.
  auto replicas = VerifyAgentToken(kSecret, "Bearer " + *IssueAgentToken(kSecret, "idrac-worker-*"), false);
  REQUIRE(replicas.ok());
  CHECK(GrantAllows(*replicas, "idrac-worker-host1-1"));
  CHECK_FALSE(GrantAllows(*replicas, "idrac-worker-"));
  CHECK_FALSE(GrantAllows(*replicas, "ome-sync-host1-1"));
}

TEST_CASE("A forged, altered or foreign token is refused without echoing it", "[identity][attack]") {
  const std::string good = *IssueAgentToken(kSecret, "worker-a");
  // Rename the scope but keep the mac: the mac no longer matches.
  std::string renamed = good;
  renamed.replace(renamed.find("worker-a"), 8, "worker-b");
  for (const std::string& bad : {renamed, good.substr(0, good.size() - 1) + "0", std::string("dcops-agent-v1.*.00"),
                                 *IssueAgentToken("another-site-secret", "worker-a"), std::string("worker-a")}) {
    INFO(bad);
    auto r = VerifyAgentToken(kSecret, "Bearer " + bad, false);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(bad) == std::string::npos);
  }
  CHECK_FALSE(VerifyAgentToken(kSecret, good, false).ok());  // no "Bearer "
  // The site secret itself is not an agent token unless the dispatcher still accepts it.
  auto shared = VerifyAgentToken(kSecret, "Bearer " + kSecret, false);
  REQUIRE_FALSE(shared.ok());
  CHECK(shared.error().message.find("issue this agent its own") != std::string::npos);
  CHECK(shared.error().message.find(kSecret) == std::string::npos);
  auto legacy = VerifyAgentToken(kSecret, "Bearer " + kSecret, true);
  REQUIRE(legacy.ok());
  CHECK(GrantAllows(*legacy, "anything"));
  CHECK(IssueAgentToken(kSecret, "bad id").error().code == "certs.agent_token");
}

}  // namespace
}  // namespace dcops::dispatcher
