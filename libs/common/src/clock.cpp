#include "dcops/common/clock.hpp"

#include <fmt/format.h>

#include <ctime>
#include <string>
#include <thread>

namespace dcops {

void SystemClock::SleepFor(std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); }

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

Clock::WallTime FakeClock::Now() const {
  std::lock_guard lock(mu_);
  return wall_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed_);
}

Clock::SteadyTime FakeClock::Steady() const {
  std::lock_guard lock(mu_);
  return SteadyTime{} + std::chrono::duration_cast<std::chrono::steady_clock::duration>(elapsed_);
}

void FakeClock::SleepFor(std::chrono::nanoseconds d) {
  std::lock_guard lock(mu_);
  elapsed_ += d;
  slept_ += d;
}

void FakeClock::Advance(std::chrono::nanoseconds d) {
  std::lock_guard lock(mu_);
  elapsed_ += d;
}

std::chrono::nanoseconds FakeClock::slept() const {
  std::lock_guard lock(mu_);
  return slept_;
}

std::string FormatUtc(Clock::WallTime t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     static_cast<int>(ms.count() % 1000));
}

}  // namespace dcops
