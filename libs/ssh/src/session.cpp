#include "dcops/ssh/session.hpp"

#include <fmt/format.h>
#include <libssh/libssh.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace dcops::ssh {

std::string ShellQuote(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    if (!out.empty()) out += ' ';
    out += '\'';
    for (char c : arg) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    out += '\'';
  }
  return out;
}

struct Session::Impl {
  ssh_session session = nullptr;
  std::string where;  // "user@host:port", for messages
  ~Impl() {
    if (session != nullptr) {
      ssh_disconnect(session);
      ssh_free(session);
    }
  }
};

namespace {

Error Fail(const char* code, const std::string& message, bool retryable = false) { return MakeError(code, message, retryable); }

// The SHA-256 fingerprint of the server's key as OpenSSH prints it.
Result<std::string> ServerFingerprint(ssh_session s) {
  ssh_key key = nullptr;
  if (ssh_get_server_publickey(s, &key) != SSH_OK) return Fail("ssh.connect", "the host sent no public key", true);
  unsigned char* hash = nullptr;
  size_t len = 0;
  const int rc = ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len);
  ssh_key_free(key);
  if (rc != SSH_OK) return Fail("ssh.connect", "the host's public key could not be hashed", true);
  char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
  ssh_clean_pubkey_hash(&hash);
  if (text == nullptr) return Fail("ssh.connect", "the host's public key could not be printed", true);
  std::string out = text;
  ssh_string_free_char(text);
  return out;
}

// Keyboard-interactive with the password as the answer to every hidden prompt (ESXi asks
// "Password: "); a visible prompt is not answered with a secret.
int KeyboardInteractive(ssh_session s, const std::string& password) {
  int rc = ssh_userauth_kbdint(s, nullptr, nullptr);
  for (int rounds = 0; rc == SSH_AUTH_INFO && rounds < 4; ++rounds) {
    const int prompts = ssh_userauth_kbdint_getnprompts(s);
    for (int i = 0; i < prompts; ++i) {
      char echo = 0;
      ssh_userauth_kbdint_getprompt(s, static_cast<unsigned>(i), &echo);
      if (echo != 0) return SSH_AUTH_DENIED;
      if (ssh_userauth_kbdint_setanswer(s, static_cast<unsigned>(i), password.c_str()) < 0) return SSH_AUTH_ERROR;
    }
    rc = ssh_userauth_kbdint(s, nullptr, nullptr);
  }
  return rc;
}

}  // namespace

namespace {

// libssh sends no keepalives of its own: TCP's find a host that vanished while a session sat
// idle (one side of a replication while the other finishes) within about a minute, and keep
// idle NAT and firewall entries open. Best effort: a socket that refuses keeps the defaults.
void KeepAlive(socket_t fd) {
  if (fd < 0) return;
  const int on = 1, idle = 30, interval = 10, count = 3;
  (void)::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

}  // namespace

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

Result<std::unique_ptr<Session::Impl>> Session::Open(const Endpoint& e, const char* hostkeys) {
  auto impl = std::make_unique<Session::Impl>();
  impl->where = fmt::format("{}@{}:{}", e.user, e.host, e.port);
  impl->session = ssh_new();
  if (impl->session == nullptr) return Fail("ssh.connect", "libssh could not make a session", true);
  ssh_session s = impl->session;
  const bool no = false;
  const long timeout_s = std::max<long>(1, static_cast<long>((e.connect_timeout.count() + 999) / 1000));
  const unsigned int port = static_cast<unsigned int>(e.port);
  if (ssh_options_set(s, SSH_OPTIONS_HOST, e.host.c_str()) != SSH_OK || ssh_options_set(s, SSH_OPTIONS_PORT, &port) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_USER, e.user.c_str()) != SSH_OK || ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout_s) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") != SSH_OK ||
      (hostkeys != nullptr && ssh_options_set(s, SSH_OPTIONS_HOSTKEYS, hostkeys) != SSH_OK)) {
    return Fail("ssh.connect", fmt::format("{}: bad connection settings: {}", impl->where, ssh_get_error(s)));
  }
  if (ssh_connect(s) != SSH_OK) {
    return Fail("ssh.connect", fmt::format("{}: cannot connect: {}", impl->where, ssh_get_error(s)), true);
  }
  KeepAlive(ssh_get_fd(s));
  return impl;
}

