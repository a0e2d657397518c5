// A rolling update's finalizers on the esxi-worker against the vCenter simulator: the settle
// (host.maintenance action "settle") and cluster.settings apply / restore.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include "cluster_settings_step.hpp"
#include "dcops/vsphere/watch.hpp"
#include "host_rig_test.hpp"
#include "maintenance_step.hpp"

namespace dcops::esxi {
namespace {

using agent::StepOutcome;
using namespace testing;  // NOLINT: the rig

// What the dispatcher tells a settle: its host's steps (the firmware's status and whether it had
// started; the exit's status) and whether the cluster's maintenance slot is the job's.
std::string Steps(const std::string& fw_status, bool fw_acted = true, const std::string& exit_status = "cancelled",
                  bool slot_held = true) {
  return R"("_finalizer":{"slot_held":)" + std::string(slot_held ? "true" : "false") +
         R"(,"steps":[{"key":"enter:esx","action":"enter","status":"succeeded","on_cancel":"stop","acted":true},)"
         R"({"key":"firmware:esx","status":")" + fw_status + R"(","on_cancel":"finish","acted":)" + (fw_acted ? "true" : "false") +
         R"(,"error_message":"the BMC answered an HTML page"},{"key":"exit:esx","action":"exit","on_cancel":"stop","status":")" +
         exit_status + R"("}]})";
}

void SetHost(Rig& rig, const std::string& host, bool maintenance, const char* connection) {
  rig.model.Edit(host, [&](vc::Object& o) {
    auto& h = std::get<vc::Host>(o.body);
    h.maintenance = maintenance;
    h.connection_state = connection;
  });
}

