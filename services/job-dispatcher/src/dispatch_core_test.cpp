// The dispatch core without a network or a database: a fake control plane (scripted answers,
// recorded calls), fake agent links (recorded messages) and a fake clock.
#include "dispatch_core.hpp"

#include <catch2/catch.hpp>
#include <set>

namespace dcops::dispatcher {
namespace {

namespace pb = dcops::agent::v1;
using std::chrono::seconds;

class FakeLink final : public AgentLink {
 public:
  bool Write(const pb::DispatcherMessage& m, bool) override {
    sent.push_back(m);
    return writable;
  }
  void Cancel() override { ++cancelled; }
  std::vector<pb::DispatcherMessage> sent;
  bool writable = true;
  int cancelled = 0;
};

class FakePort final : public CorePort {
 public:
  // Scripted answers.
  std::vector<ClaimedStep> claimable;
  bool queue_left = false;  // the claim says it did not take all it could
  Result<StepResultEffects> record_result = StepResultEffects{};
  Result<ControlPlane::FailReport> fail_report =
      ControlPlane::FailReport{"retry_scheduled", 1, 3, 5000};
  std::vector<HeldStep> held;
  std::vector<std::string> unbuildable;  // task ids whose assignment fails
  // Recorded calls.
  std::vector<std::string> calls;
  std::vector<ClaimRequest> claims;
  std::vector<std::pair<std::string, int>> seen;

  Status RegisterAgent(const AgentInfo& a) override { return Call("RegisterAgent " + a.id); }
  Status AgentDisconnected(const std::string& id) override {
    return Call("AgentDisconnected " + id);
  }
  Status AgentsSeen(const std::vector<std::pair<std::string, int>>& running) override {
    seen = running;
    return Call("AgentsSeen");
  }
  Result<bool> SaveCheckpoint(const std::string& task, const std::string&,
                              const std::string&) override {
    Record("SaveCheckpoint " + task);
    return true;
  }
  Result<bool> StageInventory(const std::string& task, const std::string&, std::uint64_t,
                              const std::string&, const std::string&) override {
    Record("StageInventory " + task);
    return true;
  }
  Result<std::vector<LeaseState>> ExtendLeases(const std::vector<std::string>& leases,
                                               seconds) override {
    Record("ExtendLeases");
    std::vector<LeaseState> out;
    for (const auto& l : leases) out.push_back({l, "", true, cancelled_leases.count(l) > 0});
    return out;
  }
  Result<std::vector<ClaimedStep>> ClaimSteps(const ClaimRequest& r) override {
    claims.push_back(r);
    std::vector<ClaimedStep> out;
    while (!claimable.empty() && static_cast<int>(out.size()) < r.limit) {
      out.push_back(claimable.front());
      claimable.erase(claimable.begin());
    }
    for (auto& s : out) s.queue_drained = claimable.empty() && !queue_left;  // took all it could
    return out;
  }
  Result<std::vector<HeldStep>> HeldSteps(const std::string&) override { return held; }
  Result<std::string> FailStep(const std::string& task, const std::string&,
                               const Error& e) override {
    Record("FailStep " + task + " " + e.code);
    return std::string("failed");
  }
  Result<ControlPlane::FailReport> FailStepReport(const std::string& task, const std::string&,
                                                  const Error& e) override {
    Record("FailStepReport " + task + " " + e.code);
    if (database_away || task == stuck_task) return Away();
    return fail_report;
  }
  Result<std::string> SnoozeStep(const std::string& task, const std::string&, seconds,
                                 const std::string& why) override {
    Record("SnoozeStep " + task + " " + why);
    return std::string("ok");
  }
  Result<std::string> CancelStep(const std::string& task, const std::string&,
                                 const std::string&) override {
    Record("CancelStep " + task);
    if (database_away) return Away();
    return std::string("ok");
  }
  Status DiscardSync(const std::string& task, const std::string&) override {
    Record("DiscardSync " + task);
    if (database_away) return Away();
    return {};
  }
  Result<int> Prune(std::chrono::milliseconds, int) override { return 0; }
  Result<StepResultEffects> RecordResult(const std::string& kind, const std::string& task,
                                         const std::string&, const std::string&) override {
    Record("RecordResult " + kind + " " + task);
    return record_result;
  }
  Result<pb::DispatcherMessage> Assignment(const ClaimedStep& s, int) override {
    if (std::find(unbuildable.begin(), unbuildable.end(), s.task_id) != unbuildable.end()) {
      return MakeError("step.credentials", "no credential set for " + s.target);
    }
    pb::DispatcherMessage m;
    m.mutable_assign()->set_task_id(s.task_id);
    m.mutable_assign()->set_lease_id(s.lease_id);
    m.mutable_assign()->set_target(s.target);
    return m;
  }
  std::set<std::string> cancelled_leases;
  bool database_away = false;  // step-ending writes fail as when the connection is lost
  std::string stuck_task;      // this step's failure write keeps failing (a lock it waits on)
  static Error Away() {
    return MakeError("db.connection_lost", "server closed the connection", true);
  }

 private:
  void Record(std::string what) { calls.push_back(std::move(what)); }
  Status Call(std::string what) {
    Record(std::move(what));
    return {};
  }
};

bool Called(const FakePort& port, const std::string& what) {
  return std::find(port.calls.begin(), port.calls.end(), what) != port.calls.end();
}

ClaimedStep Step(const std::string& task, const std::string& target, bool mutating = true,
                 const std::string& kind = "server.power") {
  ClaimedStep s;
  s.task_id = task;
  s.job_id = "job-" + task;
  s.lease_id = "lease-" + task;
  s.step_kind = kind;
  s.target = target;
  s.mutating = mutating;
  return s;
}

struct Rig {
  FakeClock clock;
  MemorySink sink;
  Logger log{"test", sink, clock};
  SecretRegistry redact;
  DispatcherMetrics metrics;
  FakePort port;
  DispatchCore core;
  Rig() : core(Options(), clock, log, redact, metrics) {}
  static CoreOptions Options() {
    CoreOptions o;
    o.dispatcher_id = "d1";
    o.heartbeat = std::chrono::milliseconds(1000);
    return o;  // default limits: one mutating step and two in all per iDRAC
  }
  std::pair<std::shared_ptr<AgentConn>, std::shared_ptr<FakeLink>> Connect(const std::string& id,
                                                                           int capacity = 4) {
    auto link = std::make_shared<FakeLink>();
    auto conn = std::make_shared<AgentConn>();
    conn->id = id;
    conn->kind = "idrac-worker";
    conn->capacity = capacity;
    conn->step_kinds = {"server.power", "server.refresh"};
    conn->link = link;
    core.OnHello(port, conn);
    return {conn, link};
  }
  static pb::AgentMessage ResultOf(const ClaimedStep& s, pb::Result::Outcome outcome,
                                   const std::string& code = "", bool retryable = false) {
    pb::AgentMessage m;
    auto* r = m.mutable_result();
    r->set_task_id(s.task_id);
    r->set_lease_id(s.lease_id);
    r->set_outcome(outcome);
    r->set_result_json("{}");
    if (!code.empty()) {
      r->mutable_error()->set_code(code);
      r->mutable_error()->set_message("the BMC said no");
      r->mutable_error()->set_retryable(retryable);
    }
    return m;
  }
};

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
