#include "dcops/ssh/session.hpp"

#include <fmt/format.h>
#include <libssh/libssh.h>

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
  auto session = std::unique_ptr<Session>(new Session(std::move(impl)));
  session->host_key_ = *seen;
  session->host_key_was_new_ = was_new;
  return session;
}

Result<CommandResult> Session::Run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  if (argv.empty()) return Fail("ssh.channel", "no command to run");
  ssh_session s = impl_->session;
  ssh_channel channel = ssh_channel_new(s);
  if (channel == nullptr) return Fail("ssh.channel", fmt::format("{}: no channel: {}", impl_->where, ssh_get_error(s)), true);
  struct Closer {
    ssh_channel c;
    ~Closer() {
      ssh_channel_close(c);
      ssh_channel_free(c);
    }
  } closer{channel};
  const std::string line = ShellQuote(argv);
  if (ssh_channel_open_session(channel) != SSH_OK || ssh_channel_request_exec(channel, line.c_str()) != SSH_OK) {
    return Fail("ssh.channel", fmt::format("{}: cannot run {}: {}", impl_->where, argv.front(), ssh_get_error(s)), true);
  }
  CommandResult out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[16384];
  auto keep = [&](std::string& into, int n) {
    const std::size_t room = kMaxOutput - std::min(kMaxOutput, into.size());
    if (static_cast<std::size_t>(n) > room) out.truncated = true;
    into.append(buf, std::min(static_cast<std::size_t>(n), room));
  };
  while (!(ssh_channel_is_eof(channel) != 0)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Fail("ssh.timeout", fmt::format("{}: {} did not finish within {} ms", impl_->where, argv.front(), timeout.count()));
    }
    // Wait on stdout for a slice, then take whatever stderr holds.
    const int n = ssh_channel_read_timeout(channel, buf, sizeof buf, 0, static_cast<int>(std::min<long long>(left.count(), 200)));
    if (n == SSH_ERROR) return Fail("ssh.channel", fmt::format("{}: reading {}: {}", impl_->where, argv.front(), ssh_get_error(s)), true);
    if (n > 0) keep(out.out, n);
    for (;;) {
      const int e = ssh_channel_read_nonblocking(channel, buf, sizeof buf, 1);
      if (e == SSH_ERROR) return Fail("ssh.channel", fmt::format("{}: reading {}: {}", impl_->where, argv.front(), ssh_get_error(s)), true);
      if (e <= 0) break;
      keep(out.err, e);
    }
  }
  // What is left after end of file (both streams).
  for (int stream = 0; stream < 2; ++stream) {
    for (;;) {
      const int n = ssh_channel_read_nonblocking(channel, buf, sizeof buf, stream);
      if (n <= 0) break;
      keep(stream == 0 ? out.out : out.err, n);
    }
  }
  out.exit_status = ssh_channel_get_exit_status(channel);
  return out;
}

}  // namespace dcops::ssh
