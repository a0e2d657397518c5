#include "dcops/db/connection.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace dcops::db {
namespace {

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string FirstLine(std::string_view text) {
  std::string s(text.substr(0, text.find('\n')));
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

bool IsPlainIdentifier(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

long RoundUpSeconds(std::chrono::milliseconds ms) {
  return static_cast<long>(std::max<std::int64_t>(1, (ms.count() + 999) / 1000));
}

// The server's own words: primary message, then DETAIL when there is one.
Error SqlErrorFromResult(const PGresult* result) {
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
  std::string message = primary ? primary : PQresultErrorMessage(result);
  if (detail && *detail) message += fmt::format(" ({})", detail);
  return ClassifySqlError(state ? state : "XX000", message);
}

}  // namespace

Error ClassifyConnectFailure(std::string_view libpq_message, std::string_view where) {
  // libpq reports connection failures only as text (no SQLSTATE), so this is the one place
  // that reads it. The message lists every address tried; keep its most telling line.
  const std::string text(libpq_message);
  std::string reason = FirstLine(text);
  for (std::string_view key : {"password authentication failed", "no pg_hba.conf entry",
                               "does not exist", "Connection refused", "timeout expired"}) {
    const auto pos = text.find(key);
    if (pos != std::string::npos) {
      const auto start = text.rfind('\n', pos);
      reason = FirstLine(std::string_view(text).substr(start == std::string::npos ? 0 : start + 1));
      break;
    }
  }
  const std::string message = fmt::format("connecting to {}: {}", where, reason);
  if (Contains(text, "password authentication failed") || Contains(text, "no pg_hba.conf entry") ||
      Contains(text, "authentication failed") ||
      (Contains(text, "role \"") && Contains(text, "does not exist")) ||
      Contains(text, "password is required") || Contains(text, "no password supplied")) {
    return MakeError("db.auth", message, false);
  }
  if (Contains(text, "database \"") && Contains(text, "does not exist")) {
    return MakeError("db.no_database", message, false);
  }
  if (Contains(text, "Connection refused") || Contains(text, "No such file or directory")) {
    return MakeError("db.refused", message, true);
  }
  if (Contains(text, "timeout expired")) return MakeError("db.timeout", message, true);
  if (Contains(text, "the database system is starting up") ||
      Contains(text, "the database system is shutting down")) {
    return MakeError("db.refused", message, true);
  }
  return MakeError("db.connect", message, true);
}

Error ClassifySqlError(std::string_view sqlstate, std::string_view message) {
  const std::string text = fmt::format("SQLSTATE {}: {}", sqlstate, FirstLine(message));
  Error e;
  e.message = text;
  e.sqlstate = std::string(sqlstate);
  const std::string_view cls = sqlstate.substr(0, 2);
  if (sqlstate == "57014") {
    e.code = "db.timeout";
    e.retryable = true;
  } else if (cls == "08" || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
    e.code = "db.connection_lost";
    e.retryable = true;
  } else if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") {
    e.code = "db.conflict";
    e.retryable = true;
  } else if (cls == "53") {
    e.code = "db.resources";
    e.retryable = true;
  } else if (sqlstate == "42501") {
    e.code = "db.permission";
  } else {
    e.code = "db.sql";
  }
  return e;
}

Result<Connection> Connection::Open(const DbOptions& options) {
  const std::string timeout = std::to_string(RoundUpSeconds(options.connect_timeout));
  // TCP keepalives and tcp_user_timeout bound how long a call can hang on a dead network;
  // the server-side statement timeout bounds slow statements.
  const std::string user_timeout =
      std::to_string(std::max<std::int64_t>(options.statement_timeout.count(), 10000) + 5000);
  const char* keys[] = {"dbname", "connect_timeout", "application_name", "keepalives",
                        "keepalives_idle", "keepalives_interval", "keepalives_count",
                        "tcp_user_timeout", nullptr};
  const char* values[] = {options.dsn.c_str(), timeout.c_str(),
                          options.application_name.c_str(), "1", "10", "5", "3",
                          user_timeout.c_str(), nullptr};
  pg_conn* raw = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (raw == nullptr) return MakeError("db.connect", "libpq could not allocate a connection", true);
  if (PQstatus(raw) != CONNECTION_OK) {
    const char* host = PQhost(raw);
    const char* port = PQport(raw);
    const std::string where = fmt::format("{}:{}", host && *host ? host : "(default)",
                                          port && *port ? port : "5432");
    Error e = ClassifyConnectFailure(PQerrorMessage(raw), where);
    PQfinish(raw);
    return e;
  }
  // Server NOTICEs ("relation already exists, skipping") are not errors and not ours to
  // print; libpq's default would write them to stderr, outside our JSON log.
  PQsetNoticeProcessor(raw, [](void*, const char*) {}, nullptr);
  Connection conn(raw);
  // The server's side of a dead network: without these it keeps a vanished client's session
  // (and any advisory lock it holds: the site's leader lock) for the OS default of two hours.
  // With them it lets go within ~25 s, so a standby can lead (no-ops over a Unix socket).
  constexpr std::string_view kSettings =
      "SELECT set_config('statement_timeout', $1, false), "
      "set_config('idle_in_transaction_session_timeout', $2, false), "
      "set_config('tcp_keepalives_idle', '10', false), set_config('tcp_keepalives_interval', '5', false), "
      "set_config('tcp_keepalives_count', '3', false), set_config('tcp_user_timeout', '25000', false), "
      "set_config('client_connection_check_interval', '5000', false)";
  auto applied = conn.Exec(kSettings, {std::to_string(options.statement_timeout.count()),
                                      std::to_string(options.idle_in_transaction_timeout.count())});
  if (!applied) return applied.error();
  if (!options.role.empty()) {
    auto role = conn.Exec("SELECT set_config('role', $1, false)", {options.role});
    if (!role) return role.error();
  }
  return conn;
}

Connection::Connection(Connection&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)), channels_(std::move(other.channels_)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (conn_) PQfinish(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
    channels_ = std::move(other.channels_);
  }
  return *this;
}

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

