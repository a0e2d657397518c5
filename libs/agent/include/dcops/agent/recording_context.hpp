#pragma once
// A StepContext that records what a step did, for tests (and for running a step by hand).
// Wait() really waits (on a condition variable, cut short by RequestCancel()).
//
// Thread-safety: RequestCancel() may be called from any thread; the rest from the step's.

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "dcops/agent/step.hpp"

namespace dcops::agent {

class RecordingStepContext final : public StepContext {
 public:
  RecordingStepContext(Assignment assignment, Clock& clock)
      : assignment_(std::move(assignment)), clock_(clock) {}

  const Assignment& assignment() const override { return assignment_; }
  void Progress(int percent, std::string_view message) override;
  void Event(LogLevel level, std::string_view message) override;
  Status SaveCheckpoint(std::string json) override;
  Status SendInventory(std::string_view kind, std::string json) override;
  bool CancelRequested() const override;
  Clock& clock() override { return clock_; }
  bool Wait(std::chrono::milliseconds d) override;

  void RequestCancel();
  // Checkpoints from the n-th (counting from 0) on fail, as when the dispatcher goes away.
  void FailCheckpointsFrom(int n) { fail_checkpoints_from_ = n; }
  // What the step reported so far: copies, taken under the lock, so a test may watch from
  // another thread while the step runs.
  std::vector<int> progress() const;
  std::vector<std::string> events() const;
  std::vector<std::string> checkpoints() const;
  struct InventoryBatch {
    std::string kind, json;
  };
  std::vector<InventoryBatch> inventory() const;
  // Inventory batches from the n-th (counting from 0) on fail, as when the lease is lost.
  void FailInventoryFrom(int n) { fail_inventory_from_ = n; }
  // The next attempt's assignment: same step, attempt+1, the last checkpoint.
  Assignment NextAttempt() const;

 private:
  Assignment assignment_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool cancel_ = false;
  int fail_checkpoints_from_ = -1;
  std::vector<int> progress_;
  std::vector<std::string> events_;
  std::vector<std::string> checkpoints_;
  int fail_inventory_from_ = -1;
  std::vector<InventoryBatch> inventory_;
};

}  // namespace dcops::agent