namespace {

// A host may hold several keys (ESXi: RSA and ECDSA); the one negotiated first need not be the
// one pinned. Each other family is asked for in turn, so a pin of any of the host's keys holds.
constexpr const char* kKeyFamilies[] = {"ssh-ed25519", "ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521",
                                        "rsa-sha2-512,rsa-sha2-256"};

}  // namespace

Result<std::unique_ptr<Session>> Session::Connect(const Endpoint& e) {
  auto opened = Open(e, nullptr);
  if (!opened) return opened.error();
  std::unique_ptr<Impl> impl = std::move(*opened);
  // The host's key before anything secret leaves this process.
  auto seen = ServerFingerprint(impl->session);
  if (!seen) return seen.error();
  if (!e.pinned_host_key.empty() && *seen != e.pinned_host_key) {
    std::string presented = *seen;
    for (const char* family : kKeyFamilies) {
      auto other = Open(e, family);
      if (!other) continue;  // the host has no key of this family
      auto fingerprint = ServerFingerprint((*other)->session);
      if (!fingerprint) continue;
      if (*fingerprint == e.pinned_host_key) {
        impl = std::move(*other);
        seen = fingerprint;
        break;
      }
      if (presented.find(*fingerprint) == std::string::npos) presented += ", " + *fingerprint;
    }
    if (*seen != e.pinned_host_key) *seen = presented;
  }
  ssh_session s = impl->session;
  bool was_new = false;
  if (e.pinned_host_key.empty()) {
    if (!e.accept_new_host_key) {
      return Fail("ssh.host_key_unknown",
                  fmt::format("{} presented host key {} and none is pinned for it: pin it, or let a job accept it on first contact",
                              impl->where, *seen));
    }
    was_new = true;
  } else if (*seen != e.pinned_host_key) {
    return Fail("ssh.host_key_mismatch", fmt::format("{} presented host key(s) {}, not the pinned {}: refused (a different host, "
                                                     "or one reinstalled: re-pin it only when you know which)",
                                                     impl->where, *seen, e.pinned_host_key));
  }
  int rc = SSH_AUTH_DENIED;
  if (!e.private_key_pem.empty()) {
    ssh_key key = nullptr;
    if (ssh_pki_import_privkey_base64(e.private_key_pem.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
      return Fail("ssh.auth", fmt::format("{}: the private key could not be read (unencrypted OpenSSH or PEM expected)", impl->where));
    }
    rc = ssh_userauth_publickey(s, nullptr, key);
    ssh_key_free(key);
  } else if (!e.password.empty()) {
    rc = ssh_userauth_password(s, nullptr, e.password.c_str());
    if (rc == SSH_AUTH_DENIED) rc = KeyboardInteractive(s, e.password);
  }
  if (rc != SSH_AUTH_SUCCESS) {
    return Fail("ssh.auth", fmt::format("{}: authentication refused{}", impl->where,
                                        e.private_key_pem.empty() && e.password.empty() ? " (no key or password given)" : ""));
  }
  // From here on the session's timeout bounds each blocking exchange, not the connect.
  const long io_s = std::max<long>(1, static_cast<long>((e.io_timeout.count() + 999) / 1000));
  ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &io_s);
  auto session = std::unique_ptr<Session>(new Session(std::move(impl)));
  session->host_key_ = *seen;
  session->host_key_was_new_ = was_new;
  return session;
}

namespace {

// One exec channel of a session, streamed.
class ChannelProcess final : public RemoteProcess {
 public:
  ChannelProcess(ssh_session s, ssh_channel c, std::string where, std::string command)
      : session_(s), channel_(c), where_(std::move(where)), command_(std::move(command)) {}
  ~ChannelProcess() override {
    ssh_channel_close(channel_);
    ssh_channel_free(channel_);
  }
  ChannelProcess(const ChannelProcess&) = delete;
  ChannelProcess& operator=(const ChannelProcess&) = delete;

