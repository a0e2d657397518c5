// host.maintenance and host.reboot against the vCenter simulator's tasks (DRS migrations that
// take time, stall and time out; reboots that disconnect the host), with a recording step
// context standing in for the dispatcher's stream.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <algorithm>
#include <thread>

#include "host_rig_test.hpp"
#include "maintenance_step.hpp"
#include "reboot_step.hpp"

namespace dcops::esxi {
namespace {

using agent::StepOutcome;
using namespace testing;  // NOLINT: the rig

TEST_CASE("Entering maintenance waits for DRS to move the VMs, proves it, and exiting brings the host back", "[maintenance][net]") {
  Rig rig("127.0.124.10");
  const std::string host = rig.hosts[0];
  REQUIRE(rig.VmsOn(host).size() == 3);
  agent::RecordingStepContext enter(rig.Assignment("host.maintenance", R"("action":"enter")", host), SystemClock::Instance());
  auto out = RunMaintenance(enter, rig.http);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  auto r = Json(out.result_json);
  CHECK(std::string(r["outcome"].GetString()) == "entered");
  CHECK(r["in_maintenance"].GetBool());
  CHECK(r["safety"]["verdicts"][0]["can_enter_maintenance"].GetBool());  // the check it made first
  CHECK(rig.Host(host).maintenance);
  CHECK(rig.VmsOn(host).empty());  // DRS moved every running VM
  CHECK(rig.model.MaintenanceEntries() == 1);
  const auto progress = enter.progress();
  CHECK(std::count_if(progress.begin(), progress.end(), [](int p) { return p > 20 && p < 95; }) >= 1);
  const auto checkpoints = enter.checkpoints();
  REQUIRE(checkpoints.size() == 2);
  CHECK(checkpoints[0].find(R"("phase":"sending")") != std::string::npos);  // written ahead
  CHECK(checkpoints[1].find(R"("task":")" + std::string(r["task"].GetString())) != std::string::npos);
  CHECK(rig.model.SessionCount() == 0);

  // Again: nothing to do, said so, and no second task.
  agent::RecordingStepContext again(rig.Assignment("host.maintenance", R"("action":"enter")", host), SystemClock::Instance());
  out = RunMaintenance(again, rig.http);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  CHECK(std::string(Json(out.result_json)["outcome"].GetString()) == "already_in_maintenance");
  CHECK(rig.model.MaintenanceEntries() == 1);

  agent::RecordingStepContext exit(rig.Assignment("host.maintenance", R"("action":"exit")", host), SystemClock::Instance());
  out = RunMaintenance(exit, rig.http);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  CHECK(std::string(Json(out.result_json)["outcome"].GetString()) == "exited");
  CHECK_FALSE(rig.Host(host).maintenance);
}

TEST_CASE("A host with a blocker is refused before anything is sent to vCenter", "[maintenance][net]") {
  Rig rig("127.0.124.11");
  const std::string host = rig.hosts[1];
  rig.EditVm(rig.VmsOn(host)[0], [](vc::Vm& vm) { vm.passthrough = 1; });
  agent::RecordingStepContext ctx(rig.Assignment("host.maintenance", R"("action":"enter")", host), SystemClock::Instance());
  auto out = RunMaintenance(ctx, rig.http);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "esxi.blocked");
  CHECK(out.error.message.find("passthrough") != std::string::npos);
  CHECK_FALSE(out.error.retryable);
  CHECK(rig.model.MaintenanceEntries() == 0);
  CHECK(ctx.checkpoints().empty());
  CHECK(Said(ctx, "nothing was sent to vCenter"));

  agent::RecordingStepContext bad(rig.Assignment("host.maintenance", R"("action":"enter","vsan_mode":"all")", host),
                                  SystemClock::Instance());
  out = RunMaintenance(bad, rig.http);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "step.bad_params");
  CHECK(out.error.message.find("vsan_mode") != std::string::npos);
}

TEST_CASE("An entry that stalls times out in vCenter and leaves the host out of maintenance, said clearly", "[maintenance][net]") {
  Rig rig("127.0.124.12");
  const std::string host = rig.hosts[2];
  // A broken vMotion: nothing in the inventory shows it, so the check lets the entry start.
  rig.EditVm(rig.VmsOn(host)[1], [](vc::Vm& vm) { vm.migration_stalls = true; });
  agent::RecordingStepContext ctx(rig.Assignment("host.maintenance", R"("action":"enter","timeout_seconds":60)", host),
                                  SystemClock::Instance());
  auto out = RunMaintenance(ctx, rig.http);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "esxi.maintenance_timeout");
  CHECK(out.error.message.find("did not enter maintenance within 60 s") != std::string::npos);
  CHECK(out.error.message.find("Operation timed out") != std::string::npos);
  CHECK(out.error.message.find("the host is not in maintenance") != std::string::npos);
  CHECK_FALSE(rig.Host(host).maintenance);
  CHECK(rig.model.MaintenanceEntries() == 1);
}

