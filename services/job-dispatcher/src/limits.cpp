#include "limits.hpp"

namespace dcops::dispatcher {

std::string TargetKind(const std::string& target) {
  const auto colon = target.find(':');
  return colon == std::string::npos ? target : target.substr(0, colon);
}

const LimitRule& TargetLimits::RuleFor(const std::string& target) const {
  if (auto it = config_.by_target.find(target); it != config_.by_target.end()) return it->second;
  if (auto it = config_.by_kind.find(TargetKind(target)); it != config_.by_kind.end()) return it->second;
  return config_.fallback;
}

bool TargetLimits::CanStart(const std::string& target, bool mutating) const {
  const LimitRule& rule = RuleFor(target);
  auto it = running_.find(target);
  const Count c = it == running_.end() ? Count{} : it->second;
  if (c.total >= rule.total) return false;
  return !mutating || c.mutating < rule.mutating;
}

void TargetLimits::Started(const std::string& target, bool mutating) {
  Count& c = running_[target];
  ++c.total;
  if (mutating) ++c.mutating;
}

void TargetLimits::Finished(const std::string& target, bool mutating) {
  auto it = running_.find(target);
  if (it == running_.end()) return;
  if (it->second.total > 0) --it->second.total;
  if (mutating && it->second.mutating > 0) --it->second.mutating;
  if (it->second.total == 0) running_.erase(it);
}

int TargetLimits::Running(const std::string& target) const {
  auto it = running_.find(target);
  return it == running_.end() ? 0 : it->second.total;
}

std::vector<std::string> TargetLimits::Full() const {
  std::vector<std::string> out;
  for (const auto& [target, c] : running_) {
    if (c.total >= RuleFor(target).total) out.push_back(target);
  }
  return out;
}

std::vector<std::string> TargetLimits::FullForMutating() const {
  std::vector<std::string> out;
  for (const auto& [target, c] : running_) {
    const LimitRule& rule = RuleFor(target);
    if (c.total < rule.total && c.mutating >= rule.mutating) out.push_back(target);
  }
  return out;
}

}  // namespace dcops::dispatcher
