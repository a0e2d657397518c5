#pragma once
// vCenter sessions kept between syncs, one per vCenter: the logged-in client with its
// property filters, the collector version it reached and the inventory cache. Keeping them is
// what makes the next sync incremental (WaitForUpdatesEx from that version); an agent that
// restarts, or a session vCenter dropped, means the next sync reads everything again.
//
// Ownership: a sync Take()s its vCenter's state (exclusively) and Give()s it back after a
// success; a failed sync logs out and drops it. Kept clients hold no password.
// Thread-safety: all methods are thread-safe. Blocking: Tend and LogoutAll call vCenters;
// Take waits while Tend is keeping that vCenter's session alive (one call).
// Tending takes one state out at a time: a sync that starts meanwhile finds every other
// session where it was (emptying the pool to tend it forced full syncs).
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "dcops/vsphere/client.hpp"
#include "inventory_cache.hpp"

namespace dcops::vcsync {

struct VcenterState {
  // Address, user, TLS trust and http::CredentialTag: a changed endpoint or credential (a
  // rotated or broken password) starts over with a new login, never the old session.
  std::string endpoint_key;
  std::unique_ptr<vsphere::Client> client;
  InventoryCache cache;
  std::string version;  // the collector version the cache is at
  std::chrono::steady_clock::time_point last_used;
};

class SessionPool {
 public:
  // The state of `vcenter_id`, or nullptr (none, or another sync holds it).
  std::unique_ptr<VcenterState> Take(const std::string& vcenter_id);
  void Give(const std::string& vcenter_id, std::unique_ptr<VcenterState> state);
  // Keeps idle sessions alive, and logs out those unused for longer than `idle` (or that
  // vCenter no longer knows).
  void Tend(std::chrono::steady_clock::time_point now, std::chrono::milliseconds idle);
  void LogoutAll();
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable tended_;
  std::string tending_;  // the vCenter whose state Tend holds, or ""
  std::map<std::string, std::unique_ptr<VcenterState>> states_;
};

}  // namespace dcops::vcsync