TEST_CASE("A rolling entry refuses a host someone else put in maintenance, where a plain entry says it is already in", "[maintenance][net]") {
  Rig rig("127.0.124.29");
  const std::string host = rig.hosts[2];
  rig.model.Edit(host, [](vc::Object& o) { std::get<vc::Host>(o.body).maintenance = true; });
  agent::RecordingStepContext rolling(
      rig.Assignment("host.maintenance", R"("action":"enter","_refuse_found_in_maintenance":true)", host), SystemClock::Instance());
  auto out = RunMaintenance(rolling, rig.http);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "esxi.found_in_maintenance");
  CHECK(out.error.message.find("nothing was sent") != std::string::npos);
  CHECK(rig.model.TasksOn(host).empty());
  agent::RecordingStepContext plain(rig.Assignment("host.maintenance", R"("action":"enter")", host), SystemClock::Instance());
  out = RunMaintenance(plain, rig.http);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  CHECK(std::string(Json(out.result_json)["outcome"].GetString()) == "already_in_maintenance");
}

TEST_CASE("An exit after a restart vCenter did not make waits for the host to reconnect, within its bound", "[maintenance][net]") {
  Rig rig("127.0.124.28");
  const std::string host = rig.hosts[1];
  rig.model.Edit(host, [](vc::Object& o) {
    auto& h = std::get<vc::Host>(o.body);
    h.maintenance = true;
    h.connection_state = "notResponding";  // its iDRAC restarted the server for a firmware update
  });
  // Not given a wait: refused at once, as before.
  agent::RecordingStepContext now(rig.Assignment("host.maintenance", R"("action":"exit")", host), SystemClock::Instance());
  auto out = RunMaintenance(now, rig.http);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "esxi.host_not_connected");

  // Given one: it waits (progress 8 says so), the host comes back, the exit goes through.
  agent::RecordingStepContext ctx(rig.Assignment("host.maintenance", R"("action":"exit","_wait_connected_seconds":60)", host),
                                  SystemClock::Instance());
  std::thread reconnect([&] {
    for (int i = 0; i < 2000; ++i) {
      const auto p = ctx.progress();
      if (std::find(p.begin(), p.end(), 8) != p.end()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling the step's progress, not a guess at timing
    }
    rig.model.Edit(host, [](vc::Object& o) { std::get<vc::Host>(o.body).connection_state = "connected"; });
  });
  out = RunMaintenance(ctx, rig.http);
  reconnect.join();
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  CHECK(Said(ctx, "reconnected to vCenter"));
  CHECK(std::string(Json(out.result_json)["outcome"].GetString()) == "exited");
  CHECK_FALSE(rig.Host(host).maintenance);

  // A host that stays away: the exit gives up after its bound and says why.
  rig.model.Edit(host, [](vc::Object& o) {
    auto& h = std::get<vc::Host>(o.body);
    h.maintenance = true;
    h.connection_state = "disconnected";
  });
  agent::RecordingStepContext away(rig.Assignment("host.maintenance", R"("action":"exit","_wait_connected_seconds":1)", host),
                                   SystemClock::Instance());
  out = RunMaintenance(away, rig.http);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "esxi.host_not_connected");
  CHECK(out.error.message.find("did not reconnect to vCenter within 1 s") != std::string::npos);
  CHECK(rig.Host(host).maintenance);
}

