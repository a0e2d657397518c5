// server.refresh against the simulated fleet.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <set>

#include "redfish_target.hpp"
#include "refresh_step.hpp"
#include "test_rig.hpp"

namespace dcops::idrac {
namespace {

using Kind = agent::StepOutcome::Kind;

TEST_CASE("A refresh reads identity, firmware and power into the upsert shape", "[refresh][net]") {
  WorkerRig rig("127.0.46.1", 2);
  for (const char* address : {"127.0.46.1", "127.0.46.2"}) {
    agent::RecordingStepContext ctx(rig.AssignmentFor(address, "server.refresh", "{}"),
                                    SystemClock::Instance());
    auto out = rig.Run(ctx);
    REQUIRE(out.kind == Kind::kSucceeded);
    auto d = Parsed(out.result_json);
    const auto& id = rig.Bmc(address).identity();
    CHECK(std::string(d["service_tag"].GetString()) == id.service_tag);
    CHECK(std::string(d["model"].GetString()) == id.model);
    CHECK(std::string(d["bmc_firmware"].GetString()) == id.bmc_firmware);
    CHECK(std::string(d["bios_version"].GetString()) == id.bios_version);
    CHECK(std::string(d["power_state"].GetString()) == "On");
    CHECK(std::string(d["lc_state"].GetString()) == "Ready");
    CHECK(std::string(d["bmc_address"].GetString()) == std::string(address) + ":18443");
    CHECK(d["cpu_count"].GetInt() == id.cpu_count);
    CHECK(d["memory_gib"].GetDouble() == id.memory_gib);
  }
  CHECK(rig.Bmc("127.0.46.1").counters().sessions_created == 1);
  CHECK(rig.Bmc("127.0.46.1").counters().actions == 0);  // read-only
}

// A fleet whose BMC number n (from 1) is: 2 hpe, 3 supermicro, 4 generic, else Dell.
sim::FleetOptions MixedFleet(const std::string& first, int count) {
  auto o = WorkerRig::Options(first, count, 0, 0);
  o.vendor_every = {{2, sim::Vendor::kHpe}, {3, sim::Vendor::kSupermicro}, {4, sim::Vendor::kGeneric}};
  return o;
}

rapidjson::Document Refreshed(WorkerRig& rig, const std::string& address, std::string* json = nullptr) {
  agent::RecordingStepContext ctx(rig.AssignmentFor(address, "server.refresh", "{}"), SystemClock::Instance());
  auto out = rig.Run(ctx);
  INFO(out.error.message);
  REQUIRE(out.kind == Kind::kSucceeded);
  if (json != nullptr) *json = out.result_json;
  return Parsed(out.result_json);
}

TEST_CASE("A Dell's service tag comes from the root's OEM block (and its SKU), with its LC state", "[refresh][net]") {
  WorkerRig rig(MixedFleet("127.0.83.1", 1));
  const auto& id = rig.Bmc("127.0.83.1").identity();
  REQUIRE(id.vendor == sim::Vendor::kDell);
  auto d = Refreshed(rig, "127.0.83.1");
  CHECK(std::string(d["service_tag"].GetString()) == id.service_tag);
  CHECK(std::string(d["manufacturer"].GetString()) == "Dell Inc.");
  CHECK(std::string(d["serial_number"].GetString()) == id.serial);
  CHECK(std::string(d["lc_state"].GetString()) == "Ready");
}

TEST_CASE("HPE blades of one model share a SKU: no service_tag is sent, manufacturer and serial are", "[refresh][net]") {
  auto o = WorkerRig::Options("127.0.84.1", 2, 0, 0);
  o.vendor = sim::Vendor::kHpe;
  WorkerRig rig(o);
  std::set<std::string> serials;
  for (const char* address : {"127.0.84.1", "127.0.84.2"}) {
    std::string json;
    auto d = Refreshed(rig, address, &json);
    const auto& id = rig.Bmc(address).identity();
    REQUIRE(id.sku == "P19766-B21");
    CHECK_FALSE(d.HasMember("service_tag"));
    CHECK(json.find("P19766-B21") == std::string::npos);  // the part number is nobody's identity
    CHECK(std::string(d["manufacturer"].GetString()) == "HPE");
    CHECK(std::string(d["serial_number"].GetString()) == id.serial);
    CHECK(std::string(d["system_uuid"].GetString()) == id.uuid);
    CHECK(std::string(d["model"].GetString()) == "ProLiant DL360 Gen10");
    CHECK_FALSE(d.HasMember("lc_state"));  // no Dell LC service asked for (the BMC has none)
    serials.insert(d["serial_number"].GetString());
  }
  CHECK(serials.size() == 2);
}

TEST_CASE("A Supermicro whose serial is \"Default string\" refreshes and passes it through", "[refresh][net]") {
  WorkerRig rig(MixedFleet("127.0.85.1", 3));
  const auto& id = rig.Bmc("127.0.85.3").identity();
  REQUIRE(id.vendor == sim::Vendor::kSupermicro);
  auto d = Refreshed(rig, "127.0.85.3");
  CHECK_FALSE(d.HasMember("service_tag"));
  CHECK(std::string(d["manufacturer"].GetString()) == "Supermicro");
  CHECK(std::string(d["serial_number"].GetString()) == "Default string");  // the database discards it
  CHECK(std::string(d["system_uuid"].GetString()) == id.uuid);
  CHECK(d["processors"].Size() == rig.Bmc("127.0.85.3").inventory().processors.size());
}

TEST_CASE("A system without Model (DMTF's generic Contoso BMC) refreshes with a null model", "[refresh][net]") {
  WorkerRig rig(MixedFleet("127.0.86.1", 4));
  const auto& id = rig.Bmc("127.0.86.4").identity();
  REQUIRE(id.vendor == sim::Vendor::kGeneric);
  auto d = Refreshed(rig, "127.0.86.4");
  CHECK(d["model"].IsNull());
  CHECK_FALSE(d.HasMember("service_tag"));
  CHECK(std::string(d["manufacturer"].GetString()) == "Contoso");
  CHECK(std::string(d["serial_number"].GetString()) == id.serial);
}

TEST_CASE("A refresh reads every component list, equal to what the BMC holds", "[refresh][net]") {
  WorkerRig rig("127.0.49.1", 1);
  auto& bmc = rig.Bmc("127.0.49.1");
  bmc.SetDriveFailing(1, true);
  agent::RecordingStepContext ctx(rig.AssignmentFor("127.0.49.1", "server.refresh", "{}"), SystemClock::Instance());
  auto out = rig.Run(ctx);
  REQUIRE(out.kind == Kind::kSucceeded);
  auto d = Parsed(out.result_json);
  const sim::Inventory inv = bmc.inventory();
  REQUIRE(d["processors"].Size() == inv.processors.size());
  CHECK(d["processors"][0]["cores"].GetInt() == inv.processors[0].cores);
  REQUIRE(d["memory"].Size() == inv.dimms.size());
  CHECK(std::string(d["memory"][0]["serial_number"].GetString()) == inv.dimms[0].serial);
  CHECK(std::string(d["system_uuid"].GetString()) == bmc.identity().uuid);  // how vCenter hosts find their server
  REQUIRE(d["drives"].Size() == inv.drives.size());
  CHECK(d["drives"][1]["predicted_failure"].GetBool());
  CHECK(std::string(d["drives"][1]["health"].GetString()) == "Warning");
  CHECK(std::string(d["drives"][0]["controller"].GetString()) == inv.controller_id);
  REQUIRE(d["volumes"].Size() == 1);
  CHECK(d["volumes"][0]["drives"].Size() == 2);
  REQUIRE(d["nics"].Size() == inv.nics.size());
  CHECK(std::string(d["nics"][0]["mac_address"].GetString()) == inv.nics[0].mac);
  CHECK(std::string(d["nics"][0]["firmware_version"].GetString()) == "22.31.6");  // from the firmware list
  REQUIRE(d["firmware"].Size() == inv.firmware.size());
  CHECK(std::string(d["firmware"][0]["component_id"].GetString()) == "Installed-25227");
  CHECK(std::string(d["firmware"][0]["version"].GetString()) == inv.firmware[0].version);
  CHECK(ctx.progress().back() == 100);
}

TEST_CASE("Firmware without $expand is read member by member and gives the same inventory", "[refresh][net]") {
  // Every 2nd BMC runs old firmware: no $expand advertised, and the query is ignored.
  WorkerRig rig("127.0.50.1", 2, 2);
  REQUIRE(rig.Bmc("127.0.50.1").SupportsExpand());
  REQUIRE_FALSE(rig.Bmc("127.0.50.2").SupportsExpand());
  std::map<std::string, std::string> lists;
  std::map<std::string, long> requests;
  for (const char* address : {"127.0.50.1", "127.0.50.2"}) {
    rig.Bmc(address).ResetCounters();
    agent::RecordingStepContext ctx(rig.AssignmentFor(address, "server.refresh", R"({"components":["processors","memory","network"]})"),
                                    SystemClock::Instance());
    auto out = rig.Run(ctx);
    REQUIRE(out.kind == Kind::kSucceeded);
    auto d = Parsed(out.result_json);
    CHECK_FALSE(d.HasMember("drives"));  // not asked for: left untouched in the database
    CHECK_FALSE(d.HasMember("firmware"));
    lists[address] = std::to_string(d["processors"].Size()) + "/" + std::to_string(d["nics"].Size());
    requests[address] = rig.Bmc(address).counters().requests;
  }
  CHECK(lists["127.0.50.1"] == lists["127.0.50.2"]);
  // One GET per collection with $expand; the collection plus one GET per member without.
  const auto inv = rig.Bmc("127.0.50.2").inventory();
  const long members = static_cast<long>(inv.processors.size() + inv.dimms.size() + inv.nics.size());
  CHECK(requests["127.0.50.2"] - requests["127.0.50.1"] == members);
}

TEST_CASE("An unknown component in params fails before any request", "[refresh][net]") {
  WorkerRig rig("127.0.51.1", 1);
  rig.Bmc("127.0.51.1").ResetCounters();
  agent::RecordingStepContext ctx(rig.AssignmentFor("127.0.51.1", "server.refresh", R"({"components":["gpus"]})"),
                                  SystemClock::Instance());
  auto out = rig.Run(ctx);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.message == "params.components: unknown component 'gpus'");
  CHECK(rig.Bmc("127.0.51.1").counters().requests == 0);
}

TEST_CASE("A BMC answering HTML fails the refresh naming the resource", "[refresh][net]") {
  WorkerRig rig("127.0.51.2", 1);
  sim::Faults f;
  f.mode = sim::Mode::kHtml;
  rig.Bmc("127.0.51.2").SetFaults(f);
  agent::RecordingStepContext ctx(rig.AssignmentFor("127.0.51.2", "server.refresh", "{}"), SystemClock::Instance());
  auto out = rig.Run(ctx);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.code == "redfish.schema");
  CHECK(out.error.message == "/redfish/v1/Systems: the BMC answered with an HTML page instead of JSON");
}

