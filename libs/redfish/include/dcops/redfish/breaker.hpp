#pragma once
// A circuit breaker per BMC, shared by every step an agent runs against that BMC. After
// `failures_to_open` consecutive failures (nothing answered: connect errors, timeouts; or
// 5xx answers) it opens: requests to that BMC fail at once with redfish.circuit_open (a
// retryable error naming the last failure) instead of piling up on a dead or sick device.
// After `open_for` one trial request goes through (half-open); its success closes the
// breaker, its failure opens it again. Answers such as 401 or 404 are not failures of the
// BMC: the breaker only reacts to the BMC being unable to answer.
//
// Ownership: owned by the agent's wiring; Clients borrow it.
// Thread-safety: every method is safe from many threads.

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "dcops/common/clock.hpp"
#include "dcops/common/result.hpp"

namespace dcops::redfish {

struct BreakerOptions {
  int failures_to_open = 5;
  std::chrono::milliseconds open_for{30000};
};

class BreakerBoard {
 public:
  explicit BreakerBoard(BreakerOptions options = {}) : options_(options) {}
  // Ok to send; or redfish.circuit_open while the breaker is open (or its trial is out).
  Status Allow(const std::string& address, Clock::SteadyTime now);
  // The outcome of a request that was allowed.
  void Record(const std::string& address, bool failed, const std::string& what, Clock::SteadyTime now);
  // True when `e` (a request's error) counts against the BMC.
  static bool CountsAsFailure(const Error& e);
  static bool CountsAsFailure(int http_status);

 private:
  struct State {
    int failures = 0;
    bool open = false;
    bool trial_out = false;
    Clock::SteadyTime open_until{};
    std::string last;
  };
  BreakerOptions options_;
  std::mutex mu_;
  std::map<std::string, State> states_;
};

}  // namespace dcops::redfish
