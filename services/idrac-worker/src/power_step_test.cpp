// server.power against the simulated fleet.
#include <algorithm>
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <thread>

#include "test_rig.hpp"

namespace dcops::idrac {
namespace {

using Kind = agent::StepOutcome::Kind;

std::string Field(const std::string& json, const char* key) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  REQUIRE(d.IsObject());
  REQUIRE(d.HasMember(key));
  return d[key].IsString() ? d[key].GetString() : (d[key].GetBool() ? "true" : "false");
}

TEST_CASE("A restart is sent once, checkpointed, and waited out", "[power][net]") {
  WorkerRig rig("127.0.40.1", 1);
  agent::RecordingStepContext ctx(rig.AssignmentFor("127.0.40.1", "server.power",
                                                    R"({"action":"ForceRestart"})"),
                                  SystemClock::Instance());
  auto out = rig.Run(ctx);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(Field(out.result_json, "final_state") == "On");
  CHECK(Field(out.result_json, "acted") == "true");
  REQUIRE(ctx.checkpoints().size() == 2);
  CHECK(ctx.checkpoints()[0].rfind(R"({"phase":"sending","sent":"ForceRestart","then":"sent","reset_before":")", 0) == 0);
  // When the BMC accepted it (Unix seconds): a retry continues that wait.
  CHECK(ctx.checkpoints()[1].rfind(R"({"phase":"sent","sent":"ForceRestart","since":")", 0) == 0);
  CHECK(ctx.progress().back() == 100);
  CHECK(rig.Bmc("127.0.40.1").counters().effective_resets == 1);

  // The agent died after the BMC accepted: the retried step resumes, it does not reset again.
  agent::RecordingStepContext retry(ctx.NextAttempt(), SystemClock::Instance());
  auto again = rig.Run(retry);
  REQUIRE(again.kind == Kind::kSucceeded);
  CHECK(rig.Bmc("127.0.40.1").counters().effective_resets == 1);
  const auto events = retry.events();
  CHECK(std::any_of(events.begin(), events.end(), [](const std::string& e) {
    return e.find("resuming: ForceRestart was already sent") != std::string::npos;
  }));
  CHECK(std::any_of(events.begin(), events.end(), [](const std::string& e) {
    return e.find("continuing the wait begun") != std::string::npos;
  }));
}

TEST_CASE("An action whose checkpoint was lost is not sent twice", "[power][net]") {
  WorkerRig rig("127.0.48.1", 1);
  // The dispatcher went away right after the reset was POSTed: the checkpoint after it fails.
  agent::RecordingStepContext ctx(rig.AssignmentFor("127.0.48.1", "server.power", R"({"action":"PowerCycle"})"),
                                  SystemClock::Instance());
  ctx.FailCheckpointsFrom(1);
  auto out = rig.Run(ctx);
  REQUIRE(out.kind == Kind::kFailed);
  CHECK(out.error.retryable);
  CHECK(rig.Bmc("127.0.48.1").counters().effective_resets == 1);
  // The next attempt finds the write-ahead checkpoint, sees LastResetTime moved, and waits.
  agent::RecordingStepContext retry(ctx.NextAttempt(), SystemClock::Instance());
  auto again = rig.Run(retry);
  REQUIRE(again.kind == Kind::kSucceeded);
  CHECK(rig.Bmc("127.0.48.1").counters().effective_resets == 1);
  CHECK(retry.events().front() == "info: resuming: PowerCycle from an earlier attempt took effect");

  // The checkpoint ahead of the action failed: nothing was sent, and the retry sends it once.
  agent::RecordingStepContext early(rig.AssignmentFor("127.0.48.1", "server.power", R"({"action":"ForceRestart"})"),
                                    SystemClock::Instance());
  early.FailCheckpointsFrom(0);
  REQUIRE(rig.Run(early).kind == Kind::kFailed);
  CHECK(rig.Bmc("127.0.48.1").counters().effective_resets == 1);
  agent::RecordingStepContext fresh(early.NextAttempt(), SystemClock::Instance());
  REQUIRE(rig.Run(fresh).kind == Kind::kSucceeded);
  CHECK(rig.Bmc("127.0.48.1").counters().effective_resets == 2);
}

TEST_CASE("A state that already holds succeeds without acting", "[power][net]") {
  WorkerRig rig("127.0.41.1", 1);
  agent::RecordingStepContext ctx(rig.AssignmentFor("127.0.41.1", "server.power", R"({"action":"On"})"),
                                  SystemClock::Instance());
  auto out = rig.Run(ctx);
  REQUIRE(out.kind == Kind::kSucceeded);
  CHECK(Field(out.result_json, "acted") == "false");
  CHECK(Field(out.result_json, "note") == "already On; nothing to do");
  CHECK(rig.Bmc("127.0.41.1").counters().actions == 0);
}

TEST_CASE("Power off, then a power-on refused right after is snoozed, then done", "[power][net]") {
  WorkerRig rig("127.0.42.1", 1, /*legacy_every=*/1);  // firmware without PowerCycle
  auto& bmc = rig.Bmc("127.0.42.1");
  agent::RecordingStepContext ctx(rig.AssignmentFor("127.0.42.1", "server.power",
                                                    R"({"action":"PowerCycle"})"),
                                  SystemClock::Instance());
  auto first = rig.Run(ctx);
  REQUIRE(first.kind == Kind::kSnoozed);  // ForceOff done; On refused (409) within 60 s
  CHECK(first.reason.find("refused power-on right after power-off") != std::string::npos);
  CHECK(ctx.checkpoints().back() == R"({"phase":"off_done","sent":"ForceOff"})");
  CHECK(bmc.counters().resets_by_type.at("ForceOff") == 1);
  CHECK(bmc.counters().refused_actions == 1);

  // The snooze passes (the simulator's clock says the server has been off long enough).
  bmc.ForcePower(sim::Power::kOff, std::chrono::steady_clock::now());
  agent::RecordingStepContext retry(ctx.NextAttempt(), SystemClock::Instance());
  auto second = rig.Run(retry);
  REQUIRE(second.kind == Kind::kSucceeded);
  CHECK(Field(second.result_json, "emulated") == "true");
  CHECK(Field(second.result_json, "final_state") == "On");
  CHECK(bmc.counters().resets_by_type.at("ForceOff") == 1);  // not repeated
  CHECK(bmc.counters().resets_by_type.at("On") == 1);
}

TEST_CASE("A graceful shutdown the OS ignores times out, then forces off when asked", "[power][net]") {
  WorkerRig rig("127.0.43.1", 2);
  for (const char* a : {"127.0.43.1", "127.0.43.2"}) {
    sim::Faults f;
    f.ignores_graceful = true;
    rig.Bmc(a).SetFaults(f);
  }
  agent::RecordingStepContext strict(
      rig.AssignmentFor("127.0.43.1", "server.power",
                        R"({"action":"GracefulShutdown","graceful_timeout_seconds":1})"),
      SystemClock::Instance());
  auto failed = rig.Run(strict);
  REQUIRE(failed.kind == Kind::kFailed);
  CHECK(failed.error.code == "power.timeout");
  CHECK(failed.error.message.find("did not reach Off within 1 s") != std::string::npos);

  agent::RecordingStepContext forcing(
      rig.AssignmentFor("127.0.43.2", "server.power",
                        R"({"action":"GracefulShutdown","graceful_timeout_seconds":1,"force_after_timeout":true})"),
      SystemClock::Instance());
  auto forced = rig.Run(forcing);
  REQUIRE(forced.kind == Kind::kSucceeded);
  CHECK(Field(forced.result_json, "final_state") == "Off");
  CHECK(rig.Bmc("127.0.43.2").counters().resets_by_type.at("ForceOff") == 1);
}

TEST_CASE("Cancellation stops the wait at once", "[power][net]") {
  WorkerRig rig("127.0.44.1", 1);
  sim::Faults f;
  f.ignores_graceful = true;
  rig.Bmc("127.0.44.1").SetFaults(f);
  agent::RecordingStepContext ctx(
      rig.AssignmentFor("127.0.44.1", "server.power",
                        R"({"action":"GracefulShutdown","graceful_timeout_seconds":600})"),
      SystemClock::Instance());
  std::thread canceller([&ctx] {
    // Cancel once the step has sent its action (its checkpoint is the signal).
    while (ctx.checkpoints().empty()) std::this_thread::yield();
    ctx.RequestCancel();
  });
  auto out = rig.Run(ctx);
  canceller.join();
  CHECK(out.kind == Kind::kCancelled);
  CHECK(out.reason == "cancelled while waiting for Off");
}

TEST_CASE("Bad parameters, bad targets and broken BMC answers fail with clear errors", "[power][net]") {
  WorkerRig rig("127.0.45.1", 1);
  agent::RecordingStepContext bad(rig.AssignmentFor("127.0.45.1", "server.power", R"({"action":"Explode"})"),
                                  SystemClock::Instance());
  auto r1 = rig.Run(bad);
  REQUIRE(r1.kind == Kind::kFailed);
  CHECK(r1.error.message == "params.action: 'Explode' is not a power action");

  auto a = rig.AssignmentFor("127.0.45.1", "server.power", R"({"action":"On"})");
  a.target = "vcenter:127.0.45.1";
  agent::RecordingStepContext wrong(a, SystemClock::Instance());
  CHECK(rig.Run(wrong).error.code == "step.bad_target");

  sim::Faults f;
  f.mode = sim::Mode::kTruncated;
  rig.Bmc("127.0.45.1").SetFaults(f);
  agent::RecordingStepContext garbage(rig.AssignmentFor("127.0.45.1", "server.power", R"({"action":"On"})"),
                                      SystemClock::Instance());
  auto r3 = rig.Run(garbage);
  REQUIRE(r3.kind == Kind::kFailed);
  CHECK(r3.error.code == "redfish.schema");
  // The first authenticated read is the navigation's: the Systems collection.
  CHECK(r3.error.message.find("/redfish/v1/Systems: the BMC answered with malformed JSON") == 0);
}

}  // namespace
}  // namespace dcops::idrac
