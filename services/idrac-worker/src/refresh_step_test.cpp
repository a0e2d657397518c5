// server.refresh against the simulated fleet.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include "test_rig.hpp"

namespace dcops::idrac {
namespace {

TEST_CASE("A refresh reads identity, firmware and power into the upsert shape", "[refresh][net]") {
  WorkerRig rig("127.0.46.1", 2);
  for (const char* address : {"127.0.46.1", "127.0.46.2"}) {
    agent::RecordingStepContext ctx(rig.AssignmentFor(address, "server.refresh", "{}"),
                                    SystemClock::Instance());
    auto out = rig.Run(ctx);
    REQUIRE(out.kind == agent::StepOutcome::Kind::kSucceeded);
    rapidjson::Document d;
    d.Parse(out.result_json.c_str());
    REQUIRE(d.IsObject());
    const auto& id = rig.Bmc(address).identity();
    CHECK(std::string(d["service_tag"].GetString()) == id.service_tag);
    CHECK(std::string(d["model"].GetString()) == id.model);
    CHECK(std::string(d["bmc_firmware"].GetString()) == id.bmc_firmware);
    CHECK(std::string(d["bios_version"].GetString()) == id.bios_version);
    CHECK(std::string(d["power_state"].GetString()) == "On");
    CHECK(std::string(d["bmc_address"].GetString()) == std::string(address) + ":18443");
    CHECK(d["cpu_count"].GetInt() == id.cpu_count);
    CHECK(d["memory_gib"].GetDouble() == id.memory_gib);
  }
  CHECK(rig.Bmc("127.0.46.1").counters().sessions_created == 1);
  CHECK(rig.Bmc("127.0.46.1").counters().actions == 0);  // read-only
}

TEST_CASE("A refresh with wrong credentials fails without retrying the login", "[refresh][net]") {
  WorkerRig rig("127.0.47.1", 1);
  auto a = rig.AssignmentFor("127.0.47.1", "server.refresh", "{}");
  a.credentials.password = "wrong";
  agent::RecordingStepContext ctx(a, SystemClock::Instance());
  auto out = rig.Run(ctx);
  REQUIRE(out.kind == agent::StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "redfish.auth");
  CHECK_FALSE(out.error.retryable);
  CHECK(rig.Bmc("127.0.47.1").counters().unauthorized == 1);
}

}  // namespace
}  // namespace dcops::idrac
