#include "dcops/agent/step.hpp"

#include <fmt/format.h>

#include "dcops/agent/recording_context.hpp"

namespace dcops::agent {

StepRegistry& StepRegistry::Add(std::string kind, StepFunction fn) {
  steps_[std::move(kind)] = std::move(fn);
  return *this;
}

const StepFunction* StepRegistry::Find(std::string_view kind) const {
  auto it = steps_.find(kind);
  return it == steps_.end() ? nullptr : &it->second;
}

StepOutcome StepRegistry::Run(StepContext& ctx) const {
  const std::string& kind = ctx.assignment().step_kind;
  const StepFunction* fn = Find(kind);
  if (fn == nullptr) return StepOutcome::Failed(MakeError("agent.unknown_step", "this agent has no step " + kind));
  try {
    return (*fn)(ctx);
  } catch (const std::exception& e) {
    return StepOutcome::Failed(
        MakeError("agent.step_crashed", fmt::format("{} stopped on an internal error: {}", kind, e.what()), false));
  } catch (...) {
    return StepOutcome::Failed(
        MakeError("agent.step_crashed", fmt::format("{} stopped on an unknown internal error", kind), false));
  }
}

std::vector<std::string> StepRegistry::kinds() const {
  std::vector<std::string> out;
  for (const auto& [k, _] : steps_) out.push_back(k);
  return out;
}

void RecordingStepContext::Progress(int percent, std::string_view) {
  std::lock_guard lock(mu_);
  progress_.push_back(percent);
}

void RecordingStepContext::Event(LogLevel level, std::string_view message) {
  std::lock_guard lock(mu_);
  events_.push_back(fmt::format("{}: {}", LogLevelName(level), message));
}

std::vector<int> RecordingStepContext::progress() const {
  std::lock_guard lock(mu_);
  return progress_;
}

std::vector<std::string> RecordingStepContext::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

std::vector<std::string> RecordingStepContext::checkpoints() const {
  std::lock_guard lock(mu_);
  return checkpoints_;
}

std::vector<RecordingStepContext::InventoryBatch> RecordingStepContext::inventory() const {
  std::lock_guard lock(mu_);
  return inventory_;
}

Status RecordingStepContext::SaveCheckpoint(std::string json) {
  std::lock_guard lock(mu_);
  if (fail_checkpoints_from_ >= 0 && static_cast<int>(checkpoints_.size()) >= fail_checkpoints_from_) {
    return MakeError("agent.checkpoint", "the checkpoint was not saved (the dispatcher is unreachable)", true);
  }
  checkpoints_.push_back(std::move(json));
  return {};
}

Status CheckInventoryBatch(std::string_view kind, const std::string& json) {
  if (json.size() <= kMaxInventoryBatchBytes) return {};
  return MakeError("agent.batch_too_large", fmt::format("inventory batch {} is {} bytes, more than the {} a message may carry: "
                                                        "use a smaller page_size",
                                                        kind, json.size(), kMaxInventoryBatchBytes));
}

Status RecordingStepContext::SendInventory(std::string_view kind, std::string json) {
  if (auto st = CheckInventoryBatch(kind, json); !st) return st;
  std::lock_guard lock(mu_);
  if (fail_inventory_from_ >= 0 && static_cast<int>(inventory_.size()) >= fail_inventory_from_) {
    return MakeError("agent.lease_lost", "the step's lease is gone; stopping", false);
  }
  inventory_.push_back({std::string(kind), std::move(json)});
  return {};
}

bool RecordingStepContext::CancelRequested() const {
  std::lock_guard lock(mu_);
  return cancel_;
}

bool RecordingStepContext::Wait(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return cancel_; });
}

void RecordingStepContext::RequestCancel() {
  {
    std::lock_guard lock(mu_);
    cancel_ = true;
  }
  cv_.notify_all();
}

Assignment RecordingStepContext::NextAttempt() const {
  std::lock_guard lock(mu_);
  Assignment next = assignment_;
  next.attempt += 1;
  next.checkpoint_json = checkpoints_.empty() ? assignment_.checkpoint_json : checkpoints_.back();
  return next;
}

}  // namespace dcops::agent
