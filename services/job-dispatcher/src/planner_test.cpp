#include "planner.hpp"
#include "plan_pending.hpp"

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
  std::vector<std::string> sets{"set-a", "set-b"};
  // An address whose last octet is at least this is outside set-b's scope.
  int set_b_below = 256;
  Result<std::vector<std::vector<std::string>>> DiscoverySets(
      const std::vector<std::string>& addresses, const std::optional<std::vector<std::string>>& job_sets) override {
    asked_job_sets = job_sets;
    std::vector<std::vector<std::string>> out;
    for (const auto& address : addresses) {
      std::vector<std::string> list;
      for (const auto& id : job_sets ? *job_sets : sets) {
        if (id != "set-b" || std::stoi(address.substr(address.rfind('.') + 1)) < set_b_below) list.push_back(id);
      }
      out.push_back(std::move(list));
    }
    return out;
  }
  std::optional<std::vector<std::string>> asked_job_sets;
  Result<std::optional<RollingCluster>> RollingHosts(const std::string&, const std::string&) override {
    return std::optional<RollingCluster>();
  }
};

TEST_CASE("A power job plans one step per BMC, carrying how to reach it", "[plan]") {
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

TEST_CASE("A boot job that asks for a reboot plans a graceful restart after each boot step", "[plan]") {
  auto planners = MakePlanners();
  FakeDirectory dir;
  dir.servers = {{"s1", "127.0.1.1:8443", "c1", true, ""}};
  auto steps = (*planners.Find("server.boot"))(
      JobToPlan{"j", "default", "server.boot", R"({"server_ids":["s1"]})", R"({"mode":"once","target":"Pxe","reboot":true})"},
      dir);
  REQUIRE(steps.ok());
  REQUIRE(steps->size() == 2);
  CHECK((*steps)[1].kind == "server.power");
  CHECK((*steps)[1].depends_on == std::vector<std::string>{"server.boot:127.0.1.1:8443"});
  rapidjson::Document p;
  p.Parse((*steps)[1].params_json.c_str());
  CHECK(std::string(p["action"].GetString()) == "GracefulRestart");
  CHECK(p["force_after_timeout"].GetBool());
  CHECK(std::string(p["_bmc"]["server_id"].GetString()) == "s1");
  auto no_reboot = (*planners.Find("server.boot"))(
      JobToPlan{"j", "default", "server.boot", R"({"server_ids":["s1"]})", R"({"mode":"once","target":"Pxe"})"}, dir);
  REQUIRE(no_reboot.ok());
  CHECK(no_reboot->size() == 1);
}

TEST_CASE("A discovery scan is split into parts, each with the credential sets to try in order", "[plan]") {
  auto planners = MakePlanners();
  FakeDirectory dir;
  auto steps = (*planners.Find("discovery.scan"))(
      JobToPlan{"j", "default", "discovery.scan", R"({"ranges":["127.0.80.0/24","127.0.81.1-127.0.81.10"]})",
                R"({"concurrency":16})"},
      dir);
  REQUIRE(steps.ok());
  REQUIRE(steps->size() == 2);  // 254 + 10 addresses, 256 per part
  CHECK_FALSE(dir.asked_job_sets.has_value());
  CHECK((*steps)[0].kind == "discovery.scan");
  CHECK((*steps)[0].target == "site:discovery/127.0.80.1+256");
  rapidjson::Document p;
  p.Parse((*steps)[1].params_json.c_str());
  CHECK(p["addresses"].Size() == 8);
  CHECK(std::string(p["addresses"][0].GetString()) == "127.0.81.3");
  CHECK(p["concurrency"].GetInt() == 16);
  CHECK(std::string(p["_discovery"]["credential_set_ids"][1].GetString()) == "set-b");
  // Sets the job names win over the site's list.
  auto named = (*planners.Find("discovery.scan"))(
      JobToPlan{"j", "default", "discovery.scan", R"({"ranges":["127.0.80.1"]})", R"({"credential_set_ids":["only"]})"}, dir);
  REQUIRE(named.ok());
  rapidjson::Document q;
  q.Parse((*named)[0].params_json.c_str());
  CHECK(q["_discovery"]["credential_set_ids"].Size() == 1);
  CHECK(dir.asked_job_sets == std::vector<std::string>{"only"});
  auto bad = (*planners.Find("discovery.scan"))(JobToPlan{"j", "default", "discovery.scan", R"({"ranges":["x"]})", "{}"}, dir);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "target_scope.ranges: x is not an IPv4 address, range or CIDR block");
}