TEST_CASE("A settle brings a healthy host out of maintenance and leaves one whose update failed, saying why", "[settle][net]") {
  Rig rig("127.0.124.30");
  const std::string host = rig.hosts[2];
  auto settle = [&](const std::string& extra) {
    agent::RecordingStepContext ctx(rig.Assignment("host.maintenance", R"("action":"settle",)" + extra, host),
                                    SystemClock::Instance());
    auto out = RunMaintenance(ctx, rig.http);
    return std::make_pair(out, ctx.events());
  };

  SECTION("healthy, nothing failed (a cancel ended the rest): out of maintenance, proven") {
    SetHost(rig, host, true, "connected");
    auto [out, events] = settle(Steps("succeeded"));
    INFO(out.error.message);
    REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
    auto r = Json(out.result_json);
    CHECK(std::string(r["outcome"].GetString()) == "exited");
    CHECK(std::string(r["action"].GetString()) == "settle");
    CHECK_FALSE(r["in_maintenance"].GetBool());
    CHECK_FALSE(rig.Host(host).maintenance);
  }
  SECTION("a step of its update failed: left in maintenance with the reason, nothing sent") {
    SetHost(rig, host, true, "connected");
    auto [out, events] = settle(Steps("failed"));
    REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
    auto r = Json(out.result_json);
    CHECK(std::string(r["outcome"].GetString()) == "left_in_maintenance");
    CHECK(r["in_maintenance"].GetBool());
    CHECK(rig.Host(host).maintenance);
    CHECK(rig.model.TasksOn(host).empty());
    REQUIRE(events.size() == 1);
    CHECK(events[0].find("is left in maintenance: step firmware:esx failed (the BMC answered an HTML page)") != std::string::npos);
  }
  SECTION("it does not come back to vCenter: left in maintenance, not healthy") {
    SetHost(rig, host, true, "notResponding");
    auto [out, events] = settle(Steps("succeeded") + R"(,"_wait_connected_seconds":1)");
    REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
    CHECK(std::string(Json(out.result_json)["outcome"].GetString()) == "left_in_maintenance");
    CHECK(rig.Host(host).maintenance);
    CHECK(std::any_of(events.begin(), events.end(), [](const std::string& e) {
      return e.find("it is not healthy: ") != std::string::npos && e.find("did not reconnect to vCenter within 1 s") != std::string::npos;
    }));
  }
  SECTION("out of maintenance (a cancel stopped its entry in time): nothing to do") {
    SetHost(rig, host, false, "connected");
    auto [out, events] = settle(Steps("cancelled", false));
    REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
    CHECK(std::string(Json(out.result_json)["outcome"].GetString()) == "not_in_maintenance");
    CHECK(rig.model.TasksOn(host).empty());
  }
  SECTION("a firmware step that started and was not finished: left in maintenance") {
    SetHost(rig, host, true, "connected");
    auto [out, events] = settle(Steps("cancelled", true));
    REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
    CHECK(std::string(Json(out.result_json)["outcome"].GetString()) == "left_in_maintenance");
    CHECK(rig.Host(host).maintenance);
    REQUIRE(events.size() == 1);
    CHECK(events[0].find("step firmware:esx started and did not finish (cancelled)") != std::string::npos);
    // One that never started anything (cancelled while it waited) is no reason to stay.
    auto [clean, e2] = settle(Steps("cancelled", false));
    CHECK(std::string(Json(clean.result_json)["outcome"].GetString()) == "exited");
    CHECK_FALSE(rig.Host(host).maintenance);
  }
  SECTION("its exit succeeded: whatever the host is now is someone else's; nothing done or recorded") {
    SetHost(rig, host, true, "connected");  // another job's entry, after this job's exit
    auto [out, events] = settle(Steps("succeeded", true, "succeeded"));
    REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
    auto r = Json(out.result_json);
    CHECK(std::string(r["outcome"].GetString()) == "exited_before");
    CHECK_FALSE(r.HasMember("in_maintenance"));  // nothing for the dispatcher to record of the host
    CHECK(rig.Host(host).maintenance);
    CHECK(rig.model.TasksOn(host).empty());
  }
  SECTION("in maintenance, but the cluster's slot is not this job's: not taken out") {
    SetHost(rig, host, true, "connected");
    auto [out, events] = settle(Steps("succeeded", true, "cancelled", false));
    REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
    auto r = Json(out.result_json);
    CHECK(std::string(r["outcome"].GetString()) == "not_ours");
    CHECK_FALSE(r.HasMember("in_maintenance"));
    CHECK(rig.Host(host).maintenance);
    REQUIRE(events.size() == 1);
    CHECK(events[0].find("is in maintenance, but not through this job; left as it is") != std::string::npos);
  }
  SECTION("an entry that never reached vCenter: nothing to settle, vCenter not asked") {
    SetHost(rig, host, true, "connected");  // someone else's maintenance, as it happens
    const std::string never = R"("_finalizer":{"slot_held":false,"steps":[{"key":"enter:esx","action":"enter","status":"skipped",)"
                              R"("on_cancel":"stop","acted":false}]})";
    auto [out, events] = settle(never);
    REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
    auto r = Json(out.result_json);
    CHECK(std::string(r["outcome"].GetString()) == "never_entered");
    CHECK_FALSE(r.HasMember("in_maintenance"));
    CHECK(rig.Host(host).maintenance);
    CHECK(rig.model.TasksOn(host).empty());
  }
  SECTION("without the dispatcher's account of its host's steps and slot it does nothing") {
    SetHost(rig, host, true, "connected");
    auto [out, events] = settle(R"("_finalizer":{"steps":[]},"_wait_connected_seconds":1)");
    REQUIRE(out.kind == StepOutcome::Kind::kFailed);
    CHECK(out.error.code == "step.params");
    CHECK(rig.Host(host).maintenance);
  }
}

vc::Cluster ClusterOf(const Rig& rig) {
  return std::get<vc::Cluster>(rig.model.Objects("ClusterComputeResource").front().body);
}

