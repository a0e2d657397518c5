#pragma once
// The dispatcher's small JSON API for the `dcops` CLI (and scripts), served under /api/v1 on
// the dispatcher's HTTP port (127.0.0.1 by default) behind a bearer token:
//
//   GET  /api/v1/jobs[?status=S&limit=N]        {"jobs": [...]}
//   POST /api/v1/jobs                           {"job_type", "target_scope", "params",
//                                                "priority", "idempotency_key"} -> 201 {"id"}
//   GET  /api/v1/jobs/ID                        the job with its steps
//   GET  /api/v1/jobs/ID/events[?after=N]       {"events": [...]} (ids ascending)
//   POST /api/v1/jobs/ID/cancel                 {"result": "cancelled" | "cancel_requested" | ...}
//   GET  /api/v1/agents                         {"agents": [...]}
//   GET  /api/v1/credential-sets                {"credential_sets": [...]} (never a secret)
//   PUT  /api/v1/credential-sets/NAME           {"kind", "username", "password"} -> {"id"}
//   GET  /api/v1/jobs/ID/steps/STEP             the step with its params and result
//   POST /api/v1/jobs/ID/resume                 {"resolution": "retry" | "evacuate" | "skip_host"}
//   GET  /api/v1/job-types                      {"job_types": [...]} with their params schemas
//   GET  /api/v1/inventory[?q=TEXT&limit=N]     {"servers", "hosts", "vms", "conflicts"} (links included)
//   GET  /api/v1/schedules                      {"schedules": [...]}
//   GET  /api/v1/limits                         {"limits": [...]} per target with steps running now
//   GET  /api/v1/whoami                         {"role", "actor", "site"}
//   GET  /api/v1/identity-conflicts[?status=S&limit=N]
//                                               {"identity_conflicts": [...]} (S: open (default),
//                                                resolved, dismissed, cleared or all; newest first)
//   POST /api/v1/identity-conflicts/ID/resolve  {"action", "server_id", "note"} -> the conflict
//                                                (action: dismiss, merge, link, unlink, assign or accept)
//
// Who may call (api_access.hpp): the operator token does everything; the viewer token and a
// viewer's console session only GET (anything else is 403). A console session (cookie) must
// also send `X-Dcops-Console: 1` with anything but a GET: a header another site's page cannot
// add without a CORS preflight this server never answers, so a forged form post is refused.
// The actor of a session is its login name; a bearer token's caller names itself with
// X-Dcops-Actor.
//
// Errors are {"error": {"code", "message"}} with 400 (the message names the field at fault),
// 401, 403, 404, 409 (the object is not in a state that allows it, e.g. a conflict already
// resolved), 503 (database away; retry) or 500. A password sent to PUT is sealed here with the
// site key and registered for redaction before anything else happens to it.
//
// Ownership: owns one database connection of its own (the dispatch loop's is never shared);
// borrows the SecretBox, the redaction registry and the logger, which must outlive it.
// Thread-safety: Handle() may be called from many threads; calls are serialised on the
// connection. Blocking: Handle() blocks on the database, bounded by its statement timeout.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "api_access.hpp"
#include "dcops/common/log.hpp"
#include "dcops/common/redact.hpp"
#include "dcops/db/connection.hpp"
#include "dcops/db/reconnector.hpp"
#include "dcops/tls/secret_box.hpp"

namespace dcops::dispatcher {

struct ApiRequest {
  std::string method;  // "GET", "POST", "PUT"
  std::string path;    // "/api/v1/jobs/…"
  std::map<std::string, std::string> query;
  std::string authorization;  // the Authorization header as sent
  std::string actor;          // X-Dcops-Actor: who the caller says they are (for the audit trail)
  std::string body;
  std::string cookie;    // the Cookie header as sent (a console session)
  bool console = false;  // X-Dcops-Console was sent (see above)
};

struct ApiResponse {
  int status = 200;
  std::string body;  // JSON
};

class Api {
 public:
  // `token` empty disables the API (every call answers 503 saying how to enable it);
  // `viewer_token` empty means no viewer token.
  Api(std::string site, std::string token, db::DbOptions db, const tls::SecretBox& secrets,
      SecretRegistry& redact, const Logger& log, std::string viewer_token = "");
  ~Api();

  ApiResponse Handle(const ApiRequest& request);
  // Whether a request with these headers may go on to be read (its body) and handled: a token
  // or session matches, or the API is disabled and Handle will say so. Thread-safe; no I/O.
  bool Admits(const std::string& authorization, const std::string& cookie);
  ApiAccess& access() { return access_; }
  // GET /limits answers from `feed` (the loop's view); without one it answers an empty list.
  void ServeLimitsFrom(const class ChangeFeed& feed) { limits_ = &feed; }
  const std::string& site() const { return site_; }
  // Unfinished steps of the site by state, for /metrics (no token: the caller is in-process).
  Result<std::map<std::string, long>> QueueDepth();

 private:
  ApiResponse Route(const ApiRequest& request, const Principal& who, db::Connection& conn);

  std::string site_;
  ApiAccess access_;
  const ChangeFeed* limits_ = nullptr;
  const tls::SecretBox& secrets_;
  SecretRegistry& redact_;
  const Logger& log_;
  std::mutex mu_;
  std::unique_ptr<db::Reconnector> db_;
};

}  // namespace dcops::dispatcher
