#pragma once
// The dispatch core's CorePort over the real control plane: each call forwards to the
// ControlPlane (one libpq connection), results go through RecordStepResult and assignments
// through BuildAssign with this dispatcher's key.
//
// Ownership: borrows the ControlPlane, the key and the redaction registry (the loop makes one
// per database connection). Thread-safety: as the ControlPlane (one thread).
#include <string>

#include "core_port.hpp"
#include "dcops/common/redact.hpp"
#include "dcops/tls/secret_box.hpp"

namespace dcops::dispatcher {

class ControlPlanePort final : public CorePort {
 public:
  ControlPlanePort(ControlPlane& cp, std::string site, const tls::SecretBox& secrets,
                   SecretRegistry& redact)
      : cp_(cp), site_(std::move(site)), secrets_(secrets), redact_(redact) {}

  Status RegisterAgent(const AgentInfo& agent) override { return cp_.RegisterAgent(agent); }
  Status AgentDisconnected(const std::string& agent_id) override {
    return cp_.AgentDisconnected(agent_id);
  }
  Status AgentsSeen(const std::vector<std::pair<std::string, int>>& running_by_agent) override {
    return cp_.AgentsSeen(running_by_agent);
  }
  Result<bool> SaveCheckpoint(const std::string& task_id, const std::string& lease_id,
                              const std::string& checkpoint_json) override {
    return cp_.SaveCheckpoint(task_id, lease_id, checkpoint_json);
  }
  Result<bool> StageInventory(const std::string& task_id, const std::string& lease_id,
                              std::uint64_t sequence, const std::string& kind,
                              const std::string& json) override {
    return cp_.StageInventory(task_id, lease_id, sequence, kind, json);
  }
  Result<std::vector<LeaseState>> ExtendLeases(const std::vector<std::string>& lease_ids,
                                               std::chrono::seconds lease) override {
    return cp_.ExtendLeases(lease_ids, lease);
  }
  Result<std::vector<ClaimedStep>> ClaimSteps(const ClaimRequest& request) override {
    return cp_.ClaimSteps(request);
  }
  Result<std::vector<HeldStep>> HeldSteps(const std::string& site) override {
    return cp_.HeldSteps(site);
  }
  Result<std::string> FailStep(const std::string& task_id, const std::string& lease_id,
                               const Error& error) override {
    return cp_.FailStep(task_id, lease_id, error);
  }
  Result<ControlPlane::FailReport> FailStepReport(const std::string& task_id,
                                                  const std::string& lease_id,
                                                  const Error& error) override {
    return cp_.FailStepReport(task_id, lease_id, error);
  }
  Result<std::string> SnoozeStep(const std::string& task_id, const std::string& lease_id,
                                 std::chrono::seconds wait, const std::string& reason) override {
    return cp_.SnoozeStep(task_id, lease_id, wait, reason);
  }
  Result<std::string> CancelStep(const std::string& task_id, const std::string& lease_id,
                                 const std::string& message) override {
    return cp_.CancelStep(task_id, lease_id, message);
  }
  Status DiscardSync(const std::string& task_id, const std::string& error) override {
    return cp_.DiscardSync(task_id, error);
  }
  Result<int> Prune(std::chrono::milliseconds retention, int batch) override {
    return cp_.Prune(retention, batch);
  }
  Result<StepResultEffects> RecordResult(const std::string& step_kind, const std::string& task_id,
                                         const std::string& lease_id,
                                         const std::string& result_json) override;
  Result<agent::v1::DispatcherMessage> Assignment(const ClaimedStep& step,
                                                  int min_interval_ms) override;

 private:
  ControlPlane& cp_;
  std::string site_;
  const tls::SecretBox& secrets_;
  SecretRegistry& redact_;
};

}  // namespace dcops::dispatcher