TEST_CASE("Cancelling a running entry cancels the vCenter task and leaves the host as it was", "[maintenance][net]") {
  Rig rig("127.0.124.13");
  const std::string host = rig.hosts[3];
  rig.EditVm(rig.VmsOn(host)[0], [](vc::Vm& vm) { vm.migration_stalls = true; });
  // Asked before anything is sent: nothing is.
  agent::RecordingStepContext early(rig.Assignment("host.maintenance", R"("action":"enter")", host), SystemClock::Instance());
  early.RequestCancel();
  auto out = RunMaintenance(early, rig.http);
  REQUIRE(out.kind == StepOutcome::Kind::kCancelled);
  CHECK(out.reason.find("before anything was sent") != std::string::npos);
  CHECK(rig.model.TasksOn(host).empty());

  // Asked while vCenter runs the entry (the cancel follows the task's creation in the model).
  agent::RecordingStepContext ctx(rig.Assignment("host.maintenance", R"("action":"enter")", host), SystemClock::Instance());
  std::thread canceller([&] {
    std::uint64_t seen = rig.model.version();
    while (rig.model.TasksOn(host).empty()) {
      rig.model.WaitForChange(seen, std::chrono::seconds(10));
      seen = rig.model.version();
    }
    ctx.RequestCancel();
  });
  out = RunMaintenance(ctx, rig.http);
  canceller.join();
  REQUIRE(out.kind == StepOutcome::Kind::kCancelled);
  CHECK(out.reason.find("out of maintenance, as it was") != std::string::npos);
  CHECK_FALSE(rig.Host(host).maintenance);
  const auto tasks = rig.model.TasksOn(host);
  REQUIRE(tasks.size() == 1);
  const vc::Task t = std::get<vc::Task>(rig.model.Get(tasks[0])->body);  // Get returns a copy
  CHECK(t.state == "error");
  CHECK(t.error_type == "RequestCanceled");
}

TEST_CASE("A retry after a lost attempt follows the entry its predecessor started: never a second entry", "[maintenance][net]") {
  Rig rig("127.0.124.14");
  const std::string host = rig.hosts[0];
  // The first attempt asked vCenter, and its "sent" checkpoint never reached the dispatcher
  // (the agent died): the retry has only "sending".
  agent::RecordingStepContext first(rig.Assignment("host.maintenance", R"("action":"enter")", host), SystemClock::Instance());
  first.FailCheckpointsFrom(1);
  auto out = RunMaintenance(first, rig.http);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  REQUIRE(rig.model.MaintenanceEntries() == 1);
  const auto next = first.NextAttempt();
  REQUIRE(next.checkpoint_json.find(R"("phase":"sending")") != std::string::npos);
  agent::RecordingStepContext retry(next, SystemClock::Instance());
  out = RunMaintenance(retry, rig.http);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  CHECK(rig.model.MaintenanceEntries() == 1);
  CHECK(rig.Host(host).maintenance);
  CHECK(Said(retry, "resuming"));
}

TEST_CASE("A reboot is refused outside maintenance, then proven by a disconnect and a new boot time", "[reboot][net]") {
  Rig rig("127.0.124.15");
  const std::string host = rig.hosts[1];
  agent::RecordingStepContext refused(rig.Assignment("host.reboot", "", host), SystemClock::Instance());
  auto out = RunReboot(refused, rig.http);
  REQUIRE(out.kind == StepOutcome::Kind::kFailed);
  CHECK(out.error.code == "esxi.not_in_maintenance");
  CHECK(rig.model.TasksOn(host).empty());

  for (const auto& vm : rig.VmsOn(host, false)) rig.EditVm(vm, [](vc::Vm& v) { v.power_state = "poweredOff"; });
  rig.model.SetMaintenance(host, true);
  const std::string boot_before = rig.Host(host).boot_time;
  agent::RecordingStepContext ctx(rig.Assignment("host.reboot", R"("timeout_seconds":120)", host), SystemClock::Instance());
  out = RunReboot(ctx, rig.http);
  INFO(out.error.message);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  auto r = Json(out.result_json);
  CHECK(std::string(r["boot_time_before"].GetString()) == boot_before);
  CHECK(std::string(r["boot_time_after"].GetString()) == rig.Host(host).boot_time);
  CHECK(rig.Host(host).boot_time != boot_before);
  CHECK(r["disconnect_seen"].GetBool());
  CHECK(rig.Host(host).connection_state == "connected");

  // A retry of that step (its checkpoint says "sent") sees the boot time moved: no second reboot.
  agent::RecordingStepContext retry(ctx.NextAttempt(), SystemClock::Instance());
  out = RunReboot(retry, rig.http);
  REQUIRE(out.kind == StepOutcome::Kind::kSucceeded);
  CHECK(rig.model.TasksOn(host).size() == 1);
}

}  // namespace
}  // namespace dcops::esxi
