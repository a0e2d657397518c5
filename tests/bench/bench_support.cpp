#include "bench_support.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include "dcops/common/clock.hpp"
#include "dcops/common/hex.hpp"
#include "dcops/tls/secret_box.hpp"
#include "dcops/http/client.hpp"
#include "dcops/http/transport.hpp"

namespace dcops::bench {

void Die(const std::string& what) {
  fmt::print(stderr, "bench: {}\n", what);
  std::exit(1);
}

db::Connection Open(const std::string& dsn) {
  db::DbOptions o;
  o.dsn = dsn;
  o.application_name = "dcops-bench";
  auto c = db::Connection::Open(o);
  if (!c) Die(c.error().message);
  return std::move(*c);
}

std::string Scalar(db::Connection& c, const std::string& sql, const db::Params& p) {
  auto r = c.Exec(sql, p);
  if (!r) Die(r.error().message);
  return r->empty() ? "" : r->TextAt(0, 0).value_or("");
}

std::string CloneTemplate(const std::string& admin_dsn, const std::string& name) {
  {
    auto admin = Open(admin_dsn);
    if (auto r = admin.Exec(fmt::format("CREATE DATABASE {} TEMPLATE dcops_template", name)); !r) Die(r.error().message);
  }
  // ADMIN_DSN names dbname=postgres (tests/pg/pg_fixture.sh); the bench's database replaces it.
  std::string dsn = admin_dsn;
  const auto at = dsn.find("dbname=postgres");
  if (at == std::string::npos) Die("ADMIN_DSN must name dbname=postgres");
  dsn.replace(at, 15, "dbname=" + name);
  return dsn;
}

void DropDatabase(const std::string& admin_dsn, const std::string& name) {
  auto admin = Open(admin_dsn);
  (void)admin.Exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name));
}

pid_t Spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env, const std::string& log) {
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  if (const char* path = std::getenv("PATH")) env_strings.push_back(std::string("PATH=") + path);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> a = argv;
  for (auto& s : a) args.push_back(s.data());
  args.push_back(nullptr);
  // The child's freopen flushes what it inherited in stdio's buffers: empty them first, or
  // the bench's report is written twice.
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (!std::freopen(log.c_str(), "a", stdout) || !std::freopen(log.c_str(), "a", stderr)) ::_exit(126);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

void Stop(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
}

namespace {
long StatusKib(pid_t pid, const char* key) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  const std::string k = key;
  while (std::getline(status, line)) {
    if (line.rfind(k, 0) == 0) return std::stol(line.substr(k.size()));
  }
  return -1;
}
}  // namespace

long RssKib(pid_t pid) { return StatusKib(pid, "VmRSS:"); }
long PeakRssKib(pid_t pid) { return StatusKib(pid, "VmHWM:"); }

MemoryKib Memory(pid_t pid) {
  std::ifstream rollup(fmt::format("/proc/{}/smaps_rollup", pid));
  MemoryKib m;
  long private_clean = -1, private_dirty = -1;
  std::string key;
  long kib = 0;
  while (rollup >> key) {
    if (key.back() != ':' || !(rollup >> kib)) {
      rollup.clear();
      rollup.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
      continue;
    }
    if (key == "Rss:") m.resident = kib;
    if (key == "Pss:") m.proportional = kib;
    if (key == "Private_Clean:") private_clean = kib;
    if (key == "Private_Dirty:") private_dirty = kib;
  }
  if (private_clean >= 0 && private_dirty >= 0) m.unique = private_clean + private_dirty;
  return m;
}

