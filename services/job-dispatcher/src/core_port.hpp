#pragma once
// What the dispatch core (dispatch_core.hpp) asks of the control plane, as one interface: the
// dispatcher_v1 calls its loop makes, plus the two step-kind-specific steps around them
// (recording a result's effects, building an assignment with its credentials). Production
// is ControlPlanePort over a ControlPlane (libpq); the core's unit tests use a fake.
//
// Thread-safety: as the implementation; the core calls it from its loop thread only.
// Blocking: every call may be a database round trip.
#include <chrono>
#include <string>
#include <vector>

#include "control_plane.hpp"
#include "dcops/agent/v1/agent.pb.h"
#include "step_results.hpp"

namespace dcops::dispatcher {

class CorePort {
 public:
  virtual ~CorePort() = default;
  virtual Status RegisterAgent(const AgentInfo& agent) = 0;
  virtual Status AgentDisconnected(const std::string& agent_id) = 0;
  virtual Status AgentsSeen(const std::vector<std::pair<std::string, int>>& running_by_agent) = 0;
  virtual Result<bool> SaveCheckpoint(const std::string& task_id, const std::string& lease_id,
                                      const std::string& checkpoint_json) = 0;
  virtual Result<bool> StageInventory(const std::string& task_id, const std::string& lease_id,
                                      std::uint64_t sequence, const std::string& kind,
                                      const std::string& json) = 0;
  virtual Result<std::vector<LeaseState>> ExtendLeases(const std::vector<std::string>& lease_ids,
                                                       std::chrono::seconds lease) = 0;
  virtual Result<std::vector<ClaimedStep>> ClaimSteps(const ClaimRequest& request) = 0;
  virtual Result<std::vector<HeldStep>> HeldSteps(const std::string& site) = 0;
  virtual Result<std::string> FailStep(const std::string& task_id, const std::string& lease_id,
                                       const Error& error) = 0;
  virtual Result<ControlPlane::FailReport> FailStepReport(const std::string& task_id,
                                                          const std::string& lease_id,
                                                          const Error& error) = 0;
  virtual Result<std::string> SnoozeStep(const std::string& task_id, const std::string& lease_id,
                                         std::chrono::seconds wait, const std::string& reason) = 0;
  virtual Result<std::string> CancelStep(const std::string& task_id, const std::string& lease_id,
                                         const std::string& message) = 0;
  virtual Status DiscardSync(const std::string& task_id, const std::string& error) = 0;
  virtual Result<int> Prune(std::chrono::milliseconds retention, int batch) = 0;
  // RecordStepResult (step_results.hpp) for the site this port serves.
  virtual Result<StepResultEffects> RecordResult(const std::string& step_kind,
                                                 const std::string& task_id,
                                                 const std::string& lease_id,
                                                 const std::string& result_json) = 0;
  // BuildAssign (assign.hpp): the step with its credentials decrypted, or why it cannot start.
  virtual Result<agent::v1::DispatcherMessage> Assignment(const ClaimedStep& step,
                                                          int min_interval_ms) = 0;
};

}  // namespace dcops::dispatcher
