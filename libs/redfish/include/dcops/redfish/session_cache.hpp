#pragma once
// Redfish sessions of one agent, one per BMC: reused by every step that talks to that BMC (a
// BMC allows few sessions), deleted when idle and at shutdown. With a journal, every session
// opened is recorded before it is used and forgotten once deleted, so a successor can log out
// what a killed agent left ("orphans"); orphans are also reclaimed when a BMC's cap is full.
//
// Ownership: owned by the agent's wiring; Clients borrow it. It borrows the journal and clock.
// Thread-safety: every method is safe from many threads.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dcops/common/clock.hpp"
#include "dcops/http/options.hpp"
#include "dcops/redfish/session_journal.hpp"

namespace dcops::redfish {

struct CachedSession {
  std::string address;
  std::string username;
  std::string token;     // secret
  std::string location;  // "/redfish/v1/SessionService/Sessions/12"
  http::TlsOptions tls;  // to delete it later over the same trust
  Clock::SteadyTime last_used{};
  std::int64_t opened_at = 0;  // Unix seconds; set by the cache when a journal is kept
  // http::CredentialTag of the credential it was opened with (secret-derived, never
  // journaled): a changed password does not reuse a session the old one opened.
  std::string credential_tag;
};

class SessionCache {
 public:
  SessionCache() = default;
  // Records sessions in `journal` (may be null); `clock` stamps when each was opened.
  SessionCache(SessionJournal* journal, const Clock* clock) : journal_(journal), clock_(clock) {}

  // The session of `address` opened with this credential (same user and tag), if any.
  std::optional<CachedSession> Find(const std::string& address, const std::string& username,
                                    const std::string& credential_tag, Clock::SteadyTime now);
  // Caches a session just created (journaled before the caller uses it), by BMC and
  // credential: a session of another credential stays (steps still running with it keep it;
  // it idles out). One it replaces under the same credential becomes an orphan (deleted by the
  // next sweep or when the cap is full); a refused one was Drop()ped first.
  void Put(CachedSession session);
  // Held while logging in to `address`: steps that start together on one BMC wait for the
  // first one's login and reuse its session instead of each opening one against the cap.
  std::unique_lock<std::mutex> LoginGate(const std::string& address);
  // Journals a session that is not cached (a login proof that is deleted at once).
  void Track(CachedSession& session);
  // Forgets a session the BMC no longer accepts (no DELETE: it is already gone).
  void Drop(const std::string& address, const std::string& token);
  // Removes and returns sessions idle for longer than `idle`, for the caller to DELETE.
  std::vector<CachedSession> TakeIdle(Clock::SteadyTime now, std::chrono::milliseconds idle);
  std::vector<CachedSession> TakeAll();

  // After a DELETE: `deleted` (or refused as unknown) is forgotten for good; otherwise the
  // session stays journaled as an orphan, to be tried again.
  void Settled(const CachedSession& session, bool deleted);
  // Sessions of ours nobody uses any more (a predecessor's, or a DELETE that failed).
  void AdoptOrphans(const std::vector<JournaledSession>& sessions);
  // Removes and returns the orphans of one BMC (every BMC when `address` is empty).
  std::vector<CachedSession> TakeOrphans(const std::string& address = "");
  std::size_t orphans() const;

  // BMCs that answered "no session service": basic auth from then on.
  void MarkBasicOnly(const std::string& address);
  bool BasicOnly(const std::string& address) const;
  std::size_t size() const;

 private:
  void Stamp(CachedSession& s) const;
  void Journal(const CachedSession& s) const;

  SessionJournal* journal_ = nullptr;
  const Clock* clock_ = nullptr;
  mutable std::mutex mu_;
  std::map<std::string, CachedSession> sessions_;  // by address, user and credential tag
  std::vector<CachedSession> orphans_;
  std::map<std::string, bool> basic_only_;
  std::map<std::string, std::unique_ptr<std::mutex>> login_gates_;  // by address; never erased
};

}  // namespace dcops::redfish
