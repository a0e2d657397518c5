#pragma once
// Time behind a seam: code that waits, expires or timestamps takes a Clock& so tests can
// drive time with FakeClock instead of sleeping.
//
// Thread-safety: SystemClock and FakeClock are safe to call from many threads.

#include <chrono>
#include <mutex>
#include <string>

namespace dcops {

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using SteadyTime = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  // Wall-clock time, for timestamps a person reads.
  virtual WallTime Now() const = 0;
  // Monotonic time, for deadlines and intervals.
  virtual SteadyTime Steady() const = 0;
  // Blocks the calling thread for `d` (FakeClock: advances time instead, no blocking).
  virtual void SleepFor(std::chrono::nanoseconds d) = 0;
};

class SystemClock final : public Clock {
 public:
  WallTime Now() const override { return std::chrono::system_clock::now(); }
  SteadyTime Steady() const override { return std::chrono::steady_clock::now(); }
  void SleepFor(std::chrono::nanoseconds d) override;
  // A process-wide instance for wiring in main().
  static SystemClock& Instance();
};

// Time that only moves when told to. SleepFor advances it and records the request, so a
// test can assert the exact waits a piece of code asked for.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(WallTime start = WallTime{} + std::chrono::hours(24 * 365 * 56))
      : wall_(start) {}
  WallTime Now() const override;
  SteadyTime Steady() const override;
  void SleepFor(std::chrono::nanoseconds d) override;
  void Advance(std::chrono::nanoseconds d);
  // Sum of every SleepFor so far.
  std::chrono::nanoseconds slept() const;

 private:
  mutable std::mutex mu_;
  WallTime wall_;
  std::chrono::nanoseconds elapsed_{0};
  std::chrono::nanoseconds slept_{0};
};

// ISO-8601 UTC with milliseconds, e.g. "2026-11-27T03:42:57.123Z".
std::string FormatUtc(Clock::WallTime t);

}  // namespace dcops
