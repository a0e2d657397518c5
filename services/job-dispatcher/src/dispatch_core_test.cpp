// The dispatch core without a network or a database (fakes in dispatch_core_fakes.hpp):
// agents' arrival and fencing, results, failures, heartbeats, demotion, step-ending writes the
// database could not take. The claiming round is tested in dispatch_claims_test.cpp.
#include <catch2/catch.hpp>

#include "dispatch_core_fakes.hpp"

namespace dcops::dispatcher {
namespace {

using namespace core_fakes;  // NOLINT: the fakes are this file's vocabulary

TEST_CASE(
    "Core: an agent is registered and welcomed, and a second connection under its id fences the "
    "first",
    "[dispatch_core]") {
  Rig rig;
  auto [first, first_link] = rig.Connect("worker-a");
  CHECK(Called(rig.port, "RegisterAgent worker-a"));
  REQUIRE(first_link->sent.size() == 1);
  CHECK(first_link->sent[0].welcome().dispatcher_id() == "d1");
  CHECK(first_link->sent[0].welcome().heartbeat_interval_ms() == 1000);
  auto [second, second_link] = rig.Connect("worker-a");
  CHECK(first_link->cancelled == 1);
  CHECK_FALSE(first->alive());
  CHECK(rig.core.agents() == 1);
  // The old connection's end does not unregister the new one.
  rig.core.OnGone(rig.port, first);
  CHECK(rig.core.agents() == 1);
  CHECK_FALSE(Called(rig.port, "AgentDisconnected worker-a"));
  rig.core.OnGone(rig.port, second);
  CHECK(rig.core.agents() == 0);
  CHECK(Called(rig.port, "AgentDisconnected worker-a"));
}

TEST_CASE(
    "Core: a success is completed and frees its slot, and a result from an agent without the lease "
    "is refused",
    "[dispatch_core]") {
  Rig rig;
  auto [agent, link] = rig.Connect("worker-a");
  auto [other, other_link] = rig.Connect("worker-b");
  const auto s = Step("t1", "idrac:127.0.0.2");
  rig.port.claimable = {s};
  rig.core.AssignWork(rig.port);
  REQUIRE(rig.core.running() == 1);
  const std::string holder = rig.core.running_steps().at("t1").agent_id;
  auto& stranger = holder == "worker-a" ? *other : *agent;
  auto& owner = holder == "worker-a" ? *agent : *other;

  CHECK(rig.core.OnMessage(rig.port, stranger, Rig::ResultOf(s, pb::Result::SUCCEEDED)));
  CHECK(rig.core.running() == 1);  // still the holder's
  CHECK(rig.core.pending().completions().empty());
  REQUIRE(rig.core.pending().events().size() == 1);
  CHECK(rig.core.pending().events()[0].message.find("does not hold this step's lease") !=
        std::string::npos);

  CHECK(rig.core.OnMessage(rig.port, owner, Rig::ResultOf(s, pb::Result::SUCCEEDED)));
  CHECK(Called(rig.port, "RecordResult server.power t1"));
  CHECK(rig.core.running() == 0);
  REQUIRE(rig.core.pending().completions().size() == 1);
  CHECK(rig.core.pending().completions()[0].task_id == "t1");
  CHECK(rig.core.limits().CanStart("idrac:127.0.0.2", true));
}

TEST_CASE(
    "Core: a failed attempt says where it stands, and a sync that cannot be recorded is failed and "
    "discarded",
    "[dispatch_core]") {
  Rig rig;
  auto [agent, link] = rig.Connect("worker-a");
  const auto power = Step("t1", "idrac:127.0.0.2");
  const auto sync = Step("t2", "vcenter:v1", false, "inventory.vcenter_sync");
  rig.port.claimable = {power, sync};
  rig.core.AssignWork(rig.port);
  REQUIRE(rig.core.running() == 2);

  CHECK(rig.core.OnMessage(rig.port, *agent,
                           Rig::ResultOf(power, pb::Result::FAILED, "redfish.http", true)));
  CHECK(Called(rig.port, "FailStepReport t1 redfish.http"));
  REQUIRE(rig.core.pending().events().size() == 1);
  CHECK(rig.core.pending().events()[0].level == "warn");
  CHECK(rig.core.pending().events()[0].message ==
        "server.power on idrac:127.0.0.2: attempt 1 of 3 failed: the BMC said no; retrying in 5s");

  // The agent's sync succeeded, but applying it failed for good: the attempt fails, the
  // staged batches go, and the event says it is the end.
  rig.port.record_result = MakeError("db.apply", "apply refused", false);
  rig.port.fail_report = ControlPlane::FailReport{"failed", 3, 3, 0};
  CHECK(rig.core.OnMessage(rig.port, *agent, Rig::ResultOf(sync, pb::Result::SUCCEEDED)));
  CHECK(Called(rig.port, "FailStepReport t2 db.apply"));
  CHECK(Called(rig.port, "DiscardSync t2"));
  CHECK(rig.core.pending().completions().empty());
  REQUIRE(rig.core.pending().events().size() == 2);
  CHECK(rig.core.pending().events()[1].level == "error");
  CHECK(rig.core.pending().events()[1].message ==
        "inventory.vcenter_sync failed on vcenter:v1 (attempt 3 of 3): apply refused");
}

TEST_CASE("Core: heartbeats extend leases and carry a job's cancellation to the agent running it",
          "[dispatch_core]") {
  Rig rig;
  auto [agent, link] = rig.Connect("worker-a");
  const auto s = Step("t1", "idrac:127.0.0.2");
  rig.port.claimable = {s};
  rig.core.AssignWork(rig.port);
  rig.port.cancelled_leases = {s.lease_id};
  pb::AgentMessage beat;
  beat.mutable_heartbeat()->add_lease_ids(s.lease_id);
  CHECK(rig.core.OnMessage(rig.port, *agent, beat));
  CHECK(Called(rig.port, "ExtendLeases"));
  REQUIRE(link->sent.size() == 3);  // welcome, assign, cancel
  CHECK(link->sent[2].cancel().task_id() == "t1");
  CHECK(link->sent[2].cancel().reason() == "the job was cancelled");
}

TEST_CASE("Core: demotion fences every agent and lets go of every step and slot",
          "[dispatch_core]") {
  Rig rig;
  auto [a, a_link] = rig.Connect("worker-a");
  auto [b, b_link] = rig.Connect("worker-b");
  rig.port.claimable = {Step("t1", "idrac:127.0.0.2"), Step("t2", "idrac:127.0.0.3")};
  rig.core.AssignWork(rig.port);
  REQUIRE(rig.core.running() == 2);
  CHECK(rig.core.Demote() == 2);
  CHECK(a_link->cancelled == 1);
  CHECK(b_link->cancelled == 1);
  CHECK(rig.core.agents() == 0);
  CHECK(rig.core.running() == 0);
  CHECK(rig.core.limits().CanStart("idrac:127.0.0.2", true));
  // A new leadership adopts what the agents still hold, against the limits.
  rig.port.held = {
      {"t1", "job-t1", "lease-t1", "worker-a", "server.power", "idrac:127.0.0.2", "", true}};
  REQUIRE(rig.core.AdoptHeldSteps(rig.port));
  CHECK(rig.core.running() == 1);
  CHECK_FALSE(rig.core.limits().CanStart("idrac:127.0.0.2", true));
}

TEST_CASE(
    "Core: an agent silent for three heartbeats is fenced, the others are reported with their "
    "steps",
    "[dispatch_core]") {
  Rig rig;
  auto [quiet, quiet_link] = rig.Connect("worker-quiet");
  auto [busy, busy_link] = rig.Connect("worker-busy");
  rig.clock.Advance(seconds(3));
  pb::AgentMessage beat;
  beat.mutable_heartbeat();
  CHECK(rig.core.OnMessage(rig.port, *busy, beat));  // heard from at t+3s
  rig.clock.Advance(seconds(2));                     // t+5s: quiet has been silent 5s > 3 x 1s + 1s
  rig.core.TendAgents(rig.port);
  CHECK(quiet_link->cancelled == 1);
  CHECK(busy_link->cancelled == 0);
  REQUIRE(rig.port.seen.size() == 1);
  CHECK(rig.port.seen[0] == std::pair<std::string, int>{"worker-busy", 0});
}

TEST_CASE(
    "Core: step-ending writes the database could not take are kept and made, in order, once it is "
    "back",
    "[dispatch_core]") {
  Rig rig;
  auto [agent, link] = rig.Connect("worker-a");
  const auto power = Step("t1", "idrac:127.0.0.2");
  const auto sync = Step("t2", "vcenter:v1", false, "inventory.vcenter_sync");
  rig.port.claimable = {power, sync};
  rig.core.AssignWork(rig.port);
  REQUIRE(rig.core.running() == 2);

  rig.port.database_away = true;
  CHECK(rig.core.OnMessage(rig.port, *agent,
                           Rig::ResultOf(power, pb::Result::FAILED, "redfish.http", false)));
  CHECK(rig.core.OnMessage(rig.port, *agent, Rig::ResultOf(sync, pb::Result::CANCELLED)));
  // Each step's first write was tried; its later ones wait behind it. Nothing is said yet
  // about where the step stands (the database decides that).
  CHECK(rig.core.deferred() == 3);
  CHECK(rig.core.pending().events().empty());
  rig.core.RetryDeferred(rig.port);  // still away: all stay
  CHECK(rig.core.deferred() == 3);

  rig.port.database_away = false;
  rig.port.calls.clear();
  rig.core.RetryDeferred(rig.port);
  CHECK(rig.core.deferred() == 0);
  CHECK(rig.port.calls == std::vector<std::string>{"FailStepReport t1 redfish.http",
                                                   "CancelStep t2", "DiscardSync t2"});
  REQUIRE(rig.core.pending().events().size() == 1);
  CHECK(rig.core.pending().events()[0].message ==
        "server.power on idrac:127.0.0.2: attempt 1 of 3 failed: the BMC said no; retrying in 5s");
}

TEST_CASE("Core: a sync whose apply failed and will be retried shows the error on its endpoint",
          "[dispatch_core]") {
  Rig rig;
  auto [agent, link] = rig.Connect("sync-a");
  const auto sync = Step("t1", "ome:e1", false, "inventory.ome_sync");
  rig.port.claimable = {sync};
  rig.core.AssignWork(rig.port);
  rig.port.record_result =
      MakeError("db.timeout", "SQLSTATE 57014: canceling statement due to lock timeout", true);
  CHECK(rig.core.OnMessage(rig.port, *agent, Rig::ResultOf(sync, pb::Result::SUCCEEDED)));
  // The batches go before the step is made ready again (a late discard would wipe the next
  // attempt's batches).
  const auto at = [&](const std::string& call) {
    return std::find(rig.port.calls.begin(), rig.port.calls.end(), call) - rig.port.calls.begin();
  };
  CHECK(at("DiscardSync t1") < at("FailStepReport t1 db.timeout"));
  CHECK(Called(rig.port, "FailStepReport t1 db.timeout"));
  REQUIRE(rig.core.pending().events().size() == 1);
  CHECK(rig.core.pending().events()[0].level == "warn");  // attempt 1 of 3: retried
  CHECK(rig.core.pending().completions().empty());
}

TEST_CASE(
    "Core: one step's stuck write holds back no other step's, and is given up after repeated "
    "failures",
    "[dispatch_core]") {
  Rig rig;
  auto [agent, link] = rig.Connect("worker-a");
  const auto a = Step("t1", "idrac:127.0.0.2");
  const auto b = Step("t2", "idrac:127.0.0.3");
  rig.port.claimable = {a, b};
  rig.core.AssignWork(rig.port);
  rig.port.stuck_task = "t1";
  CHECK(rig.core.OnMessage(rig.port, *agent,
                           Rig::ResultOf(a, pb::Result::FAILED, "redfish.http", false)));
  CHECK(rig.core.OnMessage(rig.port, *agent,
                           Rig::ResultOf(b, pb::Result::FAILED, "redfish.http", false)));
  CHECK(rig.core.deferred() == 1);                   // only t1's
  REQUIRE(rig.core.pending().events().size() == 1);  // t2's failure is on record already
  CHECK(rig.core.pending().events()[0].task_id == "t2");
  for (int round = 0; round < 30 && rig.core.deferred() > 0; ++round)
    rig.core.RetryDeferred(rig.port);
  CHECK(rig.core.deferred() == 0);
  const auto lines = rig.sink.lines();
  CHECK(std::any_of(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find("FailStep of step t1 given up after repeated failures") != std::string::npos;
  }));
}

TEST_CASE(
    "Core: a step whose lease nobody renews gives its target's slot back, a renewed one keeps it",
    "[dispatch_core]") {
  Rig rig;
  // Adopted at leadership: one whose agent comes back and heartbeats, one whose agent does not.
  rig.port.held = {
      {"t1", "job-t1", "lease-t1", "worker-a", "server.power", "idrac:127.0.0.2", "", true},
      {"t2", "job-t2", "lease-t2", "worker-gone", "server.power", "idrac:127.0.0.3", "", true}};
  REQUIRE(rig.core.AdoptHeldSteps(rig.port));
  auto [agent, link] = rig.Connect("worker-a");
  for (int i = 0; i < 8; ++i) {
    rig.clock.Advance(seconds(5));
    pb::AgentMessage beat;
    beat.mutable_heartbeat()->add_lease_ids("lease-t1");
    CHECK(rig.core.OnMessage(rig.port, *agent, beat));
    rig.core.TendAgents(rig.port);
  }
  // 40 s later (lease 30 s, heartbeat 1 s): t2 is released, t1 still runs.
  CHECK(rig.core.running() == 1);
  CHECK(rig.core.running_steps().count("t1") == 1);
  CHECK(rig.core.limits().CanStart("idrac:127.0.0.3", true));
  CHECK_FALSE(rig.core.limits().CanStart("idrac:127.0.0.2", true));
}

}  // namespace
}  // namespace dcops::dispatcher
