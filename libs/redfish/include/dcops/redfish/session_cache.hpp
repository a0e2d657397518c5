#pragma once
// Redfish sessions of one agent, one per BMC: reused by every step that talks to that BMC (a
// BMC allows few sessions), deleted when idle and at shutdown.
//
// Ownership: owned by the agent's wiring; Clients borrow it.
// Thread-safety: every method is safe from many threads.

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dcops/common/clock.hpp"
#include "dcops/http/options.hpp"

namespace dcops::redfish {

struct CachedSession {
  std::string address;
  std::string username;
  std::string token;     // secret
  std::string location;  // "/redfish/v1/SessionService/Sessions/12"
  http::TlsOptions tls;  // to delete it later over the same trust
  Clock::SteadyTime last_used{};
};

class SessionCache {
 public:
  std::optional<CachedSession> Find(const std::string& address, const std::string& username,
                                    Clock::SteadyTime now);
  void Put(CachedSession session);
  // Forgets a session the BMC no longer accepts (no DELETE: it is already gone).
  void Drop(const std::string& address, const std::string& token);
  // Removes and returns sessions idle for longer than `idle`, for the caller to DELETE.
  std::vector<CachedSession> TakeIdle(Clock::SteadyTime now, std::chrono::milliseconds idle);
  std::vector<CachedSession> TakeAll();
  // BMCs that answered "no session service": basic auth from then on.
  void MarkBasicOnly(const std::string& address);
  bool BasicOnly(const std::string& address) const;
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, CachedSession> sessions_;  // by address
  std::map<std::string, bool> basic_only_;
};

}  // namespace dcops::redfish
