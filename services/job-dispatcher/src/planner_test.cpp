#include "planner.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

namespace dcops::dispatcher {
namespace {

class FakeDirectory final : public ServerDirectory {
 public:
  std::vector<ServerRef> servers;
  std::string asked_scope;
  Result<std::vector<ServerRef>> Resolve(const std::string&, const std::string& scope) override {
    asked_scope = scope;
    return servers;
  }
};

TEST_CASE("A power job plans one mutating step per BMC, carrying how to reach it", "[plan]") {
  auto planners = MakePlanners();
  FakeDirectory dir;
  dir.servers = {{"s1", "127.0.1.1:8443", "c1", true, ""},
                 {"s2", "127.0.1.2:8443", "c1", false, "ab"},
                 {"s2", "127.0.1.2:8443", "c1", false, "ab"}};  // listed twice: planned once
  const Planner* plan = planners.Find("server.power");
  REQUIRE(plan != nullptr);
  auto steps = (*plan)(JobToPlan{"j", "default", "server.power", R"({"server_ids":["s1","s2"]})",
                                 R"({"action":"PowerCycle"})"},
                       dir);
  REQUIRE(steps.ok());
  REQUIRE(steps->size() == 2);
  CHECK((*steps)[0].target == "idrac:127.0.1.1:8443");
  CHECK((*steps)[0].key == "server.power:127.0.1.1:8443");
  CHECK((*steps)[0].mutating);
  rapidjson::Document p;
  p.Parse((*steps)[1].params_json.c_str());
  CHECK(std::string(p["action"].GetString()) == "PowerCycle");
  CHECK(std::string(p["_bmc"]["credential_set_id"].GetString()) == "c1");
  CHECK_FALSE(p["_bmc"]["tls_verify"].GetBool());
  CHECK(dir.asked_scope == R"({"server_ids":["s1","s2"]})");

  rapidjson::Document arr;
  arr.Parse(StepsJson(*steps).c_str());
  REQUIRE(arr.IsArray());
  CHECK(arr.Size() == 2);
  CHECK(std::string(arr[1]["params"]["action"].GetString()) == "PowerCycle");
}

TEST_CASE("A scope with no servers and an unknown job type are clear failures", "[plan]") {
  auto planners = MakePlanners();
  FakeDirectory empty;
  auto none = (*planners.Find("server.refresh"))(
      JobToPlan{"j", "default", "server.refresh", R"({"all_servers":true})", "{}"}, empty);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == "plan.no_targets");
  CHECK(planners.Find("zfs.replicate") == nullptr);
}

}  // namespace
}  // namespace dcops::dispatcher
