// DispatchCore's claiming round (dispatch_claims.cpp) without a network or a database (fakes
// in dispatch_core_fakes.hpp): assignment within the per-target limits, the step kinds an
// agent is offered, and when an agent is asked again or counts as drained.
#include <catch2/catch.hpp>

#include "dispatch_core_fakes.hpp"

namespace dcops::dispatcher {
namespace {

using namespace core_fakes;  // NOLINT: the fakes are this file's vocabulary

TEST_CASE(
    "Core: assignment fills free capacity within each target's limits and fails what cannot start",
    "[dispatch_core]") {
  Rig rig;
  auto [agent, link] = rig.Connect("worker-a", 3);
  // The fake ignores the claim's one-per-target bound: the core must hold the limit itself.
  rig.port.claimable = {Step("t1", "idrac:127.0.0.2"), Step("t2", "idrac:127.0.0.2"),
                        Step("t3", "idrac:127.0.0.3")};
  rig.port.unbuildable = {"t3"};
  rig.core.AssignWork(rig.port);
  CHECK(rig.port.claims[0].per_target == std::optional<int>(1));
  REQUIRE(rig.port.claims.size() == 1);
  CHECK(rig.port.claims[0].limit == 3);
  // t1 runs; t2 is a second mutating step on the same iDRAC: snoozed, not started; t3 has no
  // credentials: failed with the reason.
  CHECK(rig.core.running() == 1);
  CHECK(rig.core.running_steps().count("t1") == 1);
  CHECK(Called(rig.port, "SnoozeStep t2 target at its limit"));
  CHECK(Called(rig.port, "FailStep t3 step.credentials"));
  REQUIRE(link->sent.size() == 2);  // welcome, then t1's assignment
  CHECK(link->sent[1].assign().task_id() == "t1");
  // The next round excludes the busy iDRAC from the claim.
  rig.core.AssignWork(rig.port);
  REQUIRE(rig.port.claims.size() == 2);
  CHECK(rig.port.claims[1].limit == 2);
  const auto& excluded = rig.port.claims[1].exclude_targets;
  CHECK(std::find(excluded.begin(), excluded.end(), "idrac:127.0.0.2") != excluded.end());
}

TEST_CASE("Core: an agent is given only the step kinds the catalog lists for its kind",
          "[dispatch_core]") {
  Rig rig;
  rig.core.SetCatalog({{"server.power", "idrac-worker", true, true},
                       {"server.refresh", "idrac-worker", false, true},
                       {"inventory.ome_sync", "ome-sync", false, true}});
  auto link = std::make_shared<FakeLink>();
  auto conn = std::make_shared<AgentConn>();
  conn->id = "worker-odd";
  conn->kind = "idrac-worker";
  conn->step_kinds = {"server.power", "inventory.ome_sync", "server.teleport"};
  conn->link = link;
  rig.core.OnHello(rig.port, conn);
  CHECK(conn->step_kinds == std::vector<std::string>{"server.power"});
  const auto lines = rig.sink.lines();
  auto logged = [&](const std::string& what) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(what) != std::string::npos; });
  };
  CHECK(logged("the catalog gives to another agent kind"));
  CHECK(logged("the job-type catalog does not list"));
}

TEST_CASE("Core: an agent whose claim found nothing is asked again on new work or after the recheck, not every round",
          "[dispatch_core]") {
  Rig rig;
  auto [agent, link] = rig.Connect("worker-a", 2);
  rig.core.AssignWork(rig.port, /*new_work=*/false);  // never asked yet: asked
  REQUIRE(rig.port.claims.size() == 1);
  rig.core.AssignWork(rig.port, false);  // found nothing a moment ago, and nothing is new
  CHECK(rig.port.claims.size() == 1);
  rig.core.AssignWork(rig.port, true);  // a NOTIFY, a plan: asked
  CHECK(rig.port.claims.size() == 2);
  rig.clock.Advance(DispatchCore::kDrainedRecheck - std::chrono::milliseconds(1));
  rig.core.AssignWork(rig.port, false);
  CHECK(rig.port.claims.size() == 2);
  rig.clock.Advance(std::chrono::milliseconds(1));  // what became ready with time alone is found
  rig.core.AssignWork(rig.port, false);
  CHECK(rig.port.claims.size() == 3);
  // A claim that took something and says more may be claimable (its look-ahead was cut short,
  // or the per-target bound left a step): the next round asks again, new work or not.
  rig.port.claimable = {Step("t1", "idrac:127.0.0.2")};
  rig.port.queue_left = true;
  rig.core.AssignWork(rig.port, true);
  REQUIRE(rig.port.claims.size() == 4);
  CHECK(rig.core.running() == 1);
  rig.core.AssignWork(rig.port, false);
  CHECK(rig.port.claims.size() == 5);
  // One that took all it could, with no target at its limit (t1 has ended and left its
  // iDRAC), is the queue drained: not asked again until something is new.
  REQUIRE(rig.core.OnMessage(rig.port, *agent, Rig::ResultOf(Step("t1", "idrac:127.0.0.2"), pb::Result::SUCCEEDED)));
  rig.port.queue_left = false;
  rig.port.claimable = {Step("t2", "idrac:127.0.0.3", /*mutating=*/false)};
  rig.core.AssignWork(rig.port, true);
  REQUIRE(rig.port.claims.size() == 6);
  REQUIRE(rig.core.running() == 1);  // a slot still free: it is skipped as drained, not as full
  rig.core.AssignWork(rig.port, false);
  CHECK(rig.port.claims.size() == 6);
}