TEST_CASE("Cluster settings: recorded before they change, proven after, and only the job's own values restored", "[settings][net]") {
  Rig rig("127.0.124.31");
  rig.model.Edit(rig.cluster, [](vc::Object& o) { std::get<vc::Cluster>(o.body).drs_behavior = "partiallyAutomated"; });
  const std::string wanted = R"("ha_admission_control":false,"drs_behavior":"fullyAutomated")";
  auto run = [&](const std::string& params, const std::string& checkpoint = "") {
    auto a = rig.Assignment("cluster.settings", params, "");
    a.target = "cluster:c1";
    a.checkpoint_json = checkpoint;
    agent::RecordingStepContext ctx(a, SystemClock::Instance());
    auto out = RunClusterSettings(ctx, rig.http);
    return std::make_tuple(out, ctx.events(), ctx.checkpoints());
  };

  auto [applied, events, checkpoints] = run(R"("action":"apply",)" + wanted);
  INFO(applied.error.message);
  REQUIRE(applied.kind == StepOutcome::Kind::kSucceeded);
  // What it found, saved before anything was sent.
  REQUIRE(checkpoints.size() == 1);
  CHECK(checkpoints[0] == R"({"before":{"ha_admission_control":true,"drs_behavior":"partiallyAutomated"}})");
  auto r = Json(applied.result_json);
  CHECK(r["changed"].Size() == 2);
  CHECK(r["before"]["ha_admission_control"].GetBool());
  CHECK_FALSE(ClusterOf(rig).admission_control);
  CHECK(ClusterOf(rig).drs_behavior == "fullyAutomated");
  CHECK(std::any_of(events.begin(), events.end(), [](const std::string& e) {
    return e.find("HA admission control on → off, DRS partiallyAutomated → fullyAutomated for this job") != std::string::npos;
  }));

  // A retry (the first attempt's agent died after the change) keeps what the first one found.
  auto [retried, e2, c2] = run(R"("action":"apply",)" + wanted, checkpoints[0]);
  REQUIRE(retried.kind == StepOutcome::Kind::kSucceeded);
  CHECK(std::string(Json(retried.result_json)["before"]["drs_behavior"].GetString()) == "partiallyAutomated");
  CHECK(Json(retried.result_json)["changed"].Size() == 0);
  CHECK(c2.empty());

  // Meanwhile someone sets DRS to manual: theirs now. Only admission control goes back.
  rig.model.Edit(rig.cluster, [](vc::Object& o) { std::get<vc::Cluster>(o.body).drs_behavior = "manual"; });
  const std::string before = R"("_finalizer":{"before":{"ha_admission_control":true,"drs_behavior":"partiallyAutomated"}})";
  auto [restored, e3, c3] = run(R"("action":"restore",)" + wanted + "," + before);
  INFO(restored.error.message);
  REQUIRE(restored.kind == StepOutcome::Kind::kSucceeded);
  auto rr = Json(restored.result_json);
  CHECK(rr["restored"].Size() == 1);
  CHECK(std::string(rr["restored"][0].GetString()) == "ha_admission_control");
  CHECK(std::string(rr["left"][0].GetString()) == "drs_behavior");
  CHECK(ClusterOf(rig).admission_control);
  CHECK(ClusterOf(rig).drs_behavior == "manual");
  CHECK(std::any_of(e3.begin(), e3.end(), [](const std::string& e) {
    return e.find("drs_behavior was changed outside this job while it ran; left as it is now") != std::string::npos;
  }));

  // Restored twice (a retry): nothing more to do.
  auto [again, e4, c4] = run(R"("action":"restore",)" + wanted + "," + before);
  REQUIRE(again.kind == StepOutcome::Kind::kSucceeded);
  CHECK(Json(again.result_json)["restored"].Size() == 0);

  // The apply never read the cluster: nothing was changed, nothing is touched.
  auto [nothing, e5, c5] = run(R"("action":"restore",)" + wanted + R"(,"_finalizer":{"before":null})");
  REQUIRE(nothing.kind == StepOutcome::Kind::kSucceeded);
  CHECK(Json(nothing.result_json)["restored"].Size() == 0);
  // A restore without the dispatcher's account refuses.
  auto [blind, e6, c6] = run(R"("action":"restore",)" + wanted);
  REQUIRE(blind.kind == StepOutcome::Kind::kFailed);
  CHECK(blind.error.code == "step.params");

  // HA turned off while the job ran: admission control is theirs now; left, said, not a failure.
  auto [applied2, e8, c8] = run(R"("action":"apply","ha_admission_control":false)");
  REQUIRE(applied2.kind == StepOutcome::Kind::kSucceeded);
  rig.model.Edit(rig.cluster, [](vc::Object& o) { std::get<vc::Cluster>(o.body).ha = false; });
  auto [ha_off, e9, c9] = run(R"("action":"restore","ha_admission_control":false,"_finalizer":{"before":{"ha_admission_control":true}})");
  INFO(ha_off.error.message);
  REQUIRE(ha_off.kind == StepOutcome::Kind::kSucceeded);
  CHECK(std::string(Json(ha_off.result_json)["left"][0].GetString()) == "ha_admission_control");
  CHECK_FALSE(ClusterOf(rig).admission_control);
  rig.model.Edit(rig.cluster, [](vc::Object& o) {
    auto& c = std::get<vc::Cluster>(o.body);
    c.ha = true;
    c.admission_control = true;
  });

  // DRS off: no level moves a VM, so none is "set"; refused before anything is recorded or sent.
  rig.model.Edit(rig.cluster, [](vc::Object& o) { std::get<vc::Cluster>(o.body).drs = false; });
  auto [off, e7, c7] = run(R"("action":"apply","drs_behavior":"fullyAutomated")");
  REQUIRE(off.kind == StepOutcome::Kind::kFailed);
  CHECK(off.error.code == "esxi.drs_disabled");
  CHECK(c7.empty());
  CHECK(ClusterOf(rig).drs_behavior == "manual");
}

