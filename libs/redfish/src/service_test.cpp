// Navigation from the service root and advertised actions, against redfish-tree-sim serving a
// generic BMC (basic auth only, its own ids, an ActionInfo) and DMTF's public mockup: the
// second reading of the standard, not our Dell simulator.
#include "dcops/redfish/service.hpp"

#include <catch2/catch.hpp>

#include "dcops/redfish/actions.hpp"
#include "dcops/redfish/client.hpp"
#include "server.hpp"
#include "tree_sim.hpp"

namespace dcops::redfish {
namespace {

struct TreeRig {
  std::unique_ptr<sim::tree::TreeSim> sim;
  std::unique_ptr<sim::tree::Server> server;
  // Held by pointer: closed before the server stops, which otherwise waits out keep-alives.
  std::unique_ptr<http::CurlTransport> transport = std::make_unique<http::CurlTransport>();
  std::unique_ptr<http::Client> http =
      std::make_unique<http::Client>(http::ClientOptions{}, *transport, SystemClock::Instance());
  SessionCache sessions;
  ServiceCache services;
  Target target;

  TreeRig(const std::string& tree, const std::string& address) {
    sim::tree::SimOptions o;
    o.tree = std::string(DCOPS_REDFISH_FIXTURES) + "/" + tree;
    o.address = address;
    o.port = 0;
    o.password = "pw";
    auto created = sim::tree::TreeSim::Create(o);
    REQUIRE(created.ok());
    sim = std::move(*created);
    server = std::make_unique<sim::tree::Server>(*sim, o);
    REQUIRE(server->Start().ok());
    target.address = address + ":" + std::to_string(server->port());
    target.username = "root";
    target.password = "pw";
    target.tls.pinned_sha256 = server->fingerprint();
  }
  ~TreeRig() {
    http.reset();
    transport.reset();
    server->Stop();
  }
  Client Bmc() { return Client(*http, sessions, target, SystemClock::Instance(), nullptr, &services); }
};

TEST_CASE("A generic BMC is navigated by its own links and spoken to with basic auth", "[redfish][net]") {
  TreeRig rig("generic-bmc", "127.0.123.1");
  auto bmc = rig.Bmc();
  auto map = bmc.Map();
  REQUIRE(map.ok());
  CHECK(map->system == "/redfish/v1/Systems/1");
  CHECK(map->manager == "/redfish/v1/Managers/bmc");
  CHECK(map->root->sessions.empty());
  CHECK_FALSE(map->idrac);
  CHECK(DescribeSystem(*map) == "Acme (no model)");
  CHECK(rig.sim->State().find("\"logins\":0") != std::string::npos);  // no session was tried
  auto refused = RequireIdrac(*map, "clearing the job queue");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "redfish.not_idrac");
  CHECK(refused.error().message.rfind("not an iDRAC: Acme (no model)", 0) == 0);
  CHECK(bmc.VerifyLogin().ok());

  // The reset action where the system says it is, its reset types from its ActionInfo.
  auto sys = bmc.Get(map->system);
  REQUIRE(sys.ok());
  auto reset = FindAction(bmc, *sys, "#ComputerSystem.Reset");
  REQUIRE(reset.ok());
  CHECK(reset->target == "/redfish/v1/Systems/1/Actions/Reset");
  CHECK(reset->Allows("ResetType", "ForceRestart"));
  CHECK_FALSE(reset->Allows("ResetType", "GracefulRestart"));
  auto missing = FindAction(bmc, *sys, "#ComputerSystem.AddResourceBlock");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == "redfish.unsupported");

  // A second client of the same agent reuses what navigation learnt.
  auto again = rig.Bmc();
  const std::string before = rig.sim->State();
  REQUIRE(again.Map().ok());
  CHECK(rig.sim->State() == before);
}

TEST_CASE("DMTF's mockup: a session at the root's Links.Sessions, the manager from ManagedBy", "[redfish][net]") {
  TreeRig rig("dmtf-public-rackmount1", "127.0.123.2");
  auto bmc = rig.Bmc();
  auto map = bmc.Map();
  REQUIRE(map.ok());
  CHECK(map->root->sessions == "/redfish/v1/SessionService/Sessions");
  CHECK(map->system == "/redfish/v1/Systems/437XR1138R2");
  CHECK(map->manager == "/redfish/v1/Managers/BMC");
  CHECK(DescribeSystem(*map) == "Contoso 3500");
  CHECK(rig.sim->State().find("\"logins\":1") != std::string::npos);
}

TEST_CASE("A service listing two systems is ambiguous, and nothing is picked", "[redfish]") {
  auto doc = Document::Parse("/redfish/v1", R"({"Systems": {"@odata.id": "/redfish/v1/Systems"}, "Vendor": "Dell"})");
  REQUIRE(doc.ok());
  auto root = std::make_shared<const ServiceRoot>(ReadServiceRoot(*doc));
  CHECK(root->vendor == "Dell");
  auto two = Identify(root, {"/redfish/v1/Systems/a", "/redfish/v1/Systems/b"}, {}, nullptr);
  REQUIRE_FALSE(two.ok());
  CHECK(two.error().code == "redfish.ambiguous");
  // An iDRAC is Dell's root with its manager at iDRAC.Embedded.1, as listed.
  auto idrac = Identify(root, {}, {"/redfish/v1/Managers/iDRAC.Embedded.1"}, nullptr);
  REQUIRE(idrac.ok());
  CHECK(idrac->idrac);
  auto old = Document::Parse("/redfish/v1", R"({"Oem": {"Dell": {"ServiceTag": "ABC1234"}}})");
  REQUIRE(old.ok());
  CHECK(ReadServiceRoot(*old).vendor == "Dell");  // iDRACs older than Vendor
}

TEST_CASE("A service root's link that is not a path on the BMC is not followed (found by fuzzing)", "[redfish][attack]") {
  // "https://<bmc>" + "@evil.example/x" names another host: the login would go there.
  auto doc = Document::Parse("/redfish/v1", R"({"Links": {"Sessions": {"@odata.id": "@evil.example/x"}},
                                               "Systems": {"@odata.id": "evil.example/Systems"},
                                               "Managers": {"@odata.id": "/redfish/v1/Managers"}})");
  REQUIRE(doc.ok());
  const ServiceRoot root = ReadServiceRoot(*doc);
  CHECK(root.sessions.empty());
  CHECK(root.systems.empty());
  CHECK(root.managers == "/redfish/v1/Managers");
}

}  // namespace
}  // namespace dcops::redfish
