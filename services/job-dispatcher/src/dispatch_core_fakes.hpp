#pragma once
// Test doubles for DispatchCore, shared by its tests (dispatch_core_test.cpp,
// dispatch_claims_test.cpp): a fake control plane (scripted answers, recorded calls), fake
// agent links (recorded messages) and a rig wiring them to a core on a fake clock. Not
// thread-safe: each test drives its rig from one thread.
#include <algorithm>
#include <set>

#include "dispatch_core.hpp"

namespace dcops::dispatcher::core_fakes {

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

inline bool Called(const FakePort& port, const std::string& what) {
  return std::find(port.calls.begin(), port.calls.end(), what) != port.calls.end();
}

inline ClaimedStep Step(const std::string& task, const std::string& target, bool mutating = true,
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

}  // namespace dcops::dispatcher::core_fakes
