#include "dcops/redfish/session_cache.hpp"

#include <algorithm>

namespace dcops::redfish {
namespace {

// Sessions are kept per BMC and credential: during a rotation the steps still running with the
// old credential keep their session (it idles out and is deleted by the sweep) while new steps
// open one with the new credential.
std::string KeyOf(const std::string& address, const std::string& username,
                  const std::string& credential_tag) {
  return address + '\n' + username + '\n' + credential_tag;
}

}  // namespace

void SessionCache::Stamp(CachedSession& s) const {
  if (clock_ != nullptr && s.opened_at == 0) {
    s.opened_at =
        std::chrono::duration_cast<std::chrono::seconds>(clock_->Now().time_since_epoch()).count();
  }
}

void SessionCache::Journal(const CachedSession& s) const {
  if (journal_ != nullptr && !s.token.empty()) {
    journal_->Opened(JournaledSession{s.address, s.token, s.location, s.tls, s.opened_at});
  }
}

std::optional<CachedSession> SessionCache::Find(const std::string& address,
                                                const std::string& username,
                                                const std::string& credential_tag,
                                                Clock::SteadyTime now) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(KeyOf(address, username, credential_tag));
  if (it == sessions_.end()) return std::nullopt;
  it->second.last_used = now;
  return it->second;
}

void SessionCache::Put(CachedSession session) {
  Stamp(session);
  Journal(session);
  std::lock_guard lock(mu_);
  const std::string key = KeyOf(session.address, session.username, session.credential_tag);
  auto it = sessions_.find(key);
  if (it != sessions_.end() && it->second.token != session.token) {
    orphans_.push_back(std::move(it->second));  // still open on the BMC: still journaled
  }
  sessions_[key] = std::move(session);
}

std::unique_lock<std::mutex> SessionCache::LoginGate(const std::string& address) {
  std::mutex* gate = nullptr;
  {
    std::lock_guard lock(mu_);
    auto& slot = login_gates_[address];
    if (!slot) slot = std::make_unique<std::mutex>();
    gate = slot.get();
  }
  return std::unique_lock<std::mutex>(*gate);
}

void SessionCache::Track(CachedSession& session) {
  Stamp(session);
  Journal(session);
}

void SessionCache::Drop(const std::string& address, const std::string& token) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(sessions_.begin(), sessions_.end(), [&](const auto& kv) {
    return kv.second.address == address && kv.second.token == token;
  });
  if (it != sessions_.end()) {
    sessions_.erase(it);
    if (journal_ != nullptr) journal_->Closed(address, token);
  }
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

void SessionCache::Settled(const CachedSession& session, bool deleted) {
  // A session a day old is gone from any BMC (Redfish caps SessionTimeout at 86400 s).
  constexpr std::int64_t kSurelyExpired = 86400;
  const bool expired =
      clock_ != nullptr && session.opened_at > 0 &&
      std::chrono::duration_cast<std::chrono::seconds>(clock_->Now().time_since_epoch()).count() -
              session.opened_at >
          kSurelyExpired;
  std::lock_guard lock(mu_);
  if (deleted || expired) {
    if (journal_ != nullptr && !session.token.empty())
      journal_->Closed(session.address, session.token);
  } else {
    orphans_.push_back(session);  // still journaled
  }
}

void SessionCache::AdoptOrphans(const std::vector<JournaledSession>& sessions) {
  std::lock_guard lock(mu_);
  for (const auto& s : sessions) {
    CachedSession c;
    c.address = s.address;
    c.token = s.token;
    c.location = s.location;
    c.tls = s.tls;
    c.opened_at = s.opened_at;
    orphans_.push_back(std::move(c));
  }
}

std::vector<CachedSession> SessionCache::TakeOrphans(const std::string& address) {
  std::lock_guard lock(mu_);
  std::vector<CachedSession> out;
  for (auto it = orphans_.begin(); it != orphans_.end();) {
    if (address.empty() || it->address == address) {
      out.push_back(std::move(*it));
      it = orphans_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::size_t SessionCache::orphans() const {
  std::lock_guard lock(mu_);
  return orphans_.size();
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
