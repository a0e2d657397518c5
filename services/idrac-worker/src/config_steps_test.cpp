// Log collection, configuration profiles and pushed packages against the simulated fleet.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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
  CHECK(out.error.message == "params.logs: 'audit' is not sel, lifecycle, system or manager");
  agent::RecordingStepContext cursor(rig.AssignmentFor("127.0.56.5", "server.logs", R"({"_logs":{"sel":{"id":"1"}}})"),
                                     SystemClock::Instance());
  out = rig.Run(cursor);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.message.find("params._logs") == 0);

  // A page whose nextLink names itself: the step fails naming it, instead of counting the same
  // 80 entries again and again as new ("10000 new (truncated)" on a real BMC).
  sim::Faults loop;
  loop.looping_next_link = true;
  rig.Bmc("127.0.56.5").SetFaults(loop);
  agent::RecordingStepContext looping(rig.AssignmentFor("127.0.56.5", "server.logs", R"({"logs":["lifecycle"]})"),
                                      SystemClock::Instance());
  out = rig.Run(looping);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.code == "redfish.schema");
  CHECK(out.error.message.find("Members@odata.nextLink leads back to") != std::string::npos);

  sim::Faults f;
  f.mode = sim::Mode::kTruncated;
  rig.Bmc("127.0.56.5").SetFaults(f);
  agent::RecordingStepContext garbage(rig.AssignmentFor("127.0.56.5", "server.logs", "{}"), SystemClock::Instance());
  out = rig.Run(garbage);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.code == "redfish.schema");
  CHECK(out.error.message.find("/redfish/v1/Managers/iDRAC.Embedded.1") == 0);  // the manager, read first
}


// The step result's field as text.
std::string Field(const agent::StepOutcome& out, const char* key) { return Parsed(out.result_json)[key].GetString(); }

