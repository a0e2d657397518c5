// discovery.scan against a simulated fleet with a non-Redfish server and empty addresses.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <map>

#include "test_rig.hpp"

namespace dcops::idrac {
namespace {

using Kind = agent::StepOutcome::Kind;

agent::Assignment ScanOf(const std::string& addresses_json, std::vector<agent::NamedCredentials> sets) {
  agent::Assignment a;
  a.task_id = "00000000-0000-0000-0000-0000000000dd";
  a.step_kind = "discovery.scan";
  a.target = "site:discovery/127.0.54.1+6";
  a.params_json = R"({"port":18443,"concurrency":4,"addresses":)" + addresses_json + "}";
  a.credential_sets = std::move(sets);
  return a;
}

TEST_CASE("A scan finds the BMCs, tells a web server from Redfish, and logs in with the first set that works", "[discovery][net]") {
  WorkerRig rig("127.0.54.1", 3, 0, 1);  // 127.0.54.4 is a switch's web UI
  agent::RecordingStepContext ctx(
      ScanOf(R"(["127.0.54.1","127.0.54.2","127.0.54.3","127.0.54.4","127.0.54.5","127.0.54.6"])",
             {{"id-wrong", "factory default", {"root", "not-calvin"}}, {"id-right", "site", {"root", "calvin"}}}),
      SystemClock::Instance());
  auto out = rig.Run(ctx);
  REQUIRE(out.kind == Kind::kSucceeded);
  rapidjson::Document d;
  d.Parse(out.result_json.c_str());
  CHECK(d["probed"].GetInt() == 6);
  CHECK(d["open"].GetInt() == 4);
  CHECK(d["not_redfish"].GetInt() == 1);
  CHECK(d["authenticated"].GetInt() == 3);
  REQUIRE(d["found"].Size() == 3);
  for (const auto& f : d["found"].GetArray()) {
    const std::string address = f["bmc_address"].GetString();
    const std::string ip = address.substr(0, address.find(':'));
    INFO(address);
    CHECK(address == ip + ":18443");
    CHECK(std::string(f["credential_set_id"].GetString()) == "id-right");
    CHECK(std::string(f["login"].GetString()) == "ok");
    CHECK(std::string(f["vendor"].GetString()) == "Dell");
    CHECK(std::string(f["service_tag"].GetString()) == rig.Bmc(ip).identity().service_tag);
    CHECK(std::string(f["tls_pin_sha256"].GetString()) == rig.fleet.FingerprintOf(ip));
    // One refused login for the wrong set, never more; the good session was deleted.
    CHECK(rig.Bmc(ip).counters().unauthorized == 1);
    CHECK(rig.Bmc(ip).SessionCount(std::chrono::steady_clock::now()) == 0);
  }
  CHECK(ctx.progress().back() == 100);
  CHECK(out.result_json.find("calvin") == std::string::npos);
}

TEST_CASE("A scan takes a service tag only from the root's Oem/Dell block: other makes report none", "[discovery][net]") {
  auto o = WorkerRig::Options("127.0.87.1", 3, 0, 0);
  o.vendor_every = {{2, sim::Vendor::kHpe}, {3, sim::Vendor::kGeneric}};
  WorkerRig rig(o);
  auto a = ScanOf(R"(["127.0.87.1","127.0.87.2","127.0.87.3"])", {});
  a.target = "site:discovery/127.0.87.1+3";
  agent::RecordingStepContext ctx(a, SystemClock::Instance());
  auto out = rig.Run(ctx);
  REQUIRE(out.kind == Kind::kSucceeded);
  auto d = Parsed(out.result_json);
  REQUIRE(d["found"].Size() == 3);
  std::map<std::string, const rapidjson::Value*> by_ip;
  for (const auto& f : d["found"].GetArray()) {
    const std::string address = f["bmc_address"].GetString();
    by_ip[address.substr(0, address.find(':'))] = &f;
  }
  const auto& dell = *by_ip.at("127.0.87.1");
  CHECK(std::string(dell["vendor"].GetString()) == "Dell");
  CHECK(std::string(dell["service_tag"].GetString()) == rig.Bmc("127.0.87.1").identity().service_tag);
  const auto& hpe = *by_ip.at("127.0.87.2");
  CHECK(std::string(hpe["vendor"].GetString()) == "HPE");
  CHECK(hpe["service_tag"].IsNull());  // not the SKU, not the serial number
  const auto& generic = *by_ip.at("127.0.87.3");
  CHECK(generic["vendor"].IsNull());  // the root names no vendor, and none is invented
  CHECK(generic["service_tag"].IsNull());
  CHECK(std::string(generic["uuid"].GetString()).size() == 36);
}

TEST_CASE("Without credential sets a scan still reports what it found, untried", "[discovery][net]") {
  WorkerRig rig("127.0.54.11", 1);
  agent::RecordingStepContext ctx(ScanOf(R"(["127.0.54.11"])", {}), SystemClock::Instance());
  auto out = rig.Run(ctx);
  REQUIRE(out.kind == Kind::kSucceeded);
  rapidjson::Document d;
  d.Parse(out.result_json.c_str());
  REQUIRE(d["found"].Size() == 1);
  CHECK(std::string(d["found"][0]["login"].GetString()) == "untried");
  CHECK(d["found"][0]["credential_set_id"].IsNull());
  CHECK(rig.Bmc("127.0.54.11").counters().sessions_created == 0);
}

TEST_CASE("A BMC at its session cap stops the scan from spending more logins on it", "[discovery][net]") {
  WorkerRig rig("127.0.54.21", 1);
  auto& bmc = rig.Bmc("127.0.54.21");
  for (int i = 0; i < 8; ++i) REQUIRE(bmc.CreateSession("root", std::chrono::steady_clock::now()));
  agent::RecordingStepContext ctx(ScanOf(R"(["127.0.54.21"])", {{"a", "a", {"root", "calvin"}}, {"b", "b", {"admin", "x"}}}),
                                  SystemClock::Instance());
  auto out = rig.Run(ctx);
  REQUIRE(out.kind == Kind::kSucceeded);
  rapidjson::Document d;
  d.Parse(out.result_json.c_str());
  REQUIRE(d["found"].Size() == 1);
  CHECK(std::string(d["found"][0]["login"].GetString()) == "error");
  CHECK(std::string(d["found"][0]["error"].GetString()).find("RAC0218") != std::string::npos);
  CHECK(bmc.counters().unauthorized == 0);  // set b was never tried
}

}  // namespace
}  // namespace dcops::idrac