TEST_CASE("Core: a result is new work when its agent was full or its step write lands, not otherwise",
          "[dispatch_core]") {
  Rig rig;
  auto [agent, link] = rig.Connect("worker-a", 3);
  rig.port.claimable = {Step("t1", "idrac:127.0.0.2", /*mutating=*/false),
                        Step("t2", "idrac:127.0.0.3", /*mutating=*/true)};
  rig.core.AssignWork(rig.port);
  REQUIRE(rig.core.running() == 2);
  CHECK_FALSE(rig.core.TakeFreedWork());
  // Successes, by an agent that had room: their dependents are the writer's to announce, and a
  // step waiting on t2's iDRAC (its only mutating slot) was left out of a claim, which does not
  // count the queue drained. Nothing here is new.
  REQUIRE(rig.core.OnMessage(rig.port, *agent, Rig::ResultOf(Step("t1", "idrac:127.0.0.2", false), pb::Result::SUCCEEDED)));
  CHECK_FALSE(rig.core.TakeFreedWork());
  REQUIRE(rig.core.OnMessage(rig.port, *agent, Rig::ResultOf(Step("t2", "idrac:127.0.0.3", true), pb::Result::SUCCEEDED)));
  CHECK_FALSE(rig.core.TakeFreedWork());
  // A snooze puts its step back in the queue through the loop's own session: new work.
  rig.port.claimable = {Step("t3", "idrac:127.0.0.4", /*mutating=*/false)};
  rig.core.AssignWork(rig.port);
  REQUIRE(rig.core.running() == 1);
  REQUIRE(rig.core.OnMessage(rig.port, *agent, Rig::ResultOf(Step("t3", "idrac:127.0.0.4", false), pb::Result::SNOOZED)));
  CHECK(rig.core.TakeFreedWork());
  CHECK_FALSE(rig.core.TakeFreedWork());  // read once
  // An agent that was full gets a slot back: new work, whatever the outcome.
  rig.port.claimable = {Step("a", "idrac:127.0.1.1", false), Step("b", "idrac:127.0.1.2", false),
                        Step("c", "idrac:127.0.1.3", false)};
  rig.core.AssignWork(rig.port);
  REQUIRE(rig.core.running() == 3);
  REQUIRE(rig.core.OnMessage(rig.port, *agent, Rig::ResultOf(Step("a", "idrac:127.0.1.1", false), pb::Result::SUCCEEDED)));
  CHECK(rig.core.TakeFreedWork());
  // A failure whose write waits for the database counts when the write lands, not before: a
  // claim in between would find nothing.
  rig.port.database_away = true;
  REQUIRE(rig.core.OnMessage(rig.port, *agent,
                             Rig::ResultOf(Step("b", "idrac:127.0.1.2", false), pb::Result::FAILED, "redfish.http", true)));
  REQUIRE(rig.core.deferred() == 1);
  CHECK_FALSE(rig.core.TakeFreedWork());
  rig.port.database_away = false;
  rig.core.RetryDeferred(rig.port);
  REQUIRE(rig.core.deferred() == 0);
  CHECK(rig.core.TakeFreedWork());
}

TEST_CASE("Core: a claim that took all it could but left targets to another agent is asked again", "[dispatch_core]") {
  Rig rig;
  auto [b, b_link] = rig.Connect("worker-b", 1);
  rig.port.claimable = {Step("s0", "idrac:127.0.0.9", false)};
  rig.core.AssignWork(rig.port);
  REQUIRE(rig.core.OnMessage(rig.port, *b, Rig::ResultOf(Step("s0", "idrac:127.0.0.9", false), pb::Result::SUCCEEDED)));
  auto [a, a_link] = rig.Connect("worker-a", 4);  // b keeps .9 (it served it last, and has a slot)
  rig.port.claimable = {Step("x", "idrac:127.0.0.2", false)};
  const auto before = rig.port.claims.size();
  rig.core.AssignWork(rig.port, true);
  REQUIRE(rig.port.claims.size() == before + 2);  // a (most free slots) first, then b
  CHECK(rig.port.claims[before].owner == "worker-a");
  CHECK(std::count(rig.port.claims[before].exclude_targets.begin(), rig.port.claims[before].exclude_targets.end(),
                   "idrac:127.0.0.9") == 1);
  REQUIRE(rig.core.running() == 1);
  // Nothing new: b found nothing and rests; a left .9 to b, which may fill up first, so a is asked.
  rig.core.AssignWork(rig.port, false);
  REQUIRE(rig.port.claims.size() == before + 3);
  CHECK(rig.port.claims.back().owner == "worker-a");
}

TEST_CASE("Core: a claim that left a target out is not taken as the queue drained", "[dispatch_core]") {
  Rig rig;
  auto [agent, link] = rig.Connect("worker-a", 3);
  rig.port.claimable = {Step("t1", "idrac:127.0.0.2")};
  rig.port.queue_left = true;  // a second step for that iDRAC, left by the per-target bound
  rig.core.AssignWork(rig.port);
  REQUIRE(rig.core.running() == 1);
  // The busy iDRAC is left out of the next claim, which finds nothing: a step waiting on that
  // iDRAC may be claimable once t1 ends, so the round after asks again.
  rig.port.queue_left = false;
  rig.core.AssignWork(rig.port, false);
  REQUIRE(rig.port.claims.size() == 2);
  CHECK_FALSE(rig.port.claims[1].exclude_targets.empty());
  rig.core.AssignWork(rig.port, false);
  CHECK(rig.port.claims.size() == 3);
}

}  // namespace
}  // namespace dcops::dispatcher
