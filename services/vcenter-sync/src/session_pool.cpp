#include "session_pool.hpp"

#include <vector>

namespace dcops::vcsync {

std::unique_ptr<VcenterState> SessionPool::Take(const std::string& vcenter_id) {
  std::lock_guard lock(mu_);
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
  std::map<std::string, std::unique_ptr<VcenterState>> taken;
  {
    std::lock_guard lock(mu_);
    taken.swap(states_);
  }
  std::vector<std::string> dropped;
  for (auto& [id, state] : taken) {
    if (now - state->last_used > idle || !state->client->KeepAlive()) {
      state->client->Logout();
      dropped.push_back(id);
    }
  }
  for (const auto& id : dropped) taken.erase(id);
  std::vector<std::unique_ptr<VcenterState>> superseded;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, state] : taken) {
      // A sync may have given a newer one back meanwhile.
      if (states_.count(id)) {
        superseded.push_back(std::move(state));
      } else {
        states_[id] = std::move(state);
      }
    }
  }
  for (auto& state : superseded) state->client->Logout();
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
