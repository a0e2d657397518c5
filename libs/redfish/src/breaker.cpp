#include "dcops/redfish/breaker.hpp"

#include <fmt/format.h>

namespace dcops::redfish {

Status BreakerBoard::Allow(const std::string& address, Clock::SteadyTime now) {
  std::lock_guard lock(mu_);
  auto it = states_.find(address);
  if (it == states_.end() || !it->second.open) return Status();
  State& s = it->second;
  if (now >= s.open_until && !s.trial_out) {
    s.trial_out = true;  // half-open: this request is the trial
    return Status();
  }
  const auto wait = std::chrono::duration_cast<std::chrono::seconds>(s.open_until - now).count();
  return MakeError("redfish.circuit_open",
                   fmt::format("{}: not contacted after {} consecutive failures (last: {}); next try in {} s",
                               address, s.failures, s.last, std::max<long>(0, wait)),
                   true);
}

void BreakerBoard::Record(const std::string& address, bool failed, const std::string& what, Clock::SteadyTime now) {
  std::lock_guard lock(mu_);
  State& s = states_[address];
  if (!failed) {
    states_.erase(address);
    return;
  }
  ++s.failures;
  s.last = what;
  s.trial_out = false;
  if (s.open || s.failures >= options_.failures_to_open) {
    s.open = true;
    s.open_until = now + options_.open_for;
  }
}

bool BreakerBoard::CountsAsFailure(const Error& e) {
  return e.code == "http.connect" || e.code == "http.timeout" || e.code == "http.transport" || e.code == "http.dns" ||
         e.code == "http.reset" || e.code == "http.closed";
}

bool BreakerBoard::CountsAsFailure(int http_status) { return http_status >= 500; }

}  // namespace dcops::redfish