TEST_CASE("The simulated vCenter refuses a reconfiguration vCenter would: untyped spec, elements out of order, modify false",
          "[settings][net]") {
  Rig rig("127.0.124.32");
  vsphere::Endpoint e;
  e.base_url = "https://" + rig.address + ":18451";
  e.username = "sync@vsphere.local";
  e.password = "vc-pass";
  e.tls.pinned_sha256 = rig.server.fingerprint();
  vsphere::Client vc(rig.http, e);
  REQUIRE(vc.Login().ok());
  const vsphere::MoRef cluster{"ClusterComputeResource", rig.cluster};
  auto untyped = vc.StartTask("ReconfigureComputeResource_Task", cluster,
                              "<spec><dasConfig><admissionControlEnabled>false</admissionControlEnabled></dasConfig></spec><modify>true</modify>");
  REQUIRE_FALSE(untyped.ok());
  CHECK(untyped.error().message.find("ClusterConfigSpecEx") != std::string::npos);
  auto reversed = vc.StartTask("ReconfigureComputeResource_Task", cluster,
                               R"(<spec xsi:type="ClusterConfigSpecEx"><drsConfig><defaultVmBehavior>manual</defaultVmBehavior></drsConfig>)"
                               "<dasConfig><admissionControlEnabled>false</admissionControlEnabled></dasConfig></spec><modify>true</modify>");
  REQUIRE_FALSE(reversed.ok());
  CHECK(reversed.error().message.find("Unexpected element dasConfig") != std::string::npos);
  auto replace = vc.StartTask("ReconfigureComputeResource_Task", cluster, R"(<spec xsi:type="ClusterConfigSpecEx"></spec><modify>false</modify>)");
  REQUIRE_FALSE(replace.ok());
  // Ours, in the order the WSDL gives, goes through.
  auto ours = vc.StartTask("ReconfigureComputeResource_Task", cluster, ReconfigureBody({false, "manual"}));
  INFO((ours.ok() ? std::string() : ours.error().message));
  REQUIRE(ours.ok());
  auto followed = vsphere::FollowTask(vc, *ours, SystemClock::Instance(), std::chrono::seconds(30), {}, {});
  REQUIRE(followed.ok());
  CHECK(followed->info.state == "success");
  CHECK_FALSE(ClusterOf(rig).admission_control);
  CHECK(ClusterOf(rig).drs_behavior == "manual");
  vc.Logout();
}

TEST_CASE("A cluster reconfiguration is the SOAP vim25 names: dasConfig before drsConfig, modify true", "[settings]") {
  CHECK(ReconfigureBody({false, "fullyAutomated"}) ==
        R"(<spec xsi:type="ClusterConfigSpecEx"><dasConfig><admissionControlEnabled>false</admissionControlEnabled></dasConfig>)"
        R"(<drsConfig><defaultVmBehavior>fullyAutomated</defaultVmBehavior></drsConfig></spec><modify>true</modify>)");
  CHECK(ReconfigureBody({std::nullopt, "manual"}).find("dasConfig") == std::string::npos);
  auto parsed = ParseClusterSettings(R"({"ha_admission_control":true})");
  REQUIRE(parsed.ok());
  CHECK(ClusterSettingsJson(*parsed) == R"({"ha_admission_control":true})");
  CHECK_FALSE(ParseClusterSettings(R"({"drs_behavior":"sometimes"})").ok());
}

}  // namespace
}  // namespace dcops::esxi