TEST_CASE("A profile exported from one server is previewed and imported on another, then changes nothing", "[scp][net]") {
  WorkerRig rig("127.0.57.1", 2);
  auto& source = rig.Bmc("127.0.57.1");
  auto& target = rig.Bmc("127.0.57.2");
  REQUIRE(source.PatchIdracAttributes({{"NTPConfigGroup.1.NTP1", "\"ntp.example\""}}).status == 200);

  agent::RecordingStepContext xml(rig.AssignmentFor("127.0.57.1", "server.scp_export", R"({"format":"XML","components":["IDRAC"]})"),
                                  SystemClock::Instance());
  auto exported = rig.Run(xml);
  REQUIRE(exported.kind == Kind::kSucceeded);
  const std::string idrac_only = Field(exported, "content");
  CHECK(idrac_only.find(R"(<Attribute Name="NTPConfigGroup.1#NTP1">ntp.example</Attribute>)") != std::string::npos);
  CHECK(idrac_only.find("BIOS.Setup.1-1") == std::string::npos);
  CHECK(Parsed(exported.result_json)["components"][0] == "IDRAC");

  agent::RecordingStepContext json(rig.AssignmentFor("127.0.57.1", "server.scp_export", R"({"format":"JSON"})"), SystemClock::Instance());
  exported = rig.Run(json);
  REQUIRE(exported.kind == Kind::kSucceeded);
  std::string profile = Field(exported, "content");
  // The operator's edit of the backup: a different boot mode.
  const auto at = profile.find(R"("Name":"BootMode","Value":"Uefi")");
  REQUIRE(at != std::string::npos);
  profile.replace(at, 32, R"("Name":"BootMode","Value":"Bios")");

  auto import = [&](const std::string& params) {
    rapidjson::Document p;
    p.Parse(params.c_str());
    rapidjson::Value scp(rapidjson::kObjectType);
    scp.AddMember("format", "JSON", p.GetAllocator());
    scp.AddMember("content", rapidjson::Value(profile.c_str(), p.GetAllocator()), p.GetAllocator());
    p.AddMember("backup_id", "00000000-0000-0000-0000-0000000000b1", p.GetAllocator());
    p.AddMember("_scp", scp, p.GetAllocator());
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    p.Accept(w);
    return rig.AssignmentFor("127.0.57.2", "server.scp_import", buf.GetString());
  };
  agent::RecordingStepContext preview(import(R"({"preview_only":true})"), SystemClock::Instance());
  auto out = rig.Run(preview);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(Field(out, "state") == "previewed");
  CHECK(Field(out, "message_id").find("SYS081") != std::string::npos);
  CHECK(target.BiosAttributes()["BootMode"] == "\"Uefi\"");  // a preview changes nothing

  agent::RecordingStepContext apply(import(R"({"shutdown_type":"Graceful","end_power_state":"On"})"), SystemClock::Instance());
  out = rig.Run(apply);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(Field(out, "state") == "applied");
  CHECK(target.BiosAttributes()["BootMode"] == "\"Bios\"");  // through the host's reboot
  CHECK(target.IdracAttributes()["NTPConfigGroup.1.NTP1"] == "\"ntp.example\"");
  CHECK(target.counters().effective_resets == 1);
  // The checkpoint was written ahead of the import.
  CHECK(apply.checkpoints().size() >= 2);
  CHECK(Parsed(apply.checkpoints().front())["phase"] == "sending");

  agent::RecordingStepContext again(import("{}"), SystemClock::Instance());
  out = rig.Run(again);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(Field(out, "state") == "unchanged");
  CHECK(target.counters().effective_resets == 1);
}

TEST_CASE("A profile import: a truncated backup fails its preview, NoReboot stages, a lost answer is adopted", "[scp][net]") {
  WorkerRig rig("127.0.57.5", 1);
  auto& bmc = rig.Bmc("127.0.57.5");
  auto assignment = [&](const std::string& content, const std::string& extra) {
    rapidjson::Document p(rapidjson::kObjectType);
    auto& a = p.GetAllocator();
    rapidjson::Value scp(rapidjson::kObjectType);
    scp.AddMember("format", "XML", a);
    scp.AddMember("content", rapidjson::Value(content.c_str(), a), a);
    p.AddMember("backup_id", "00000000-0000-0000-0000-0000000000b2", a);
    p.AddMember("shutdown_type", rapidjson::Value(extra.c_str(), a), a);
    p.AddMember("_scp", scp, a);
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    p.Accept(w);
    return rig.AssignmentFor("127.0.57.5", "server.scp_import", buf.GetString());
  };
  const std::string profile = R"(<SystemConfiguration><Component FQDD="BIOS.Setup.1-1"><Attribute Name="NumLock">Off</Attribute></Component></SystemConfiguration>)";
  agent::RecordingStepContext cut(assignment(profile.substr(0, 70), "Graceful"), SystemClock::Instance());
  auto out = rig.Run(cut);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.code == "scp.preview_failed");
  CHECK(out.error.message.find("SYS041") != std::string::npos);
  CHECK(bmc.counters().effective_resets == 0);

  agent::RecordingStepContext staged(assignment(profile, "NoReboot"), SystemClock::Instance());
  out = rig.Run(staged);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(Field(out, "state") == "staged");
  CHECK(bmc.PendingBios()["NumLock"] == "\"Off\"");
  CHECK(bmc.counters().effective_resets == 0);

  // An earlier attempt's import went out but its answer was lost: the retry follows that job.
  const long actions = bmc.counters().actions;
  auto retry = assignment(profile, "NoReboot");
  retry.checkpoint_json = R"({"phase":"sending"})";
  agent::RecordingStepContext adopted(retry, SystemClock::Instance());
  out = rig.Run(adopted);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(Field(out, "state") == "staged");
  CHECK(bmc.counters().actions == actions);  // nothing sent again

  agent::RecordingStepContext missing(rig.AssignmentFor("127.0.57.5", "server.scp_import", R"({"backup_id":"x"})"), SystemClock::Instance());
  out = rig.Run(missing);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.message.find("params._scp") == 0);
}

}  // namespace
}  // namespace dcops::idrac
