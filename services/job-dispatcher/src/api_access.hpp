#pragma once
// Who may use the dispatcher's API and console, and as what. Two bearer tokens: the operator
// token (reads and acts: create, cancel, resume, credentials, conflicts) and an optional viewer
// token (reads only). The console's login page trades either token for a session: a random
// 256-bit id in an HttpOnly, SameSite=Strict cookie, kept in memory for `session_ttl` (a
// dispatcher restart signs everyone out). A session carries the role of the token it was made
// from and the name given at login, which becomes the audit trail's actor ("console:alice").
//
// Ownership: owns the tokens and sessions; borrows the Clock, which must outlive it.
// Thread-safety: all members are thread-safe. Blocking: no I/O.
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "dcops/common/clock.hpp"
#include "dcops/common/result.hpp"

namespace dcops::dispatcher {

enum class Role { kViewer, kOperator };
const char* RoleName(Role role);

struct Principal {
  Role role = Role::kViewer;
  std::string actor;     // "console:alice" for a session, "" for a bearer token (the caller names itself)
  bool session = false;  // authenticated by the console's cookie, not a bearer token
};

struct SessionOptions {
  std::chrono::seconds ttl{std::chrono::hours(12)};  // a session ends this long after login
  std::size_t max_sessions = 1000;                   // per role; beyond it the role's oldest goes
};

class ApiAccess {
 public:
  static constexpr const char* kCookie = "dcops_session";

  ApiAccess(std::string operator_token, std::string viewer_token, const Clock& clock, SessionOptions options = {});

  // False without an operator token: the API is off (and so is the console).
  bool Enabled() const { return !operator_token_.empty(); }
  // The principal of an `Authorization: Bearer …` header (tokens compared in constant time).
  std::optional<Principal> FromBearer(const std::string& authorization) const;
  // The principal of a Cookie header's session, if it names a live one.
  std::optional<Principal> FromCookie(const std::string& cookie_header);
  // Either of the above, bearer first.
  std::optional<Principal> Authenticate(const std::string& authorization, const std::string& cookie_header);
  // A new session for `token`, named `name` (1-64 printable name characters, or empty: the
  // role's name). Returns the session id for the cookie; an error names what was wrong
  // without repeating the token.
  Result<std::string> Login(const std::string& token, const std::string& name);
  // Ends the session the Cookie header names, if any.
  void Logout(const std::string& cookie_header);
  std::size_t sessions();
  std::chrono::seconds session_ttl() const { return options_.ttl; }

 private:
  struct Session {
    Principal principal;
    Clock::SteadyTime expires;
  };
  std::optional<Role> RoleOf(const std::string& token) const;
  void DropExpired(Clock::SteadyTime now);  // mu_ held

  const std::string operator_token_, viewer_token_;
  const Clock& clock_;
  const SessionOptions options_;
  std::mutex mu_;
  std::map<std::string, Session> sessions_;
};

// The value of cookie `name` in a Cookie header ("a=1; dcops_session=…"), or "".
std::string CookieValue(const std::string& cookie_header, const std::string& name);

}  // namespace dcops::dispatcher
