#pragma once
// A PostgreSQL connection over libpq.
//
// Statements are always parameterised (PQexecParams): values travel apart from the SQL text,
// so no user data is ever spliced into SQL. The only text-level entry point, ExecScript(),
// is for trusted files (migrations) and takes no parameters.
//
// Every failure maps once, here, into an Error with a stable code:
//   db.refused           nothing listens at the address (retryable)
//   db.auth              authentication or authorisation to connect failed
//   db.no_database       the database does not exist
//   db.timeout           connect timeout or statement timeout (SQLSTATE 57014) (retryable)
//   db.connection_lost   the server went away mid-session (retryable; reconnect first)
//   db.conflict          serialization failure or deadlock (retryable)
//   db.permission        SQLSTATE 42501
//   db.sql               any other SQL error; Error::sqlstate holds the SQLSTATE
//   db.connect           any other connection failure (retryable)
// Messages name host and port but never the password.
//
// Ownership: a Connection owns its PGconn. Move-only.
// Thread-safety: none; use one Connection per thread.
// Blocking: every call blocks the calling thread, bounded by the timeouts in DbOptions.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dcops/common/backoff.hpp"
#include "dcops/common/result.hpp"
#include "dcops/db/rows.hpp"

struct pg_conn;

namespace dcops::db {

struct DbOptions {
  // libpq URL or keyword string. May contain a password: never log it as is
  // (see RedactConnectionString).
  std::string dsn;
  // Bound on establishing a connection (libpq connect_timeout, rounded up to seconds).
  std::chrono::milliseconds connect_timeout{5000};
  // Server-side bound on every statement (statement_timeout); 0 disables.
  std::chrono::milliseconds statement_timeout{30000};
  // A session idle inside a transaction longer than this is ended by the server.
  std::chrono::milliseconds idle_in_transaction_timeout{60000};
  // Shown in pg_stat_activity.
  std::string application_name = "dcops";
  // When set, the session runs as this role (SET ROLE), e.g. dcops_dispatcher for a login
  // role that is a member of it.
  std::string role;
  // Waits between connection attempts in Reconnector.
  BackoffPolicy reconnect{std::chrono::milliseconds(250), std::chrono::milliseconds(5000), 2.0,
                          0.5, 0};
};

// One NULL-able text parameter.
using Param = std::optional<std::string>;
using Params = std::vector<Param>;

struct Notification {
  std::string channel;
  std::string payload;
  int sender_pid = 0;
};

class Connection {
 public:
  // Connects and applies the session settings in `options`.
  static Result<Connection> Open(const DbOptions& options);

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs one parameterised statement ($1, $2, ...). Parameters are sent as text.
  Result<Rows> Exec(std::string_view sql, const Params& params = {});
  // Runs a trusted multi-statement script (a migration). Never pass user data here.
  Status ExecScript(std::string_view sql);

  // LISTEN on `channel` (a plain identifier: letters, digits, underscore).
  Status Listen(std::string_view channel);
  // Notifications already received or arriving within `timeout`. An empty vector means the
  // timeout passed. Fails with db.connection_lost when the server goes away.
  Result<std::vector<Notification>> WaitForNotifications(std::chrono::milliseconds timeout);

  // True while libpq considers the connection usable.
  bool Healthy() const;
  // Backend process id, for tests that terminate a session on purpose.
  int BackendPid() const;
  // Channels LISTENed to, so a reconnect can restore them.
  const std::vector<std::string>& channels() const { return channels_; }

 private:
  explicit Connection(pg_conn* conn) : conn_(conn) {}
  Error ErrorFromConnection(std::string_view what) const;

  pg_conn* conn_ = nullptr;
  std::vector<std::string> channels_;
};

// Runs `fn(conn)` inside BEGIN/COMMIT; rolls back when it returns an error.
template <typename Fn>
auto InTransaction(Connection& conn, Fn&& fn) -> decltype(fn(conn)) {
  if (auto begun = conn.Exec("BEGIN"); !begun) return begun.error();
  auto result = fn(conn);
  if (!result) {
    (void)conn.Exec("ROLLBACK");
    return result;
  }
  if (auto committed = conn.Exec("COMMIT"); !committed) return committed.error();
  return result;
}

// Maps a libpq connection failure message into a classified Error (exposed for tests).
Error ClassifyConnectFailure(std::string_view libpq_message, std::string_view where);
// Maps a SQLSTATE + message into a classified Error (exposed for tests).
Error ClassifySqlError(std::string_view sqlstate, std::string_view message);

}  // namespace dcops::db
