#include "dcops/redfish/session_cache.hpp"

namespace dcops::redfish {

std::optional<CachedSession> SessionCache::Find(const std::string& address,
                                                const std::string& username,
                                                Clock::SteadyTime now) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(address);
  if (it == sessions_.end() || it->second.username != username) return std::nullopt;
  it->second.last_used = now;
  return it->second;
}

void SessionCache::Put(CachedSession session) {
  std::lock_guard lock(mu_);
  const std::string address = session.address;
  sessions_[address] = std::move(session);
}

void SessionCache::Drop(const std::string& address, const std::string& token) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(address);
  if (it != sessions_.end() && it->second.token == token) sessions_.erase(it);
}

std::vector<CachedSession> SessionCache::TakeIdle(Clock::SteadyTime now,
                                                  std::chrono::milliseconds idle) {
  std::lock_guard lock(mu_);
  std::vector<CachedSession> out;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (now - it->second.last_used > idle) {
      out.push_back(std::move(it->second));
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<CachedSession> SessionCache::TakeAll() {
  std::lock_guard lock(mu_);
  std::vector<CachedSession> out;
  for (auto& [_, s] : sessions_) out.push_back(std::move(s));
  sessions_.clear();
  return out;
}

void SessionCache::MarkBasicOnly(const std::string& address) {
  std::lock_guard lock(mu_);
  basic_only_[address] = true;
}

bool SessionCache::BasicOnly(const std::string& address) const {
  std::lock_guard lock(mu_);
  return basic_only_.count(address) != 0;
}

std::size_t SessionCache::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

}  // namespace dcops::redfish