TEST_CASE("A BMC that keeps failing opens its breaker: steps fail fast without touching it, then a trial closes it", "[refresh][breaker][net]") {
  WorkerRig rig("127.0.51.3", 1);
  auto& bmc = rig.Bmc("127.0.51.3");
  sim::Faults f;
  f.error_rate = 1.0;  // every request answered 503
  bmc.SetFaults(f);
  FakeClock clock;  // the breaker's time, moved by hand
  redfish::BreakerBoard board({5, std::chrono::seconds(30)});
  auto refresh = [&] {
    agent::RecordingStepContext ctx(rig.AssignmentFor("127.0.51.3", "server.refresh", R"({"components":[]})"),
                                    SystemClock::Instance());
    auto target = TargetFromAssignment(ctx.assignment());
    REQUIRE(target);
    redfish::Client client(rig.http, rig.sessions, *target, clock, &board);
    return RunRefresh(ctx, client);
  };
  for (int i = 0; i < 5; ++i) {
    auto out = refresh();
    REQUIRE(out.kind == Kind::kFailed);
    CHECK(out.error.code == "redfish.server_error");
  }
  const long requests = bmc.counters().requests;
  auto fast = refresh();
  REQUIRE(fast.kind == Kind::kFailed);
  CHECK(fast.error.code == "redfish.circuit_open");
  CHECK(fast.error.retryable);
  CHECK(fast.error.message.find("not contacted after 5 consecutive failures (last: HTTP 503); next try in 30 s") !=
        std::string::npos);
  CHECK(bmc.counters().requests == requests);
  // The BMC recovers; after the open period one trial goes through and closes the breaker.
  bmc.SetFaults(sim::Faults{});
  clock.Advance(std::chrono::seconds(30));
  CHECK(refresh().kind == Kind::kSucceeded);
  CHECK(refresh().kind == Kind::kSucceeded);
}

TEST_CASE("A refresh with wrong credentials fails without retrying the login", "[refresh][net]") {
  WorkerRig rig("127.0.47.1", 1);
  auto a = rig.AssignmentFor("127.0.47.1", "server.refresh", "{}");
  a.credentials.password = "wrong";
  agent::RecordingStepContext ctx(a, SystemClock::Instance());
  auto out = rig.Run(ctx);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.code == "redfish.auth");
  CHECK_FALSE(out.error.retryable);
  CHECK(rig.Bmc("127.0.47.1").counters().unauthorized == 1);
}

}  // namespace
}  // namespace dcops::idrac
