// The idrac-worker's operations against the simulated fleet, success and failure paths.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <algorithm>

#include "test_rig.hpp"

namespace dcops::idrac {
namespace {

using Kind = agent::StepOutcome::Kind;

agent::StepOutcome RunStep(WorkerRig& rig, agent::RecordingStepContext& ctx) { return rig.Run(ctx); }

TEST_CASE("A credential test proves the password with a session it deletes again", "[ops][net]") {
  WorkerRig rig("127.0.52.1", 1);
  auto& bmc = rig.Bmc("127.0.52.1");
  agent::RecordingStepContext ok(rig.AssignmentFor("127.0.52.1", "server.credential_test", "{}"), SystemClock::Instance());
  auto out = RunStep(rig, ok);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(Parsed(out.result_json)["authenticated"].GetBool());
  CHECK(bmc.counters().sessions_created == 1);
  CHECK(bmc.SessionCount(std::chrono::steady_clock::now()) == 0);  // deleted, not cached
  CHECK(rig.sessions.size() == 0);

  auto a = rig.AssignmentFor("127.0.52.1", "server.credential_test", "{}");
  a.credentials.password = "not-the-password";
  agent::RecordingStepContext bad(a, SystemClock::Instance());
  auto refused = RunStep(rig, bad);
  REQUIRE(refused.kind == Kind::kFailed);
  CHECK(refused.error.code == "redfish.auth");
  CHECK_FALSE(refused.error.retryable);
  CHECK(refused.error.message.find("not-the-password") == std::string::npos);
}

TEST_CASE("An iDRAC reset is sent once, waited out while nothing listens, and ends healthy", "[ops][net]") {
  WorkerRig rig("127.0.52.2", 1);
  auto& bmc = rig.Bmc("127.0.52.2");
  agent::RecordingStepContext ctx(rig.AssignmentFor("127.0.52.2", "server.idrac_reset", "{}"), SystemClock::Instance());
  ctx.FailCheckpointsFrom(1);  // the dispatcher went away right after the reset was sent
  auto first = RunStep(rig, ctx);
  REQUIRE(first.kind == Kind::kFailed);
  CHECK(bmc.counters().idrac_resets == 1);

  agent::RecordingStepContext retry(ctx.NextAttempt(), SystemClock::Instance());
  auto out = RunStep(rig, retry);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(bmc.counters().idrac_resets == 1);  // resumed, not reset again
  CHECK(retry.events().front() == "info: resuming: the iDRAC reset from an earlier attempt took effect");
  CHECK(Parsed(out.result_json)["healthy_reads"].GetInt() == 3);
  CHECK_FALSE(bmc.Down(std::chrono::steady_clock::now()));
  // The session the worker held did not survive the restart: it logged in again.
  CHECK(bmc.counters().sessions_created == 2);
}

TEST_CASE("Clearing the job queue deletes the pending jobs and checks the queue is empty", "[ops][net]") {
  WorkerRig rig("127.0.52.3", 1);
  auto& bmc = rig.Bmc("127.0.52.3");
  std::string job;
  REQUIRE(bmc.SimpleUpdate("http://127.0.0.1/BIOS_8T4P1_WN64_1.13.2.EXE", std::chrono::steady_clock::now(), &job).status == 202);
  agent::RecordingStepContext ctx(rig.AssignmentFor("127.0.52.3", "server.job_queue_clear", "{}"), SystemClock::Instance());
  auto out = RunStep(rig, ctx);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(Parsed(out.result_json)["deleted"].GetInt() == 1);
  CHECK(bmc.Jobs(std::chrono::steady_clock::now()).empty());
  agent::RecordingStepContext again(rig.AssignmentFor("127.0.52.3", "server.job_queue_clear", "{}"), SystemClock::Instance());
  REQUIRE(RunStep(rig, again).kind == Kind::kSucceeded);
  CHECK(again.progress().back() == 100);
}

TEST_CASE("A one-time PXE boot is set and read back, a boot order is applied, bad targets are refused", "[ops][net]") {
  WorkerRig rig("127.0.52.4", 1);
  auto& bmc = rig.Bmc("127.0.52.4");
  agent::RecordingStepContext once(rig.AssignmentFor("127.0.52.4", "server.boot", R"({"mode":"once","target":"Pxe"})"),
                                   SystemClock::Instance());
  REQUIRE(RunStep(rig, once).kind == Kind::kSucceeded);
  CHECK(bmc.Boot().override_target == "Pxe");
  CHECK(bmc.Boot().override_enabled == "Once");

  agent::RecordingStepContext order(
      rig.AssignmentFor("127.0.52.4", "server.boot", R"({"mode":"persistent","boot_order":["Boot0005","Boot0003","Boot0004","Boot0006"]})"),
      SystemClock::Instance());
  REQUIRE(RunStep(rig, order).kind == Kind::kSucceeded);
  CHECK(bmc.Boot().order.front() == "Boot0005");

  agent::RecordingStepContext partial(
      rig.AssignmentFor("127.0.52.4", "server.boot", R"({"mode":"persistent","boot_order":["Boot0003"]})"), SystemClock::Instance());
  auto refused = RunStep(rig, partial);
  REQUIRE(refused.kind == Kind::kFailed);
  CHECK(refused.error.code == "redfish.bad_request");
  CHECK(refused.error.message.find("BootOrder") != std::string::npos);

  agent::RecordingStepContext odd(rig.AssignmentFor("127.0.52.4", "server.boot", R"({"mode":"once","target":"Diags"})"),
                                  SystemClock::Instance());
  auto unsupported = RunStep(rig, odd);
  REQUIRE(unsupported.kind == Kind::kFailed);
  CHECK(unsupported.error.code == "step.unsupported");
  CHECK(unsupported.error.message.find("cannot boot from 'Diags'") != std::string::npos);

  agent::RecordingStepContext none(rig.AssignmentFor("127.0.52.4", "server.boot", R"({"mode":"once"})"), SystemClock::Instance());
  auto missing = RunStep(rig, none);
  REQUIRE(missing.kind == Kind::kFailed);
  CHECK(missing.error.message == "params.target: is required unless boot_order is given");
}

TEST_CASE("Virtual media: insert, insert again (nothing to do), swap, boot once, eject, a missing image is refused", "[ops][net]") {
  // The second BMC runs older firmware that lists virtual media under the manager.
  WorkerRig rig("127.0.52.5", 2, 2);
  for (const char* address : {"127.0.52.5", "127.0.52.6"}) {
    auto& bmc = rig.Bmc(address);
    auto run = [&](const std::string& params) {
      agent::RecordingStepContext ctx(rig.AssignmentFor(address, "server.virtual_media", params), SystemClock::Instance());
      return RunStep(rig, ctx);
    };
    REQUIRE(run(R"({"action":"insert","image_url":"http://127.0.0.1/esxi-8.0.iso"})").kind == Kind::kSucceeded);
    CHECK(bmc.VirtualMedia()[0].image == "http://127.0.0.1/esxi-8.0.iso");
    const long actions = bmc.counters().actions;
    auto again = run(R"({"action":"insert","image_url":"http://127.0.0.1/esxi-8.0.iso"})");
    REQUIRE(again.kind == Kind::kSucceeded);
    CHECK(std::string(Parsed(again.result_json)["done"].GetString()) == "already inserted");
    CHECK(bmc.counters().actions == actions);
    REQUIRE(run(R"({"action":"insert","image_url":"http://127.0.0.1/esxi-8.0u2.iso","boot_once":true})").kind == Kind::kSucceeded);
    CHECK(bmc.VirtualMedia()[0].image == "http://127.0.0.1/esxi-8.0u2.iso");
    CHECK(bmc.counters().actions == actions + 2);  // eject, insert
    CHECK(bmc.Boot().override_target == "Cd");
    REQUIRE(run(R"({"action":"eject"})").kind == Kind::kSucceeded);
    CHECK_FALSE(bmc.VirtualMedia()[0].inserted);
    auto missing = run(R"({"action":"insert","image_url":"http://127.0.0.1/missing.iso"})");
    REQUIRE(missing.kind == Kind::kFailed);
    CHECK(missing.error.code == "redfish.bad_request");
    CHECK(missing.error.message.find("VRM0021") != std::string::npos);
  }
}

TEST_CASE("BIOS: read, pending until the next reset, applied now and verified, unknown names refused", "[ops][bios][net]") {
  WorkerRig rig("127.0.55.1", 1);
  auto& bmc = rig.Bmc("127.0.55.1");
  auto run = [&](const std::string& params) {
    agent::RecordingStepContext ctx(rig.AssignmentFor("127.0.55.1", "server.bios", params), SystemClock::Instance());
    return RunStep(rig, ctx);
  };
  auto read = run("{}");
  REQUIRE(read.kind == Kind::kSucceeded);
  CHECK(std::string(Parsed(read.result_json)["attributes"]["LogicalProc"].GetString()) == "Enabled");

  auto pending = run(R"({"attributes":{"LogicalProc":"Disabled"},"apply_time":"OnReset"})");
  REQUIRE(pending.kind == Kind::kSucceeded);
  CHECK(std::string(Parsed(pending.result_json)["state"].GetString()) == "pending");
  CHECK(bmc.PendingBios().at("LogicalProc") == "\"Disabled\"");
  CHECK(bmc.BiosAttributes().at("LogicalProc") == "\"Enabled\"");
  REQUIRE(bmc.ClearJobQueue("JID_CLEARALL").status == 200);

  auto now = run(R"({"attributes":{"MemTest":"Enabled","AcPwrRcvryUserDelay":120},"apply_time":"Immediate"})");
  REQUIRE(now.kind == Kind::kSucceeded);
  auto d = Parsed(now.result_json);
  CHECK(std::string(d["state"].GetString()) == "applied");
  CHECK(d["changed"]["AcPwrRcvryUserDelay"].GetInt() == 120);
  CHECK(bmc.BiosAttributes().at("MemTest") == "\"Enabled\"");
  CHECK(bmc.counters().effective_resets == 1);  // the iDRAC rebooted the host for the job

  const long actions = bmc.counters().actions;
  auto same = run(R"({"attributes":{"MemTest":"Enabled"},"apply_time":"Immediate"})");
  REQUIRE(same.kind == Kind::kSucceeded);
  CHECK(std::string(Parsed(same.result_json)["state"].GetString()) == "unchanged");
  auto unknown = run(R"({"attributes":{"TurboBoost":"Off"}})");
  REQUIRE(unknown.kind == Kind::kFailed);
  CHECK(unknown.error.message == "params.attributes.TurboBoost: the BIOS has no such attribute");
  CHECK(bmc.counters().actions == actions);  // neither sent anything
}

TEST_CASE("iDRAC settings: read, set what differs and read it back, refuse read-only, unknown and secret ones", "[ops][net]") {
  WorkerRig rig("127.0.55.2", 1);
  auto& bmc = rig.Bmc("127.0.55.2");
  auto run = [&](const std::string& params) {
    agent::RecordingStepContext ctx(rig.AssignmentFor("127.0.55.2", "server.idrac_settings", params), SystemClock::Instance());
    return RunStep(rig, ctx);
  };
  auto read = run("{}");
  REQUIRE(read.kind == Kind::kSucceeded);
  CHECK(std::string(Parsed(read.result_json)["attributes"]["Time.1.Timezone"].GetString()) == "UTC");
  auto set = run(R"({"attributes":{"NTPConfigGroup.1.NTPEnable":"Enabled","NTPConfigGroup.1.NTP1":"127.0.0.1","Time.1.Timezone":"UTC"}})");
  REQUIRE(set.kind == Kind::kSucceeded);
  auto changed = Parsed(set.result_json);
  CHECK(changed["changed"].MemberCount() == 2);  // the time zone was already UTC
  CHECK(bmc.IdracAttributes().at("NTPConfigGroup.1.NTP1") == "\"127.0.0.1\"");
  const long actions = bmc.counters().actions;
  REQUIRE(run(R"({"attributes":{"NTPConfigGroup.1.NTPEnable":"Enabled"}})").kind == Kind::kSucceeded);
  CHECK(bmc.counters().actions == actions);  // nothing to change, nothing sent

  auto read_only = run(R"({"attributes":{"Info.1.Version":"9.9"}})");
  REQUIRE(read_only.kind == Kind::kFailed);
  CHECK(read_only.error.code == "redfish.bad_request");
  CHECK(read_only.error.message.find("PropertyNotWritable") != std::string::npos);
  auto unknown = run(R"({"attributes":{"Nope.1.Thing":"x"}})");
  REQUIRE(unknown.kind == Kind::kFailed);
  CHECK(unknown.error.message == "params.attributes.Nope.1.Thing: the iDRAC has no such attribute");
  auto secret = run(R"({"attributes":{"Users.2.Password":"hunter2"}})");
  REQUIRE(secret.kind == Kind::kFailed);
  CHECK(secret.error.message ==
        "params.attributes: Users.2.Password is a secret: set it through a credential set, not in job parameters");
}

TEST_CASE("A BIOS update waits for a reboot, which the step sends once, then verifies the new version", "[ops][firmware][net]") {
  WorkerRig rig("127.0.53.1", 1);
  auto& bmc = rig.Bmc("127.0.53.1");
  const std::string before = bmc.FirmwareVersion(sim::kBiosComponent);
  agent::RecordingStepContext ctx(
      rig.AssignmentFor("127.0.53.1", "server.firmware_update",
                        R"({"method":"simple_update","image_uri":")" + rig.Image("BIOS_8T4P1_WN64_9.9.9.EXE") + "\"}"),
      SystemClock::Instance());
  auto out = RunStep(rig, ctx);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(bmc.FirmwareVersion(sim::kBiosComponent) == "9.9.9");
  auto d = Parsed(out.result_json);
  REQUIRE(d["updated"].Size() == 1);
  CHECK(std::string(d["updated"][0]["from"].GetString()) == before);
  CHECK(std::string(d["updated"][0]["to"].GetString()) == "9.9.9");
  CHECK(bmc.counters().effective_resets == 1);
  CHECK(bmc.Jobs(std::chrono::steady_clock::now()).size() == 1);
  const auto checkpoints = ctx.checkpoints();  // a copy: begin and end of one vector
  CHECK(std::any_of(checkpoints.begin(), checkpoints.end(),
                    [](const std::string& c) { return c.find(R"("phase":"rebooted")") != std::string::npos; }));
}

TEST_CASE("An iDRAC update survives the iDRAC restarting under it and logs in again", "[ops][firmware][net]") {
  WorkerRig rig("127.0.53.2", 1);
  auto& bmc = rig.Bmc("127.0.53.2");
  agent::RecordingStepContext ctx(
      rig.AssignmentFor("127.0.53.2", "server.firmware_update",
                        R"({"method":"simple_update","image_uri":")" +
                            rig.Image("iDRAC-with-Lifecycle-Controller_Firmware_1HY5M_WN64_7.99.00.00_A00.EXE") + "\"}"),
      SystemClock::Instance());
  auto out = RunStep(rig, ctx);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(bmc.FirmwareVersion(sim::kIdracComponent) == "7.99.00.00");
  CHECK(bmc.counters().effective_resets == 0);  // the host was not rebooted
  CHECK(bmc.counters().sessions_created >= 2);  // the restart dropped the session
}

TEST_CASE("A package the iDRAC rejects fails the step with its message, the same version is success", "[ops][firmware][net]") {
  WorkerRig rig("127.0.53.3", 1);
  auto& bmc = rig.Bmc("127.0.53.3");
  agent::RecordingStepContext bad(
      rig.AssignmentFor("127.0.53.3", "server.firmware_update", R"({"method":"simple_update","image_uri":")" + rig.Image("notes.txt", "release notes") + "\"}"),
      SystemClock::Instance());
  auto failed = RunStep(rig, bad);
  REQUIRE(failed.kind == Kind::kFailed);
  CHECK(failed.error.code == "firmware.job_failed");
  CHECK(failed.error.message.find("RED004: Unable to verify Update Package signature.") != std::string::npos);

  const std::string current = bmc.FirmwareVersion(sim::kIdracComponent);
  agent::RecordingStepContext same(
      rig.AssignmentFor("127.0.53.3", "server.firmware_update",
                        R"({"method":"simple_update","image_uri":")" + rig.Image("iDRAC_X_WN64_" + current + "_A00.EXE") + "\"}"),
      SystemClock::Instance());
  auto unchanged = RunStep(rig, same);
  REQUIRE(unchanged.kind == Kind::kSucceeded);
  CHECK(std::string(Parsed(unchanged.result_json)["state"].GetString()) == "unchanged");

}

TEST_CASE("An update staged for the next reset is left scheduled, a lost answer is adopted, not resent", "[ops][firmware][net]") {
  WorkerRig rig("127.0.53.4", 1);
  auto& bmc = rig.Bmc("127.0.53.4");
  agent::RecordingStepContext staged(
      rig.AssignmentFor("127.0.53.4", "server.firmware_update",
                        R"({"method":"simple_update","image_uri":")" + rig.Image("BIOS_8T4P1_WN64_9.9.9.EXE") + R"(","reboot":"next_reset"})"),
      SystemClock::Instance());
  auto out = RunStep(rig, staged);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(std::string(Parsed(out.result_json)["state"].GetString()) == "scheduled");
  CHECK(bmc.counters().effective_resets == 0);
  REQUIRE(bmc.ClearJobQueue("JID_CLEARALL").status == 200);

  // The POST went out, the checkpoint after it did not land: the retry adopts the BMC's job.
  agent::RecordingStepContext lost(
      rig.AssignmentFor("127.0.53.4", "server.firmware_update",
                        R"({"method":"simple_update","image_uri":")" + rig.Image("Network_Firmware_X_WN64_23.0.1.EXE") + "\"}"),
      SystemClock::Instance());
  lost.FailCheckpointsFrom(2);  // the versions before and the write-ahead land, the task does not
  REQUIRE(RunStep(rig, lost).kind == Kind::kFailed);
  REQUIRE(bmc.Jobs(std::chrono::steady_clock::now()).size() == 1);
  agent::RecordingStepContext retry(lost.NextAttempt(), SystemClock::Instance());
  auto resumed = RunStep(rig, retry);
  REQUIRE(resumed.kind == Kind::kSucceeded);
  CHECK(bmc.Jobs(std::chrono::steady_clock::now()).size() == 1);
  CHECK(retry.events().front().find("resuming: following /redfish/v1/Managers/iDRAC.Embedded.1/Jobs/JID_") != std::string::npos);
  CHECK(Parsed(resumed.result_json)["updated"].Size() == 4);  // one entry per NIC port
}

TEST_CASE("An update waits for a busy Lifecycle Controller and gives up with a retryable error", "[ops][firmware][net]") {
  WorkerRig rig("127.0.53.5", 1);
  rig.Bmc("127.0.53.5").SetLcStatus("NotReady");
  rig.deps.ops.lc_ready_timeout = std::chrono::milliseconds(300);
  agent::RecordingStepContext ctx(
      rig.AssignmentFor("127.0.53.5", "server.firmware_update",
                        R"({"method":"simple_update","image_uri":")" + rig.Image("BIOS_8T4P1_WN64_9.9.9.EXE") + "\"}"),
      SystemClock::Instance());
  auto out = RunStep(rig, ctx);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.code == "idrac.lc_not_ready");
  CHECK(out.error.retryable);
  CHECK(rig.Bmc("127.0.53.5").Jobs(std::chrono::steady_clock::now()).empty());
}

}  // namespace
}  // namespace dcops::idrac

namespace dcops::idrac {
namespace {

TEST_CASE("A retried wait continues from when the device accepted the action", "[support]") {
  FakeClock clock;
  const std::string since = UnixSecondsText(clock);
  CHECK(TimeLeft(clock, since, std::chrono::minutes(15)) == std::chrono::minutes(15));
  clock.Advance(std::chrono::minutes(10));
  CHECK(Ago(clock, since) == std::chrono::minutes(10));
  CHECK(TimeLeft(clock, since, std::chrono::minutes(15)) == std::chrono::minutes(5));
  clock.Advance(std::chrono::minutes(10));
  CHECK(TimeLeft(clock, since, std::chrono::minutes(15)) == std::chrono::milliseconds(0));  // never negative
  // No checkpointed time (an older checkpoint, or garbage): the whole wait.
  CHECK(TimeLeft(clock, "", std::chrono::minutes(15)) == std::chrono::minutes(15));
  CHECK(TimeLeft(clock, "12x", std::chrono::minutes(15)) == std::chrono::minutes(15));
  CHECK_FALSE(Ago(clock, "later"));
}

}  // namespace
}  // namespace dcops::idrac
