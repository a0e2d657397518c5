// Log collection, configuration profiles and pushed packages against the simulated fleet.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include "log_entries.hpp"
#include "test_rig.hpp"

namespace dcops::idrac {
namespace {

using Kind = agent::StepOutcome::Kind;

const rapidjson::Value& LogOf(const rapidjson::Document& result, const std::string& name) {
  for (const auto& l : result["logs"].GetArray()) {
    if (name == l["log"].GetString()) return l;
  }
  FAIL("no " << name << " log in the result");
  return result;
}

TEST_CASE("Log times are compared in UTC whatever offset the BMC writes", "[logs]") {
  CHECK(EpochOf("2026-11-27T10:00:05Z") == EpochOf("2026-11-27T12:00:05+02:00"));
  CHECK(EpochOf("2026-11-27T10:00:05.123-05:00") == *EpochOf("2026-11-27T15:00:05Z"));
  CHECK(UtcText(*EpochOf("2019-09-05T12:38:12+02:00")) == "2019-09-05T10:38:12Z");
  CHECK_FALSE(EpochOf("2026-11-27 10:00:05"));
  CHECK_FALSE(EpochOf("2026-11-27T10:00:05+0200"));
  CHECK_FALSE(EpochOf("yesterday"));
}

TEST_CASE("Logs are collected from where the last collection stopped, across pages, capped", "[logs][net]") {
  WorkerRig rig("127.0.56.1", 2, 2);  // the second BMC runs older firmware (entries at Logs/Sel)
  for (const std::string address : {"127.0.56.1", "127.0.56.2"}) {
    INFO(address);
    auto& bmc = rig.Bmc(address);
    agent::RecordingStepContext first(rig.AssignmentFor(address, "server.logs", "{}"), SystemClock::Instance());
    auto out = rig.Run(first);
    REQUIRE(out.kind == Kind::kSucceeded);
    auto result = Parsed(out.result_json);
    const auto& sel = LogOf(result, "sel");
    REQUIRE(sel["entries"].Size() == 1);
    CHECK(std::string(sel["entries"][0]["message"].GetString()) == "Log cleared.");
    CHECK(std::string(sel["entries"][0]["created"].GetString()).back() == 'Z');  // normalised to UTC
    // The step's own login is in the Lifecycle log.
    CHECK(std::string(LogOf(result, "lifecycle")["entries"][0]["message_id"].GetString()) == "USR0030");
    const std::string cursor = R"({"sel":{"id":")" + std::string(sel["newest"]["id"].GetString()) + R"(","created":")" +
                               sel["newest"]["created"].GetString() + R"("}})";

    for (int i = 0; i < 120; ++i) bmc.AddLogEntry("sel", {"", "", "Critical", "", "Fan " + std::to_string(i) + " failed", "Fan", "Assert"});
    const long requests_before = bmc.counters().requests;
    agent::RecordingStepContext next(rig.AssignmentFor(address, "server.logs", R"({"logs":["sel"],"_logs":)" + cursor + "}"),
                                     SystemClock::Instance());
    out = rig.Run(next);
    REQUIRE(out.kind == Kind::kSucceeded);
    result = Parsed(out.result_json);
    const auto& again = LogOf(result, "sel");
    REQUIRE(again["entries"].Size() == 120);  // only the new ones, across three pages of 50
    CHECK(std::string(again["entries"][0]["message"].GetString()) == "Fan 119 failed");
    CHECK(std::string(again["entries"][119]["message"].GetString()) == "Fan 0 failed");
    CHECK(std::string(again["entries"][0]["severity"].GetString()) == "Critical");
    CHECK(std::string(again["newest"]["id"].GetString()) == "121");
    CHECK_FALSE(again["truncated"].GetBool());
    CHECK(result["logs"].Size() == 1);
    CHECK(bmc.counters().requests - requests_before <= 8);  // service discovery and three pages, not the whole log

    agent::RecordingStepContext capped(rig.AssignmentFor(address, "server.logs", R"({"logs":["sel"],"max_entries":30,"_logs":)" + cursor + "}"),
                                       SystemClock::Instance());
    out = rig.Run(capped);
    REQUIRE(out.kind == Kind::kSucceeded);
    result = Parsed(out.result_json);
    CHECK(LogOf(result, "sel")["entries"].Size() == 30);
    CHECK(LogOf(result, "sel")["truncated"].GetBool());
    CHECK(std::string(LogOf(result, "sel")["newest"]["id"].GetString()) == "121");
  }
}

TEST_CASE("Log collection refuses bad params and fails on a BMC answering garbage, naming the resource", "[logs][net]") {
  WorkerRig rig("127.0.56.5", 1);
  agent::RecordingStepContext bad(rig.AssignmentFor("127.0.56.5", "server.logs", R"({"logs":["audit"]})"), SystemClock::Instance());
  auto out = rig.Run(bad);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.message == "params.logs: 'audit' is not sel or lifecycle");
  agent::RecordingStepContext cursor(rig.AssignmentFor("127.0.56.5", "server.logs", R"({"_logs":{"sel":{"id":"1"}}})"),
                                     SystemClock::Instance());
  out = rig.Run(cursor);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.message.find("params._logs") == 0);

  sim::Faults f;
  f.mode = sim::Mode::kTruncated;
  rig.Bmc("127.0.56.5").SetFaults(f);
  agent::RecordingStepContext garbage(rig.AssignmentFor("127.0.56.5", "server.logs", "{}"), SystemClock::Instance());
  out = rig.Run(garbage);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.code == "redfish.schema");
  CHECK(out.error.message.find("/redfish/v1/Managers/iDRAC.Embedded.1/LogServices") != std::string::npos);
}

}  // namespace
}  // namespace dcops::idrac
