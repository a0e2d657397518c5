#include "change_feed.hpp"

namespace dcops::dispatcher {

void ChangeFeed::Publish() {
  {
    std::lock_guard lock(mu_);
    ++generation_;
  }
  cv_.notify_all();
}

void ChangeFeed::SetLimits(std::string json) {
  {
    std::lock_guard lock(mu_);
    if (json == limits_) return;
    limits_ = std::move(json);
    ++generation_;
  }
  cv_.notify_all();
}

std::string ChangeFeed::Limits() const {
  std::lock_guard lock(mu_);
  return limits_;
}

std::uint64_t ChangeFeed::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

std::uint64_t ChangeFeed::WaitBeyond(std::uint64_t seen, Steady::time_point deadline) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return closed_ || generation_ > seen; });
  return generation_;
}

void ChangeFeed::WaitUntil(Steady::time_point deadline) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return closed_; });
}

void ChangeFeed::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool ChangeFeed::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

}  // namespace dcops::dispatcher
