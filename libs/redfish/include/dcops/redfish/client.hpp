#pragma once
// A Redfish client for one BMC, as one step sees it.
//
// Authentication, decided from the service: a Redfish session (X-Auth-Token) from the agent's
// SessionCache, created on first use by a POST to the session collection the service root
// names in Links.Sessions; a 401 on a cached token re-authenticates once (the BMC restarted,
// the session expired). A root without Links.Sessions, or a session collection that refuses
// logins (404/405), means basic auth for that BMC. A 503 RAC0218 (session cap)
// is returned as redfish.session_cap: the step waits and tries later, it never opens more;
// first, sessions this agent (or its killed predecessor) left on that BMC are logged out and
// the login is tried once more.
// Errors are mapped by ErrorFromResponse; documents are parsed by Document::Parse.
//
// Ownership: borrows the http::Client, SessionCache and Clock.
// Thread-safety: a Client is used by one step at a time (cheap to create per step).
// Blocking: every call blocks, bounded by the HTTP client's timeouts and retries.

#include <chrono>
#include <memory>
#include <string>

#include "dcops/common/clock.hpp"
#include "dcops/http/client.hpp"
#include "dcops/redfish/breaker.hpp"
#include "dcops/redfish/json.hpp"
#include "dcops/redfish/service.hpp"
#include "dcops/redfish/session_cache.hpp"

namespace dcops::redfish {

struct Target {
  std::string address;   // host[:port], e.g. "127.0.1.4:8443"
  std::string username;
  std::string password;  // secret: only ever in a login body or basic-auth header
  http::TlsOptions tls;
  // Pacing for this BMC (from the dispatcher's assignment).
  std::chrono::milliseconds min_interval{0};
};

class Client {
 public:
  // `breakers` (optional) fails requests fast while this BMC's breaker is open. `services`
  // (optional) keeps what navigation learnt across steps; without it this Client keeps its own.
  Client(http::Client& http, SessionCache& sessions, Target target, Clock& clock,
         BreakerBoard* breakers = nullptr, ServiceCache* services = nullptr);

  Result<Document> Get(const std::string& path);
  // POSTs a JSON body (an action). 2xx: the response; anything else: a mapped Error.
  // `extra_retry_statuses` marks refusals that took no effect and may be retried at once.
  Result<http::Response> Post(const std::string& path, const std::string& json_body);
  Result<http::Response> Patch(const std::string& path, const std::string& json_body);
  // A GET whose body is not a Redfish resource (an exported profile): any 2xx answer as it
  // came, 202 included; errors mapped as for Get.
  Result<http::Response> GetRaw(const std::string& path);
  // A multipart/form-data POST (Redfish's MultipartHttpPushUri); file parts are streamed.
  // `timeout` bounds the whole upload. Never retried: a POST that may have arrived.
  Result<http::Response> PostForm(const std::string& path, std::vector<http::FormPart> parts,
                                  std::chrono::milliseconds timeout);

  // Proves the credentials with a session of their own (created, then deleted), never the
  // cached one: a cached session says nothing about a password that changed since.
  Status VerifyLogin();

  // The service root, read without credentials (DSP0266 requires it readable; a BMC that
  // answers 401 anyway is read with basic auth). Cached per BMC.
  Result<std::shared_ptr<const ServiceRoot>> Root();
  // The system and manager, navigated from the root (cached per BMC).
  Result<ServiceMap> Map();
  // Forgets what navigation learnt about this BMC (a navigated resource answered 404).
  void ForgetService();

  const Target& target() const { return target_; }
  std::string Url(const std::string& path) const;

 private:
  Result<http::Response> Send(http::Method method, const std::string& path,
                              const std::string& body);
  // Sends `req` (method, headers, body or form set) to `path` with this BMC's session.
  Result<http::Response> Send(http::Request req, const std::string& path);
  Result<http::Response> SendOnce(http::Request request, const std::string& token);
  // A JSON request to `path` of this BMC with its TLS and pacing, and no credentials yet.
  http::Request Unauthenticated(http::Method method, const std::string& path) const;
  // POST of the login body to a session collection (one attempt: a refused login is final).
  Result<http::Response> PostLogin(const std::string& path);
  // The HTTP client's Execute behind this BMC's circuit breaker.
  Result<http::Response> Execute(const http::Request& request);
  // A session token, or "" when this BMC only does basic auth.
  // The cached session of this credential, or a new one (one login per BMC at a time).
  Result<std::string> Token();

  http::Client& http_;
  SessionCache& sessions_;
  Target target_;
  Clock& clock_;
  BreakerBoard* breakers_;
  std::unique_ptr<ServiceCache> own_services_;  // when the caller gives none
  ServiceCache* services_;
};

// Deletes sessions (idle ones, all at shutdown, orphans) with their own tokens. A session the
// BMC no longer knows (401, 404) counts as deleted; one that could not be reached stays in the
// cache's journal as an orphan, tried again later.
//
// BMCs are swept in parallel, up to `parallel` at once, and each BMC's sessions one after
// another (the sweep never sends a BMC two logouts at once; a step's own requests may run
// beside it): a thousand sessions on a thousand BMCs take about sixteen request times, not a
// thousand. Each logout gets at most kLogoutTimeout per attempt; one not answered stays an
// orphan. Blocking until every DELETE has an answer or failed; thread-safe.
struct SessionSweep {
  int deleted = 0;
  int kept = 0;  // unreachable now: orphans
};
inline constexpr int kSweepParallel = 64;
inline constexpr std::chrono::milliseconds kLogoutTimeout{10000};
SessionSweep DeleteSessions(http::Client& http, SessionCache& cache, const std::vector<CachedSession>& sessions,
                            int parallel = kSweepParallel);

}  // namespace dcops::redfish