std::string RssByMapping(pid_t pid, int top) {
  std::ifstream smaps(fmt::format("/proc/{}/smaps", pid));
  std::map<std::string, long> kib;  // holder -> resident KiB
  std::string line, holder = "[anon]";
  while (std::getline(smaps, line)) {
    if (line.rfind("Rss:", 0) == 0) {
      kib[holder] += std::stol(line.substr(4));
      continue;
    }
    // A mapping's header: "start-end perms offset dev inode [path]"; fields are "Name: value".
    const auto first_space = line.find(' ');
    if (first_space == std::string::npos || line[first_space - 1] == ':') continue;
    std::istringstream header(line);
    std::string range, perms, offset, dev, inode, path;
    header >> range >> perms >> offset >> dev >> inode >> std::ws;
    std::getline(header, path);  // the rest: a path may hold spaces, and end " (deleted)"
    if (path.empty() || path[0] == '[') {
      holder = "[anon]";
    } else {
      holder = std::filesystem::path(path).filename().string();
    }
  }
  std::vector<std::pair<long, std::string>> sorted;
  for (const auto& [name, k] : kib) sorted.emplace_back(k, name);
  std::sort(sorted.rbegin(), sorted.rend());
  std::string out;
  long other = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (static_cast<int>(i) < top) {
      out += fmt::format("{}{} {:.1f}", out.empty() ? "" : ", ", sorted[i].second, static_cast<double>(sorted[i].first) / 1024.0);
    } else {
      other += sorted[i].first;
    }
  }
  return out + fmt::format("{}other {:.1f} ({} holders)", out.empty() ? "" : ", ", static_cast<double>(other) / 1024.0,
                           sorted.size() > static_cast<std::size_t>(top) ? sorted.size() - static_cast<std::size_t>(top) : 0);
}

