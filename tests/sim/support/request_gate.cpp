#include "request_gate.hpp"

namespace dcops::sim {

void RequestGate::HoldNext(const std::string& what) {
  std::lock_guard lock(mu_);
  armed_ = what;
  holding_ = false;
  released_ = false;
}

bool RequestGate::WaitUntilHeld(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return holding_; });
}

void RequestGate::Release() {
  {
    std::lock_guard lock(mu_);
    released_ = true;
    armed_.clear();
  }
  cv_.notify_all();
}

void RequestGate::Pass(const std::string& what) {
  std::unique_lock lock(mu_);
  if (armed_.empty() || armed_ != what || holding_) return;
  holding_ = true;
  cv_.notify_all();
  cv_.wait(lock, [this] { return released_; });
}

}  // namespace dcops::sim