TEST_CASE("Discovery parts never mix addresses a scoped set may and may not be tried on", "[plan]") {
  auto planners = MakePlanners();
  FakeDirectory dir;
  dir.set_b_below = 100;  // set-b is scoped to .1-.99
  auto steps = (*planners.Find("discovery.scan"))(
      JobToPlan{"j", "default", "discovery.scan", R"({"ranges":["127.0.80.90-127.0.80.110"]})", "{}"}, dir);
  REQUIRE(steps.ok());
  REQUIRE(steps->size() == 2);
  CHECK((*steps)[0].target == "site:discovery/127.0.80.90+10");
  CHECK((*steps)[1].target == "site:discovery/127.0.80.100+11");
  rapidjson::Document first, second;
  first.Parse((*steps)[0].params_json.c_str());
  second.Parse((*steps)[1].params_json.c_str());
  CHECK(first["_discovery"]["credential_set_ids"].Size() == 2);
  REQUIRE(second["_discovery"]["credential_set_ids"].Size() == 1);
  CHECK(std::string(second["_discovery"]["credential_set_ids"][0].GetString()) == "set-a");
  CHECK(std::string(second["addresses"][0].GetString()) == "127.0.80.100");
}

TEST_CASE("A credential test runs with the credential set under test", "[plan]") {
  auto planners = MakePlanners();
  FakeDirectory dir;
  dir.servers = {{"s1", "127.0.1.1:8443", "server-own-set", true, ""}};
  auto steps = (*planners.Find("server.credential_test"))(
      JobToPlan{"j", "default", "server.credential_test", R"({"server_ids":["s1"]})",
                R"({"credential_set_id":"00000000-0000-0000-0000-000000000042"})"},
      dir);
  REQUIRE(steps.ok());
  rapidjson::Document p;
  p.Parse((*steps)[0].params_json.c_str());
  CHECK(std::string(p["_bmc"]["credential_set_id"].GetString()) == "00000000-0000-0000-0000-000000000042");
}

TEST_CASE("A scope with no servers and an unknown job type are clear failures", "[plan]") {
  auto planners = MakePlanners();
  FakeDirectory empty;
  auto none = (*planners.Find("server.refresh"))(
      JobToPlan{"j", "default", "server.refresh", R"({"all_servers":true})", "{}"}, empty);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == "plan.no_targets");
  CHECK(planners.Find("no.such_type") == nullptr);
}

TEST_CASE("A sync job plans one step on its endpoint and refuses a scope without one", "[plan]") {
  auto planners = MakePlanners();
  FakeDirectory dir;
  const std::string id = "3f1d2a6e-0000-4000-8000-00000000000a";
  auto steps = (*planners.Find("inventory.vcenter_sync"))(
      JobToPlan{"j", "default", "inventory.vcenter_sync", R"({"vcenter_id":")" + id + R"(","site":"default"})",
                R"({"page_size":500})"},
      dir);
  REQUIRE(steps.ok());
  REQUIRE(steps->size() == 1);
  CHECK((*steps)[0].target == "vcenter:" + id);
  CHECK((*steps)[0].kind == "inventory.vcenter_sync");
  rapidjson::Document params;
  params.Parse((*steps)[0].params_json.c_str());
  CHECK(params["page_size"].GetInt() == 500);
  CHECK(std::string(params["_endpoint"]["id"].GetString()) == id);

  auto ome = (*planners.Find("inventory.ome_sync"))(
      JobToPlan{"j", "default", "inventory.ome_sync", R"({"ome_endpoint_id":")" + id + R"("})", "{}"}, dir);
  REQUIRE(ome.ok());
  CHECK((*ome)[0].target == "ome:" + id);

  auto bad = (*planners.Find("inventory.ome_sync"))(
      JobToPlan{"j", "default", "inventory.ome_sync", R"({"ome_endpoint_id":"x; rm -rf /"})", "{}"}, dir);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == R"(inventory.ome_sync takes {"ome_endpoint_id": "<uuid>"})");
}

}  // namespace
}  // namespace dcops::dispatcher

namespace dcops::dispatcher {
namespace {

TEST_CASE("Planning runs when woken, every poll, and again at once while a pass takes a full batch", "[planner]") {
  using std::chrono::milliseconds;
  PlanCadence cadence(milliseconds(1000));
  const PlanCadence::Time t0{};
  CHECK(cadence.Due(t0, false));  // never planned yet
  cadence.Planned(3, t0);
  CHECK_FALSE(cadence.Due(t0 + milliseconds(50), false));
  CHECK(cadence.Due(t0 + milliseconds(50), true));    // a NOTIFY
  CHECK(cadence.Due(t0 + milliseconds(1000), false));  // the poll
  // A full batch: more may be pending, and no NOTIFY will say so.
  cadence.Planned(kPlanBatch, t0 + milliseconds(1000));
  CHECK(cadence.Due(t0 + milliseconds(1001), false));
  cadence.Planned(kPlanBatch - 1, t0 + milliseconds(1001));  // the backlog is planned
  CHECK_FALSE(cadence.Due(t0 + milliseconds(1002), false));
}

}  // namespace
}  // namespace dcops::dispatcher
