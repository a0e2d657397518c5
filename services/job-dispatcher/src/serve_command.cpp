#include "serve_command.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "control_plane.hpp"
#include "database_url.hpp"
#include "dcops/common/stop_signals.hpp"
#include "dcops/db/reconnector.hpp"
#include "dcops/tls/secret_box.hpp"
#include "dispatcher.hpp"

namespace dcops::dispatcher {
namespace {

struct ServeConfig {
  std::string database_url, site = "default", secret_key_file, grpc_listen = "127.0.0.1:50051";
  std::string agent_token, agent_token_file, tls_cert_file, tls_key_file, dispatcher_id, db_role;
  std::string api_token, api_token_file, viewer_token, viewer_token_file, limits_file;
  bool bench_job_types = false;
  std::string log_level = "info";
  std::string http_listen_host = "127.0.0.1";
  std::int64_t http_port = 8080, lease_seconds = 30;
  std::chrono::milliseconds heartbeat{5000};
  std::chrono::milliseconds retention{std::chrono::hours(24 * 30)};
  bool insecure_dev = false;
  bool accept_shared_agent_token = false;
  std::string database_unverified_hosts;
};

ConfigSpec Spec(ServeConfig* c) {
  ConfigSpec spec("DCOPS_");
  spec.String("DATABASE_URL", &c->database_url, "control-plane PostgreSQL DSN", true)
      .String("DATABASE_URL_ALLOW_UNVERIFIED", &c->database_unverified_hosts,
              "hosts (comma-separated) reached without sslmode=verify-full: a private network's own database")
      .String("SITE", &c->site, "the site this dispatcher serves")
      .String("SECRET_KEY_FILE", &c->secret_key_file, "32-byte key that opens credential sets", true)
      .String("GRPC_LISTEN", &c->grpc_listen, "address agents connect to")
      .String("AGENT_TOKEN_FILE", &c->agent_token_file, "file holding the site's agent secret (agents get tokens "
                                                        "derived from it: job-dispatcher certs agent-token)")
      .String("AGENT_TOKEN", &c->agent_token, "the site's agent secret (prefer the _FILE form)")
      .Bool("ACCEPT_SHARED_AGENT_TOKEN", &c->accept_shared_agent_token,
            "also accept the agent secret itself, from any agent id (sites upgrading to per-agent tokens)")
      .String("TLS_CERT_FILE", &c->tls_cert_file, "gRPC server certificate (PEM)")
      .String("TLS_KEY_FILE", &c->tls_key_file, "gRPC server key (PEM)")
      .String("DISPATCHER_ID", &c->dispatcher_id, "name in logs and Welcome")
      .String("DB_ROLE", &c->db_role, "SET ROLE after connecting (e.g. dcops_dispatcher)")
      .OneOf("LOG_LEVEL", &c->log_level, {"debug", "info", "warn", "error"}, "log level")
      .Int("HTTP_PORT", &c->http_port, 1, 65535, "health, metrics and /api/v1 port")
      .String("HTTP_LISTEN_HOST", &c->http_listen_host, "address of the HTTP port (127.0.0.1; 0.0.0.0 in a container)")
      .Int("LEASE_SECONDS", &c->lease_seconds, 5, 3600, "step lease")
      .Duration("HEARTBEAT", &c->heartbeat, "agent heartbeat interval")
      .Duration("RETENTION", &c->retention, "finished jobs, offline agents and log entries older than this are "
                                            "deleted (default 720h; at least 1h; 0 keeps everything)")
      .Bool("INSECURE_DEV", &c->insecure_dev, "plaintext gRPC (development only)")
      .String("API_TOKEN_FILE", &c->api_token_file, "file holding the /api/v1 bearer token (the CLI's)")
      .String("API_TOKEN", &c->api_token, "the /api/v1 bearer token (prefer the _FILE form)")
      .String("API_VIEWER_TOKEN_FILE", &c->viewer_token_file, "file holding a read-only token for the API and console")
      .String("API_VIEWER_TOKEN", &c->viewer_token, "the read-only token (prefer the _FILE form)")
      .String("LIMITS_FILE", &c->limits_file, "JSON per-kind / per-target limits and pacing")
      .Bool("BENCH_JOB_TYPES", &c->bench_job_types, "plan bench.noop (benchmarks only)");
  return spec;
}

std::atomic<Dispatcher*> g_dispatcher{nullptr};

}  // namespace

int RunServe(const Environment& env, bool insecure_flag, const Logger& base_log, SecretRegistry& redact) {
  ServeConfig c;
  if (auto st = Spec(&c).Load(env, ReadWholeFile); !st) {
    base_log.Error(st.error().message);
    return 2;
  }
  // DCOPS_LOG_LEVEL: every line of this dispatcher from here on (the dispatcher, its API, its loop).
  const Logger log = base_log.WithMinLevel(LogLevelFromName(c.log_level));
  if (!AcceptDatabaseUrl(c.database_url, c.database_unverified_hosts, redact, log)) return 2;
  auto box = tls::SecretBox::FromKeyFile(c.secret_key_file);
  if (!box) {
    log.Error(box.error().message);
    return 2;
  }
  // A token from its _FILE key when set, registered for redaction either way.
  auto token = [&](const std::string& file, std::string& value) {
    if (!file.empty()) {
      auto t = ReadSecretFile(file);
      if (!t) {
        log.Error(t.error().message);
        return false;
      }
      value = *t;
    }
    redact.Add(value);
    return true;
  };
  if (!token(c.agent_token_file, c.agent_token) || !token(c.api_token_file, c.api_token) ||
      !token(c.viewer_token_file, c.viewer_token)) {
    return 2;
  }
  if (!c.viewer_token.empty() && c.viewer_token == c.api_token) {
    log.Error("DCOPS_API_VIEWER_TOKEN must differ from DCOPS_API_TOKEN (the viewer token reads only)");
    return 2;
  }
  DispatcherOptions o;
  if (!c.limits_file.empty()) {
    auto text = ReadWholeFile(c.limits_file);
    auto limits = text ? ParseLimitsJson(*text) : Result<LimitsConfig>(text.error());
    if (!limits) {
      log.Error(fmt::format("DCOPS_LIMITS_FILE {}: {}", c.limits_file, limits.error().message));
      return 2;
    }
    o.limits = *limits;
  }
  o.api_token = c.api_token;
  o.viewer_token = c.viewer_token;
  o.bench_job_types = c.bench_job_types;
  o.site = c.site;
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  o.dispatcher_id = c.dispatcher_id.empty() ? fmt::format("{}-{}", host, ::getpid()) : c.dispatcher_id;
  o.db.dsn = c.database_url;
  // The dispatcher's own session by name (an operator, or a test, can find the leader's).
  o.db.application_name = ("job-dispatcher:" + o.dispatcher_id).substr(0, 63);
  o.db.role = c.db_role;
  o.grpc_listen = c.grpc_listen;
  o.agent_token = c.agent_token;
  o.accept_shared_agent_token = c.accept_shared_agent_token;
  o.insecure_dev = c.insecure_dev || insecure_flag;
  o.tls_cert_file = c.tls_cert_file;
  o.tls_key_file = c.tls_key_file;
  o.http_port = static_cast<int>(c.http_port);
  o.http_listen_host = c.http_listen_host;
  o.lease = std::chrono::seconds(c.lease_seconds);
  o.heartbeat = c.heartbeat;
  if (c.retention.count() > 0 && c.retention < std::chrono::hours(1)) {
    log.Error("DCOPS_RETENTION: at least 1h (or 0 to keep everything)");
    return 2;
  }
  o.retention = c.retention;
  if (o.insecure_dev) log.Warn("plaintext gRPC: --insecure-dev is for development only");

  const sigset_t signals = BlockStopSignals();
  Dispatcher dispatcher(o, std::move(*box), log, redact);
  std::thread waiter([&dispatcher, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    dispatcher.Stop();
  });
  const int rc = dispatcher.Run();
  if (rc != 0) ::kill(::getpid(), SIGTERM);  // release the waiter
  waiter.join();
  return rc;
}

int RunCredentialsSet(const Environment& env, const std::string& name, const std::string& kind,
                      const std::string& user, const Logger& log, SecretRegistry& redact) {
  ServeConfig c;
  if (auto st = Spec(&c).Load(env, ReadWholeFile); !st) {
    log.Error(st.error().message);
    return 2;
  }
  auto box = tls::SecretBox::FromKeyFile(c.secret_key_file);
  if (!box) {
    log.Error(box.error().message);
    return 2;
  }
  if (!AcceptDatabaseUrl(c.database_url, c.database_unverified_hosts, redact, log)) return 2;
  std::string password;
  std::getline(std::cin, password);
  if (password.empty()) {
    log.Error("no password on standard input");
    return 2;
  }
  db::DbOptions dbo;
  dbo.dsn = c.database_url;
  dbo.role = c.db_role;
  auto conn = db::Connection::Open(dbo);
  if (!conn) {
    log.Error(conn.error().message);
    return 1;
  }
  auto sealed = box->Seal(password, name);
  if (!sealed) {
    log.Error(sealed.error().message);
    return 1;
  }
  ControlPlane cp(*conn);
  auto id = cp.PutCredentialSet({"", name, kind, user, *sealed, box->KeyId()}, "cli");
  if (!id) {
    log.Error(id.error().message);
    return 1;
  }
  log.Info("credential set stored", {}, {{"name", name}, {"kind", kind}, {"id", *id}});
  return 0;
}

}  // namespace dcops::dispatcher
