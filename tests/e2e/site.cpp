#include "site.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "agent_identity.hpp"
#include "control_plane.hpp"
#include "dcops/agent/v1/agent.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "dcops/common/config.hpp"
#include "dcops/http/client.hpp"
#include "dcops/tls/secret_box.hpp"

namespace dcops::e2e {

Process::Process(std::string name, std::vector<std::string> argv, std::map<std::string, std::string> env,
                 std::string log_path, std::string stdin_path)
    : name_(std::move(name)), log_path_(std::move(log_path)) {
  // A clean environment: only what the process is given (and PATH), never the test's own.
  if (const char* path = std::getenv("PATH")) env.emplace("PATH", path);
  for (const char* keep : {"ASAN_OPTIONS", "UBSAN_OPTIONS"}) {
    if (const char* v = std::getenv(keep)) env.emplace(keep, v);
  }
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const std::string in = stdin_path.empty() ? "/dev/null" : stdin_path;
  const pid_t parent = ::getpid();
  // fork + exec rather than posix_spawn, for PR_SET_PDEATHSIG: children die with the test
  // binary even when it is killed from outside (a ctest timeout), so none is left holding a
  // loopback address for the next run. Only async-signal-safe calls between fork and exec.
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    const int out = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int input = ::open(in.c_str(), O_RDONLY);
    if (out < 0 || input < 0) ::_exit(127);
    ::dup2(input, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
}

Process::~Process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void Process::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

bool Process::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

std::string Process::Log() const { return ReadWholeFile(log_path_).value_or(""); }

bool WaitUntil(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ready();
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string HttpGet(const std::string& url, bool any_status) {
  static http::CurlTransport transport;
  http::ClientOptions o;
  o.retry.max_attempts = 1;
  o.timeout = std::chrono::milliseconds(3000);
  http::Client client(o, transport, SystemClock::Instance());
  http::Request req;
  req.url = url;
  auto r = client.Execute(req);
  return r && (any_status || r->ok()) ? r->body : std::string();
}

Site::Site(SiteOptions options) : options_(std::move(options)), db_(tdb_.Connect()) {
  char tmpl[] = "/tmp/dcops-e2e.XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  dir_ = tmpl;
  std::string key = tls::SecretBox::NewHexKey();
  token_ = "agent-token-" + tls::SecretBox::NewHexKey().substr(0, 24);
  if (options_.tls) {
    // The site's PKI, key and token, made the way an operator makes them.
    Process init("certs", {DCOPS_JOB_DISPATCHER, "certs", "init", dir_ + "/pki"}, {}, dir_ + "/certs.log");
    REQUIRE(WaitUntil([&init] { return !init.Running(); }, std::chrono::seconds(20)));
    key = ReadWholeFile(dir_ + "/pki/site.key").value_or("");
    token_ = ReadWholeFile(dir_ + "/pki/agent.token").value_or("");
    while (!token_.empty() && token_.back() == '\n') token_.pop_back();
    REQUIRE(token_.size() == 64);
  }
  bmc_password_ = "bmc-pass-" + tls::SecretBox::NewHexKey().substr(0, 16);
  std::ofstream(dir_ + "/key") << key;  // same key (from certs init when TLS is on)
  std::ofstream(dir_ + "/token") << token_;
  std::ofstream(dir_ + "/bmc-password") << bmc_password_;
  api_token_ = "api-token-" + tls::SecretBox::NewHexKey().substr(0, 32);
  std::ofstream(dir_ + "/api-token") << api_token_ << "\n";
  viewer_token_ = "viewer-token-" + tls::SecretBox::NewHexKey().substr(0, 32);
  std::ofstream(dir_ + "/viewer-token") << viewer_token_ << "\n";
  for (int i = 0; i < 2; ++i) {
    grpc_ports_[i] = FreePort();
    http_ports_[i] = FreePort();
  }
  control_port_ = FreePort();
  images_port_ = FreePort();
  std::filesystem::create_directories(dir_ + "/images");

  std::vector<std::string> sim_argv{DCOPS_REDFISH_SIM, "--count", std::to_string(options_.bmcs), "--first",
                                    options_.first_bmc, "--port", "18443", "--control-port",
                                    std::to_string(control_port_), "--password-file", dir_ + "/bmc-password",
                                    "--restart-ms", std::to_string(options_.restart_ms), "--power-on-ms", "300",
                                    "--on-after-off-ms", "1000", "--job-ms", "400", "--idrac-restart-ms", "800",
                                    "--impostors", std::to_string(options_.impostors), "--download-ms", "200",
                                    "--image-dir", dir_ + "/images", "--image-share",
                                    "127.0.0.1:" + std::to_string(images_port_)};
  sim_argv.insert(sim_argv.end(), options_.sim_args.begin(), options_.sim_args.end());
  sim_ = std::make_unique<Process>("redfish-sim", std::move(sim_argv), std::map<std::string, std::string>{},
                                   dir_ + "/sim.log");
  REQUIRE(WaitUntil([this] { return sim_->Log().find("\"ready\": true") != std::string::npos; },
                    std::chrono::seconds(20)));

  // The site's credential set (sealed with the site key), and one server row per BMC with
  // its certificate pinned, as an operator would after discovery.
  auto box = tls::SecretBox::FromKeyBytes(key);
  REQUIRE(box.ok());
  dispatcher::ControlPlane cp(db_);
  auto cred = cp.PutCredentialSet({"", "idrac-default", "idrac", "root", *box->Seal(bmc_password_, "idrac-default"),
                                   box->KeyId()}, "e2e");
  REQUIRE(cred.ok());
  rapidjson::Document fleet;
  fleet.Parse(FleetJson().c_str());
  REQUIRE(fleet.IsArray());
  for (const auto& b : fleet.GetArray()) {
    if (!options_.register_servers) break;
    testing::Exec(db_, "INSERT INTO servers(bmc_address, tls_pin_sha256, credential_set_id) VALUES ($1, $2, $3)",
        {std::string(b["address"].GetString()) + ":18443", std::string(b["certificate_sha256"].GetString()), *cred});
  }
  StartDispatcher();
}

Site::~Site() {
  workers_.clear();
  dispatchers_[1].reset();
  dispatchers_[0].reset();
  sim_.reset();
  std::error_code ignored;
  if (!std::getenv("DCOPS_E2E_KEEP")) std::filesystem::remove_all(dir_, ignored);
}

std::map<std::string, std::string> Site::DispatcherEnv(int index) const {
  std::map<std::string, std::string> env{{"DCOPS_DATABASE_URL", tdb_.dsn()},
          {"DCOPS_SECRET_KEY_FILE", dir_ + "/key"},
          {"DCOPS_AGENT_TOKEN_FILE", dir_ + "/token"},
          {"DCOPS_API_TOKEN_FILE", dir_ + "/api-token"},
          {"DCOPS_API_VIEWER_TOKEN_FILE", dir_ + "/viewer-token"},
          {"DCOPS_DISPATCHER_ID", fmt::format("dispatcher-{}", index)},
          {"DCOPS_GRPC_LISTEN", fmt::format("127.0.0.1:{}", grpc_ports_[index])},
          {"DCOPS_HTTP_PORT", std::to_string(http_ports_[index])},
          {"DCOPS_DB_ROLE", "dcops_dispatcher"},
          {"DCOPS_HEARTBEAT", options_.heartbeat},
          {"DCOPS_LEASE_SECONDS", std::to_string(options_.lease_seconds)}};
  if (options_.tls) {
    env["DCOPS_TLS_CERT_FILE"] = dir_ + "/pki/dispatcher.pem";
    env["DCOPS_TLS_KEY_FILE"] = dir_ + "/pki/dispatcher-key.pem";
  }
  return env;
}

Process& Site::StartDispatcher(int index, bool expect_standby) {
  std::vector<std::string> argv{DCOPS_JOB_DISPATCHER, "serve"};
  if (!options_.tls) argv.push_back("--insecure-dev");
  auto& d = dispatchers_[index];
  d.reset();
  d = std::make_unique<Process>("job-dispatcher", argv, DispatcherEnv(index),
                                dir_ + fmt::format("/dispatcher-{}.log", index));
  const std::string want = expect_standby ? "standby\n" : "ready\n";
  REQUIRE(WaitUntil([&] { return Readyz(index) == want; }, std::chrono::seconds(20)));
  return *d;
}

std::string Site::Readyz(int index) {
  return HttpGet(fmt::format("http://127.0.0.1:{}/readyz", http_ports_[index]), /*any_status=*/true);
}

std::string Site::GrpcHealth(int index) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(fmt::format("127.0.0.1:{}", grpc_ports_[index]), AgentChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  grpc::health::v1::HealthCheckResponse response;
  if (!stub->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &response).ok()) return "";
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

namespace {

// One agent's connection, made by hand (a test playing an agent): its own channel (two of
// them are two processes, not two streams of one), its token, Hello sent and Welcome read.
struct RawAgent {
  std::unique_ptr<agent::v1::AgentService::Stub> stub;
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<agent::v1::AgentMessage, agent::v1::DispatcherMessage>> stream;

  // "" once welcomed, else what went wrong.
  std::string Open(const std::string& address, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                   const std::string& token, const std::string& agent_id, const std::vector<std::string>& step_kinds,
                   std::chrono::seconds deadline) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    stub = agent::v1::AgentService::NewStub(grpc::CreateCustomChannel(address, credentials, args));
    ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    stream = stub->Connect(&ctx);
    agent::v1::AgentMessage hello;
    hello.mutable_hello()->set_agent_id(agent_id);
    hello.mutable_hello()->set_kind("idrac-worker");
    hello.mutable_hello()->set_version("e2e");
    hello.mutable_hello()->set_capacity(1);
    for (const auto& kind : step_kinds) hello.mutable_hello()->add_step_kinds(kind);
    if (!stream->Write(hello)) return "the dispatcher closed the stream at Hello";
    agent::v1::DispatcherMessage welcome;
    if (!stream->Read(&welcome) || !welcome.has_welcome()) return "no Welcome";
    return "";
  }

  // Sends `m` and closes, reading whatever the dispatcher still sends.
  std::string SendLastAndClose(const agent::v1::AgentMessage& m, const char* what) {
    if (!stream->Write(m)) return std::string("the dispatcher closed the stream before the ") + what;
    stream->WritesDone();
    agent::v1::DispatcherMessage ignored;
    while (stream->Read(&ignored)) {
    }
    (void)stream->Finish();  // how it ended is the caller's question, asked of the dispatcher
    return "";
  }
};

}  // namespace

std::shared_ptr<grpc::ChannelCredentials> Site::AgentChannelCredentials() const {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadWholeFile(dir_ + "/pki/ca.pem").value_or("");
  return options_.tls ? grpc::SslCredentials(ssl) : grpc::InsecureChannelCredentials();
}

std::string Site::SendResultAs(const std::string& agent_id, const std::string& task_id, const std::string& lease_id,
                               int index) {
  RawAgent agent;
  if (auto e = agent.Open(fmt::format("127.0.0.1:{}", grpc_ports_[index]), AgentChannelCredentials(),
                          AgentToken(agent_id), agent_id, {}, std::chrono::seconds(10));
      !e.empty()) {
    return e;
  }
  agent::v1::AgentMessage result;
  result.mutable_result()->set_task_id(task_id);
  result.mutable_result()->set_lease_id(lease_id);
  result.mutable_result()->set_outcome(agent::v1::Result::FAILED);
  result.mutable_result()->mutable_error()->set_code("e2e.forged");
  result.mutable_result()->mutable_error()->set_message("a result this agent had no business sending");
  return agent.SendLastAndClose(result, "Result");
}

std::string Site::AgentToken(const std::string& agent_id) const {
  auto token = dispatcher::IssueAgentToken(token_, agent_id);
  REQUIRE(token.ok());
  return *token;
}

std::string Site::SecondConnectionFencesFirst(const std::string& agent_id, int index) {
  const std::string address = fmt::format("127.0.0.1:{}", grpc_ports_[index]);
  RawAgent first, second;
  if (auto e = first.Open(address, AgentChannelCredentials(), AgentToken(agent_id), agent_id, {}, std::chrono::seconds(20));
      !e.empty()) {
    return "first: " + e;
  }
  if (auto e = second.Open(address, AgentChannelCredentials(), AgentToken(agent_id), agent_id, {}, std::chrono::seconds(20));
      !e.empty()) {
    return "second: " + e;
  }
  agent::v1::DispatcherMessage ignored;
  while (first.stream->Read(&ignored)) {
  }
  const grpc::Status ended = first.stream->Finish();
  if (ended.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) return "the first connection stayed open";
  second.stream->WritesDone();
  second.ctx.TryCancel();
  (void)second.stream->Finish();  // cancelled by us: nothing to learn from its status
  return "";
}

std::string Site::AnswerAs(const std::string& agent_id,
                          const std::function<std::string(const std::string& password)>& answer, int index) {
  RawAgent agent;
  if (auto e = agent.Open(fmt::format("127.0.0.1:{}", grpc_ports_[index]), AgentChannelCredentials(),
                          AgentToken(agent_id), agent_id, {"server.power", "server.refresh", "server.logs"},
                          std::chrono::seconds(30));
      !e.empty()) {
    return e;
  }
  agent::v1::DispatcherMessage in;
  while (agent.stream->Read(&in) && !in.has_assign()) {
  }
  if (!in.has_assign()) return "no step was assigned";
  agent::v1::AgentMessage result;
  result.mutable_result()->set_task_id(in.assign().task_id());
  result.mutable_result()->set_lease_id(in.assign().lease_id());
  result.mutable_result()->set_outcome(agent::v1::Result::SUCCEEDED);
  result.mutable_result()->set_result_json(answer(in.assign().credentials().password()));
  return agent.SendLastAndClose(result, "Result");
}

Site::CliRun Site::Cli(const std::vector<std::string>& args, const std::string& stdin_text, int index,
                       const std::string& token) {
  const int n = ++cli_runs_;
  const std::string in = dir_ + fmt::format("/cli-{}.in", n), log = dir_ + fmt::format("/cli-{}.out", n);
  std::ofstream(in) << stdin_text;
  std::vector<std::string> argv{DCOPS_CLI};
  argv.insert(argv.end(), args.begin(), args.end());
  std::map<std::string, std::string> env{{"DCOPS_API_URL", fmt::format("http://127.0.0.1:{}", http_ports_[index])},
                                         {"USER", "e2e"}};
  if (token.empty()) {
    env["DCOPS_API_TOKEN_FILE"] = dir_ + "/api-token";
  } else {
    env["DCOPS_API_TOKEN"] = token;
  }
  Process cli("dcops", argv, env, log, in);
  REQUIRE(WaitUntil([&cli] { return !cli.Running(); }, std::chrono::seconds(120)));
  return {cli.exit_code(), cli.Log()};
}

void Site::CutDatabase() {
  db::DbOptions admin_options;
  admin_options.dsn = testing::Pg().admin_dsn;
  auto admin = db::Connection::Open(admin_options);
  REQUIRE(admin.ok());
  testing::Exec(*admin, fmt::format("ALTER DATABASE \"{}\" ALLOW_CONNECTIONS false", tdb_.name()));
  testing::Exec(*admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> $2::int",
                {tdb_.name(), std::to_string(db_.BackendPid())});
}

int Site::TerminateDispatcherSessions(int index) {
  db::DbOptions admin_options;
  admin_options.dsn = testing::Pg().admin_dsn;
  auto admin = db::Connection::Open(admin_options);
  REQUIRE(admin.ok());
  return std::stoi(testing::Scalar(*admin,
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
      {tdb_.name(), fmt::format("job-dispatcher:dispatcher-{}", index)}));
}

void Site::RestoreDatabase() {
  db::DbOptions admin_options;
  admin_options.dsn = testing::Pg().admin_dsn;
  auto admin = db::Connection::Open(admin_options);
  REQUIRE(admin.ok());
  testing::Exec(*admin, fmt::format("ALTER DATABASE \"{}\" ALLOW_CONNECTIONS true", tdb_.name()));
}

Process& Site::StartWorker(const std::string& id, const std::string& token, bool plaintext, int capacity) {
  // One state directory for the site's workers: each keeps its session journal there by its id,
  // so a worker restarted under the same id logs out what its killed predecessor left.
  return StartAgent(DCOPS_IDRAC_WORKER, id, token, plaintext, capacity,
                    {{"DCOPS_POLL_INTERVAL", "100ms"}, {"DCOPS_STATE_DIR", dir_ + "/state"}});
}

Process& Site::StartAgent(const std::string& binary, const std::string& id, const std::string& token, bool plaintext,
                          int capacity, std::map<std::string, std::string> env) {
  env.insert({{"DCOPS_DISPATCHER_ADDRESS", fmt::format("127.0.0.1:{},127.0.0.1:{}", grpc_ports_[0], grpc_ports_[1])},
              {"DCOPS_AGENT_TOKEN", token.empty() ? AgentToken(id) : token},
              {"DCOPS_AGENT_ID", id},
              {"DCOPS_CAPACITY", std::to_string(capacity)}});
  if (!options_.tls || plaintext) {
    env["DCOPS_INSECURE_DEV"] = "true";
  } else {
    env["DCOPS_TLS_CA_FILE"] = dir_ + "/pki/ca.pem";
  }
  workers_.push_back(std::make_unique<Process>(id, std::vector<std::string>{binary}, env,
                                               dir_ + "/" + id + ".log"));
  return *workers_.back();
}

std::string Site::Sql(const std::string& sql, const db::Params& params) {
  return testing::Scalar(db_, sql, params);
}

std::string Site::AddImage(const std::string& name, const std::string& content) {
  std::ofstream(dir_ + "/images/" + name, std::ios::binary) << content;
  return ImageUri(name);
}

std::string Site::ImageUri(const std::string& name) const {
  return fmt::format("http://127.0.0.1:{}/{}", images_port_, name);
}

std::string Site::FleetJson() { return HttpGet(fmt::format("http://127.0.0.1:{}/control/bmcs", control_port_)); }

bool Site::Control(const std::string& address, const std::string& what, const std::string& json) {
  static http::CurlTransport transport;
  http::ClientOptions o;
  o.retry.max_attempts = 1;
  http::Client client(o, transport, SystemClock::Instance());
  http::Request req;
  req.method = http::Method::kPost;
  req.url = fmt::format("http://127.0.0.1:{}/control/bmcs/{}/{}", control_port_, address, what);
  req.body = json;
  auto r = client.Execute(req);
  return r && r->status == 204;
}

std::string Site::CreateJob(const std::string& type, const std::string& scope, const std::string& params) {
  return Sql("SELECT dispatcher_v1_create_job('default', $1, $2::jsonb, $3::jsonb)", {type, scope, params});
}

std::string Site::AddEndpoint(const std::string& table, const std::string& kind, const std::string& address,
                              const std::string& user, const std::string& password, const std::string& pin) {
  auto stored = Cli({"credentials", "set", kind + "-lab", "--kind", kind, "--user", user, "--password-stdin"},
                    password + "\n");
  INFO(stored.output);
  REQUIRE(stored.exit_code == 0);
  return Sql(fmt::format("INSERT INTO {}(name, address, credential_set_id, tls_pin_sha256) VALUES "
                         "($1, $2, (SELECT id FROM credential_sets WHERE name = $3), $4) RETURNING id",
                         table),
             {kind + "-lab", address, kind + "-lab", pin});
}

std::string Site::WaitForJob(const std::string& job_id, std::chrono::milliseconds timeout) {
  std::string status;
  WaitUntil([&] {
    status = Sql("SELECT status FROM jobs WHERE id = $1", {job_id});
    return status == "succeeded" || status == "failed" || status == "cancelled";
  }, timeout);
  return status;
}

std::string Site::AllLogs() const {
  std::string all;
  for (const char* f : {"/dispatcher-0.log", "/dispatcher-1.log", "/sim.log"}) all += ReadWholeFile(dir_ + f).value_or("");
  for (const auto& w : workers_) all += w->Log();
  return all;
}

}  // namespace dcops::e2e
