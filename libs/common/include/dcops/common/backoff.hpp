#pragma once
// Exponential backoff with jitter, as data. Whoever retries (the database reconnect here, the
// HTTP client in libs/http) owns one BackoffPolicy and asks it for the next delay; nobody
// writes their own loop of attempts with hand-picked sleeps.
//
// Thread-safety: BackoffPolicy is a value; Delay() is const and safe from many threads when
// each thread passes its own random source.

#include <chrono>
#include <cstdint>
#include <random>

namespace dcops {

struct BackoffPolicy {
  // Delay before the first retry.
  std::chrono::milliseconds initial{200};
  // No delay ever exceeds this.
  std::chrono::milliseconds max{10000};
  // Growth per attempt.
  double multiplier = 2.0;
  // Fraction of the delay that is randomised: 0 = none, 0.5 = "equal jitter" (the delay is
  // drawn from [d/2, d]), 1 = "full jitter" ([0, d]).
  double jitter = 0.5;
  // Attempts in all, including the first; 0 means no limit.
  int max_attempts = 0;

  // Delay before retry number `retry` (1 = first retry). Deterministic for a given draw.
  std::chrono::milliseconds Delay(int retry, std::mt19937_64& rng) const;
  // The un-jittered ceiling for retry number `retry`.
  std::chrono::milliseconds Ceiling(int retry) const;
  // True when attempt number `attempt` (1-based) is allowed.
  bool AllowsAttempt(int attempt) const { return max_attempts == 0 || attempt <= max_attempts; }
};

}  // namespace dcops
