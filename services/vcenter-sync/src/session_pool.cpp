#include "session_pool.hpp"

#include <vector>

namespace dcops::vcsync {

std::unique_ptr<VcenterState> SessionPool::Take(const std::string& vcenter_id) {
  std::unique_lock lock(mu_);
  // A state being tended comes back within one keep-alive call: wait for it rather than
  // start a full sync over a session that is fine.
  tended_.wait(lock, [&] { return tending_ != vcenter_id; });
  auto it = states_.find(vcenter_id);
  if (it == states_.end()) return nullptr;
  auto state = std::move(it->second);
  states_.erase(it);
  return state;
}

void SessionPool::Give(const std::string& vcenter_id, std::unique_ptr<VcenterState> state) {
  state->client->ForgetPassword();
  std::unique_ptr<VcenterState> replaced;
  {
    std::lock_guard lock(mu_);
    replaced = std::move(states_[vcenter_id]);
    states_[vcenter_id] = std::move(state);
  }
  if (replaced) replaced->client->Logout();  // two syncs of one vCenter ran at once: keep the newer
}

void SessionPool::Tend(std::chrono::steady_clock::time_point now, std::chrono::milliseconds idle) {
  // One vCenter at a time, so the pool never looks empty to a sync that starts meanwhile.
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, _] : states_) ids.push_back(id);
  }
  for (const auto& id : ids) {
    std::unique_ptr<VcenterState> state;
    {
      std::lock_guard lock(mu_);
      auto it = states_.find(id);
      if (it == states_.end()) continue;  // a sync took it
      state = std::move(it->second);
      states_.erase(it);
      tending_ = id;
    }
    const bool keep = now - state->last_used <= idle && state->client->KeepAlive();
    if (!keep) state->client->Logout();
    std::unique_ptr<VcenterState> superseded;
    {
      std::lock_guard lock(mu_);
      tending_.clear();
      if (keep) {
        // Nobody can have given one back while Take() waited; two syncs of one vCenter can.
        if (states_.count(id)) {
          superseded = std::move(state);
        } else {
          states_[id] = std::move(state);
        }
      }
    }
    tended_.notify_all();
    if (superseded) superseded->client->Logout();
  }
}

void SessionPool::LogoutAll() {
  std::map<std::string, std::unique_ptr<VcenterState>> taken;
  {
    std::lock_guard lock(mu_);
    taken.swap(states_);
  }
  for (auto& [_, state] : taken) state->client->Logout();
}

std::size_t SessionPool::size() const {
  std::lock_guard lock(mu_);
  return states_.size();
}

}  // namespace dcops::vcsync