namespace {

// Fields of /proc/PID/stat after the command name (field 3 is the state), or empty.
std::vector<std::string> StatFields(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');  // the command name may hold spaces
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(text.substr(close + 2));
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

// Fields n and m of /proc/PID/stat (numbered as in proc(5)), added, in seconds.
double Ticks(const std::vector<std::string>& f, std::size_t n, std::size_t m) {
  if (f.size() < m - 2) return 0;
  return static_cast<double>(std::stol(f[n - 3]) + std::stol(f[m - 3])) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

double CpuSeconds(pid_t pid) {
  const auto f = StatFields(std::to_string(pid));
  return f.empty() ? -1 : Ticks(f, 14, 15);  // utime + stime
}

double ServerCpuSeconds(db::Connection& db) {
  const auto backend = StatFields(Scalar(db, "SELECT pg_backend_pid()"));
  if (backend.size() < 2) Die("cannot find the PostgreSQL server's process");
  const std::string postmaster = backend[1];  // field 4: the parent
  // The server must be this machine's (a DSN to another host names some unrelated local pid).
  std::ifstream comm("/proc/" + postmaster + "/comm");
  std::string name;
  if (!std::getline(comm, name) || name.rfind("postgres", 0) != 0) Die("the bench's PostgreSQL is not a local process");
  // Its reaped children first, then the live ones: a backend exiting in between is missed (a
  // few milliseconds of CPU at most), never counted twice.
  const auto own = StatFields(postmaster);
  double total = Ticks(own, 14, 15) + Ticks(own, 16, 17);  // its own, and its reaped children's
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto f = StatFields(pid);
    if (f.size() > 1 && f[1] == postmaster) total += Ticks(f, 14, 15);
  }
  return total;
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Die("cannot bind a free port");
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

StatementProfile::StatementProfile(db::Connection& db) : db_(db) {
  const char* on = std::getenv("DCOPS_BENCH_STATEMENTS");
  if (on == nullptr || *on == '\0') return;
  Scalar(db_, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  on_ = true;
}

void StatementProfile::Reset() {
  if (on_) Scalar(db_, "SELECT pg_stat_statements_reset()");
}

std::string StatementProfile::Report(const std::string& phase, double units, const std::string& unit, int top) {
  if (!on_) return "";
  // The top statements, each row carrying the total over all of the database's statements.
  auto rows = db_.Exec(
      "SELECT calls, total_exec_time, total_exec_time / greatest(calls, 1), rows, "
      "       regexp_replace(left(query, 110), '\\s+', ' ', 'g'), sum(total_exec_time) OVER () "
      "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
      "ORDER BY total_exec_time DESC LIMIT $1",
      {std::to_string(top)});
  if (!rows) Die(rows.error().message);
  const double total = rows->empty() ? 0.0 : std::stod(rows->TextAt(0, 5).value_or("0"));
  std::string out = fmt::format("  statements ({}): {:.0f} ms executing in all, {:.3f} ms per {}; the most expensive:\n",
                                phase, total, units > 0 ? total / units : 0.0, unit);
  out += fmt::format("  {:>8} {:>10} {:>9} {:>8}  statement\n", "calls", "total ms", "mean ms", "rows");
  for (int i = 0; i < rows->size(); ++i) {
    out += fmt::format("  {:>8} {:>10.0f} {:>9.3f} {:>8}  {}\n", rows->TextAt(i, 0).value_or(""),
                       std::stod(rows->TextAt(i, 1).value_or("0")), std::stod(rows->TextAt(i, 2).value_or("0")),
                       rows->TextAt(i, 3).value_or(""), rows->TextAt(i, 4).value_or(""));
  }
  return out;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

bool WaitFor(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

std::string Get(const std::string& url) {
  static http::CurlTransport transport;
  http::ClientOptions o;
  o.retry.max_attempts = 1;
  o.timeout = std::chrono::milliseconds(30000);
  o.max_body_bytes = 256u << 20;
  http::Client client(o, transport, SystemClock::Instance());
  http::Request req;
  req.url = url;
  auto r = client.Execute(req);
  return r && r->status == 200 ? r->body : std::string();
}

std::string MakeSiteDir(const std::string& dispatcher_bin) {
  char tmpl[] = "/tmp/dcops-bench.XXXXXX";
  if (!::mkdtemp(tmpl)) Die("mkdtemp");
  const std::string dir = tmpl;
  const pid_t certs = Spawn({dispatcher_bin, "certs", "init", dir + "/pki"}, {}, dir + "/certs.log");
  ::waitpid(certs, nullptr, 0);
  return dir;
}

std::string AgentTokenFile(const std::string& dispatcher_bin, const std::string& dir, const std::string& agent_id) {
  const std::string path = dir + "/pki/agent-" + agent_id + ".token";
  const pid_t issue = Spawn({dispatcher_bin, "certs", "agent-token", dir + "/pki", agent_id}, {}, path);
  int status = 0;
  ::waitpid(issue, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) Die("certs agent-token " + agent_id + " failed: see " + path);
  return path;
}

Dispatcher StartDispatcher(const std::string& dispatcher_bin, const std::string& dsn, const std::string& dir,
                           const std::map<std::string, std::string>& extra_env) {
  Dispatcher d;
  d.grpc_port = FreePort();
  d.http_port = FreePort();
  std::map<std::string, std::string> env{{"DCOPS_DATABASE_URL", dsn},
                                         {"DCOPS_DB_ROLE", "dcops_dispatcher"},
                                         {"DCOPS_SECRET_KEY_FILE", dir + "/pki/site.key"},
                                         {"DCOPS_AGENT_TOKEN_FILE", dir + "/pki/agent.token"},
                                         {"DCOPS_TLS_CERT_FILE", dir + "/pki/dispatcher.pem"},
                                         {"DCOPS_TLS_KEY_FILE", dir + "/pki/dispatcher-key.pem"},
                                         {"DCOPS_GRPC_LISTEN", fmt::format("127.0.0.1:{}", d.grpc_port)},
                                         {"DCOPS_HTTP_PORT", std::to_string(d.http_port)},
                                         {"DCOPS_LOG_LEVEL", "warn"}};
  for (const auto& [k, v] : extra_env) env[k] = v;
  d.pid = Spawn({dispatcher_bin, "serve"}, env, dir + "/dispatcher.log");
  const std::string readyz = fmt::format("http://127.0.0.1:{}/readyz", d.http_port);
  if (!WaitFor([&] { return !Get(readyz).empty(); }, std::chrono::seconds(10))) {
    Die("the dispatcher did not become ready; see " + dir + "/dispatcher.log");
  }
  return d;
}

void WaitForAgent(db::Connection& db, const std::string& id) {
  if (!WaitFor([&] { return Scalar(db, "SELECT count(*) FROM agents WHERE id = $1 AND status = 'online'", {id}) == "1"; },
               std::chrono::seconds(20))) {
    Die("agent " + id + " did not come online");
  }
}

}  // namespace dcops::bench

namespace dcops::bench {

SimulatedFleet StartRedfishSim(const std::string& sim_bin, const std::string& dir, int count, const std::string& first,
                               const std::vector<std::string>& extra) {
  if (first.rfind("127.", 0) != 0) Die("a simulated fleet's first address must be a loopback address (127.0.0.0/8)");
  SimulatedFleet f;
  f.port = FreePort();
  f.password = tls::SecretBox::NewHexKey().substr(0, 20);
  { std::ofstream(dir + "/bmc-password") << f.password << "\n"; }
  const int control_port = FreePort();
  std::vector<std::string> argv{sim_bin, "--count", std::to_string(count), "--first", first, "--port",
                                std::to_string(f.port), "--control-port", std::to_string(control_port),
                                "--password-file", dir + "/bmc-password"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  f.pid = Spawn(argv, {}, dir + "/sim.log");
  f.control = fmt::format("http://127.0.0.1:{}", control_port);
  auto ready = [&] {
    std::ifstream log(dir + "/sim.log");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    return text.find("\"ready\": true") != std::string::npos;
  };
  if (!WaitFor(ready, std::chrono::minutes(5))) Die("the simulator did not start; see " + dir + "/sim.log");
  return f;
}

long SimulatorTotal(const std::string& control, const char* pointer) {
  rapidjson::Document d;
  const std::string body = Get(control + "/control/bmcs");
  d.Parse(body.c_str());
  if (d.HasParseError() || !d.IsArray()) Die("the simulator's control endpoint did not answer");
  long n = 0;
  for (const auto& b : d.GetArray()) {
    const rapidjson::Value* v = rapidjson::Pointer(pointer).Get(b);
    if (v == nullptr || !v->IsInt64()) Die(std::string("the simulator reports no ") + pointer);
    n += v->GetInt64();
  }
  return n;
}

int RegisterServers(db::Connection& db, const std::string& dir, const SimulatedFleet& fleet) {
  auto box = tls::SecretBox::FromKeyFile(dir + "/pki/site.key");
  if (!box) Die(box.error().message);
  auto sealed = box->Seal(fleet.password, "idrac-bench");
  if (!sealed) Die(sealed.error().message);
  const std::string set = Scalar(db, "SELECT dispatcher_v1_put_credential_set('idrac-bench', 'idrac', 'root', "
                                     "decode($1, 'hex'), $2)",
                                 {HexEncode(*sealed), box->KeyId()});
  rapidjson::Document bmcs;
  const std::string json = Get(fleet.control + "/control/bmcs");
  bmcs.Parse(json.c_str());
  if (bmcs.HasParseError() || !bmcs.IsArray()) Die("the simulator's control endpoint did not list its BMCs");
  std::vector<std::string> addresses, pins;
  for (const auto& b : bmcs.GetArray()) {
    addresses.push_back(fmt::format("{}:{}", b["address"].GetString(), fleet.port));
    pins.emplace_back(b["certificate_sha256"].GetString());
  }
  Scalar(db, "INSERT INTO servers(bmc_address, tls_pin_sha256, credential_set_id) "
             "SELECT a, p, $3::uuid FROM unnest($1::text[], $2::text[]) AS x(a, p) RETURNING 1",
         {ArrayLiteral(addresses), ArrayLiteral(pins), set});
  return static_cast<int>(bmcs.Size());
}

}  // namespace dcops::bench
