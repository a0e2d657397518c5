#include "sshd_fixture.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace dcops::sim::sshd {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs a command line and returns its stdout ("" and `ok` false when it failed).
std::string Output(const std::string& command, bool* ok) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    *ok = false;
    return out;
  }
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *ok = ::pclose(p) == 0;
  return out;
}

bool Accepts(const std::string& address, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Sshd::Sshd(std::string address, int port, std::string dir) : address_(std::move(address)), port_(port), dir_(std::move(dir)) {}

Sshd::~Sshd() { Stop(); }

namespace {
// Makes a host key of `type` at `path` and returns its fingerprint as ssh-keygen prints it
// ("SHA256:…"), or "" when it could not.
std::string MakeHostKey(const std::string& type, const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
  fs::remove(path + ".pub", ec);
  bool ok = false;
  Output(fmt::format("ssh-keygen -q -t {} -N '' -C dcops-test-host -f '{}' </dev/null", type, path), &ok);
  if (!ok) return "";
  const std::string line = Output(fmt::format("ssh-keygen -l -E sha256 -f '{}.pub'", path), &ok);
  // "256 SHA256:abc… comment (ED25519)"
  const auto start = line.find("SHA256:");
  if (!ok || start == std::string::npos) return "";
  return line.substr(start, line.find(' ', start) - start);
}
}  // namespace

std::string Sshd::NewHostKey() {
  host_fingerprint_ = MakeHostKey("ed25519", dir_ + "/host_ed25519");
  return host_fingerprint_.empty() ? "ssh-keygen could not make a host key" : "";
}

void Sshd::WriteScript(const std::string& name, const std::string& text) const {
  const std::string path = bin_dir() + "/" + name;
  std::ofstream(path) << text;
  ::chmod(path.c_str(), 0755);
}

std::string Sshd::Start() {
  std::error_code ec;
  if (host_fingerprint_.empty()) {
    fs::remove_all(dir_, ec);
    fs::create_directories(dir_ + "/bin", ec);
    if (ec) return "cannot make " + dir_;
    if (auto err = NewHostKey(); !err.empty()) return err;
    bool ok = false;
    for (const char* name : {"client_ed25519", "stranger_ed25519"}) {
      Output(fmt::format("ssh-keygen -q -t ed25519 -N '' -C dcops-test-client -f '{}/{}' </dev/null", dir_, name), &ok);
      if (!ok) return "ssh-keygen could not make a client key";
    }
    if (rsa_) {
      rsa_fingerprint_ = MakeHostKey("rsa", dir_ + "/host_rsa");
      if (rsa_fingerprint_.empty()) return "ssh-keygen could not make an RSA host key";
    }
    client_key_ = ReadFile(dir_ + "/client_ed25519");
    stranger_key_ = ReadFile(dir_ + "/stranger_ed25519");
    fs::copy_file(dir_ + "/client_ed25519.pub", dir_ + "/authorized_keys", fs::copy_options::overwrite_existing, ec);
  }
  fs::create_directories("/run/sshd", ec);  // sshd's privilege separation directory
  std::ofstream(dir_ + "/sshd_config") << fmt::format(
      "ListenAddress {0}:{1}\n"
      "HostKey {2}/host_ed25519\n{3}"
      "PidFile {2}/sshd.pid\n"
      "AuthorizedKeysFile {2}/authorized_keys\n"
      "UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n"
      "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
      "SetEnv PATH={2}/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
      "LogLevel ERROR\n",
      address_, port_, dir_, rsa_ ? fmt::format("HostKey {}/host_rsa\n", dir_) : std::string());
  pid_ = ::fork();
  if (pid_ == 0) {
    const std::string config = dir_ + "/sshd_config", log = dir_ + "/sshd.log";
    std::freopen(log.c_str(), "a", stderr);
    ::execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", config.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  if (pid_ < 0) return "fork failed";
  // sshd is another process: its readiness is seen by connecting, with a bound.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!Accepts(address_, port_)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return "sshd exited: " + ReadFile(dir_ + "/sshd.log");
    }
    if (std::chrono::steady_clock::now() > deadline) return "sshd did not listen within 10 s";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

void Sshd::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace dcops::sim::sshd