  Result<std::size_t> Read(char* buf, std::size_t max, std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto st = DrainErr(); !st) return st.error();
      if (ssh_channel_is_eof(channel_) != 0) {
        // What arrived before the end.
        const int n = ssh_channel_read_nonblocking(channel_, buf, static_cast<uint32_t>(max), 0);
        if (n == SSH_ERROR) return Broken("reading");
        return static_cast<std::size_t>(n > 0 ? n : 0);
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return MakeError("ssh.timeout", fmt::format("{}: {} sent nothing for {} ms", where_, command_, timeout.count()));
      }
      // Wait on stdout for a slice; stderr is taken between slices.
      const int n = ssh_channel_read_timeout(channel_, buf, static_cast<uint32_t>(max), 0,
                                             static_cast<int>(std::min<long long>(left.count(), 200)));
      if (n == SSH_ERROR) return Broken("reading");
      if (n > 0) return static_cast<std::size_t>(n);
    }
  }

  Status Write(const char* buf, std::size_t n) override {
    while (n > 0) {
      const int w = ssh_channel_write(channel_, buf, static_cast<uint32_t>(std::min<std::size_t>(n, 1u << 20)));
      if (w == SSH_ERROR || w < 0) {
        // The remote end closed its stdin (it failed, or finished early): its stderr says why.
        (void)DrainErr();
        return Broken("writing to");
      }
      if (w == 0) {
        return MakeError("ssh.timeout", fmt::format("{}: {} took no input within the I/O timeout", where_, command_));
      }
      buf += w;
      n -= static_cast<std::size_t>(w);
      if (auto st = DrainErr(); !st) return st;
    }
    return {};
  }

  Status CloseStdin() override {
    if (ssh_channel_send_eof(channel_) != SSH_OK) return Broken("closing the input of");
    return {};
  }

  Result<CommandResult> Wait(std::chrono::milliseconds timeout) override {
    CommandResult out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    while (ssh_channel_is_eof(channel_) == 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return MakeError("ssh.timeout", fmt::format("{}: {} did not finish within {} ms", where_, command_, timeout.count()));
      }
      const int n = ssh_channel_read_timeout(channel_, buf, sizeof buf, 0, static_cast<int>(std::min<long long>(left.count(), 200)));
      if (n == SSH_ERROR) return Broken("reading");
      if (n > 0) Keep(out.out, buf, static_cast<std::size_t>(n), out.truncated);
      if (auto st = DrainErr(); !st) return st.error();
    }
    // What is left after end of file (both streams).
    for (;;) {
      const int n = ssh_channel_read_nonblocking(channel_, buf, sizeof buf, 0);
      if (n <= 0) break;
      Keep(out.out, buf, static_cast<std::size_t>(n), out.truncated);
    }
    if (auto st = DrainErr(); !st) return st.error();
    out.err = err_;
    out.truncated = out.truncated || err_truncated_;
    out.exit_status = ssh_channel_get_exit_status(channel_);
    return out;
  }

  const std::string& err() const override { return err_; }

 private:
  static void Keep(std::string& into, const char* buf, std::size_t n, bool& truncated) {
    const std::size_t room = Session::kMaxOutput - std::min(Session::kMaxOutput, into.size());
    if (n > room) truncated = true;
    into.append(buf, std::min(n, room));
  }

  Status DrainErr() {
    char buf[16384];
    for (;;) {
      const int n = ssh_channel_read_nonblocking(channel_, buf, sizeof buf, 1);
      if (n == SSH_ERROR) return Broken("reading the errors of");
      if (n <= 0) return {};
      Keep(err_, buf, static_cast<std::size_t>(n), err_truncated_);
    }
  }

  Error Broken(const char* doing) const {
    return MakeError("ssh.channel", fmt::format("{}: {} {}: {}", where_, doing, command_, ssh_get_error(session_)), true);
  }

  ssh_session session_;
  ssh_channel channel_;
  std::string where_, command_;
  std::string err_;
  bool err_truncated_ = false;
};

}  // namespace

Result<std::unique_ptr<RemoteProcess>> Session::Start(const std::vector<std::string>& argv) {
  if (argv.empty()) return Fail("ssh.channel", "no command to run");
  ssh_session s = impl_->session;
  ssh_channel channel = ssh_channel_new(s);
  if (channel == nullptr) return Fail("ssh.channel", fmt::format("{}: no channel: {}", impl_->where, ssh_get_error(s)), true);
  auto process = std::make_unique<ChannelProcess>(s, channel, impl_->where, argv.front());
  const std::string line = ShellQuote(argv);
  if (ssh_channel_open_session(channel) != SSH_OK || ssh_channel_request_exec(channel, line.c_str()) != SSH_OK) {
    return Fail("ssh.channel", fmt::format("{}: cannot run {}: {}", impl_->where, argv.front(), ssh_get_error(s)), true);
  }
  return std::unique_ptr<RemoteProcess>(std::move(process));
}

Result<CommandResult> Session::Run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  auto process = Start(argv);
  if (!process) return process.error();
  if (auto st = (*process)->CloseStdin(); !st) return st.error();
  return (*process)->Wait(timeout);
}

}  // namespace dcops::ssh