bool Connection::Healthy() const { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

int Connection::BackendPid() const { return conn_ ? PQbackendPID(conn_) : 0; }

Error Connection::ErrorFromConnection(std::string_view what) const {
  return MakeError("db.connection_lost",
                   fmt::format("{}: {}", what, FirstLine(conn_ ? PQerrorMessage(conn_) : "")),
                   true);
}

Result<Rows> Connection::Exec(std::string_view sql, const Params& params) {
  if (!conn_) return MakeError("db.connection_lost", "no connection", true);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  const std::string text(sql);
  PGresult* result = PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                                  values.data(), nullptr, nullptr, 0);
  Rows rows(result);  // owns `result` from here on
  if (result == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    return ErrorFromConnection("running statement");
  }
  const auto status = PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return rows;
  return SqlErrorFromResult(result);
}

Status Connection::ExecScript(std::string_view sql) {
  if (!conn_) return MakeError("db.connection_lost", "no connection", true);
  const std::string text(sql);
  PGresult* result = PQexec(conn_, text.c_str());
  Rows owner(result);  // frees `result` on every path
  if (result == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    return ErrorFromConnection("running script");
  }
  const auto status = PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
    return {};
  }
  return SqlErrorFromResult(result);
}

Status Connection::Listen(std::string_view channel) {
  if (!IsPlainIdentifier(channel)) {
    return MakeError("db.invalid", fmt::format("'{}' is not a plain channel name", channel));
  }
  // LISTEN takes no parameters; the name was checked to be a plain identifier above.
  auto done = Exec(fmt::format("LISTEN {}", channel));
  if (!done) return done.error();
  if (std::find(channels_.begin(), channels_.end(), channel) == channels_.end()) {
    channels_.emplace_back(channel);
  }
  return {};
}

Result<std::vector<Notification>> Connection::WaitForNotifications(
    std::chrono::milliseconds timeout) {
  if (!conn_) return MakeError("db.connection_lost", "no connection", true);
  std::vector<Notification> out;
  auto drain = [&]() -> Status {
    if (PQconsumeInput(conn_) == 0) return ErrorFromConnection("waiting for notifications");
    while (PGnotify* n = PQnotifies(conn_)) {
      out.push_back(Notification{n->relname, n->extra ? n->extra : "", n->be_pid});
      PQfreemem(n);
    }
    return {};
  };
  if (auto st = drain(); !st) return st.error();
  if (!out.empty()) return out;
  pollfd pfd{PQsocket(conn_), POLLIN, 0};
  if (pfd.fd < 0) return ErrorFromConnection("waiting for notifications");
  int ready = 0;
  do {
    ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) {
    return MakeError("db.connection_lost", fmt::format("poll: {}", std::strerror(errno)), true);
  }
  if (ready == 0) return out;
  if (auto st = drain(); !st) return st.error();
  return out;
}

}  // namespace dcops::db
