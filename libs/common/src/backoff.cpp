#include "dcops/common/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace dcops {

std::chrono::milliseconds BackoffPolicy::Ceiling(int retry) const {
  const double exponent = std::max(0, retry - 1);
  const double raw = static_cast<double>(initial.count()) * std::pow(multiplier, exponent);
  const double capped = std::min(raw, static_cast<double>(max.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(capped));
}

std::chrono::milliseconds BackoffPolicy::Delay(int retry, std::mt19937_64& rng) const {
  const auto ceiling = Ceiling(retry).count();
  const double j = std::clamp(jitter, 0.0, 1.0);
  const auto floor = static_cast<std::int64_t>(static_cast<double>(ceiling) * (1.0 - j));
  if (floor >= ceiling) return std::chrono::milliseconds(ceiling);
  std::uniform_int_distribution<std::int64_t> dist(floor, ceiling);
  return std::chrono::milliseconds(dist(rng));
}

}  // namespace dcops
