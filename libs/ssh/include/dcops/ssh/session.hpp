#pragma once
// One SSH connection to a host (libssh), as a step sees it: the host's key checked against the
// one pinned for it before anything secret is sent, then commands run as argument vectors.
//
// Host keys: `pinned_host_key` is the fingerprint as `ssh-keygen -lf` prints it
// ("SHA256:…"). A host presenting another key is refused (ssh.host_key_mismatch: never
// accepted, whatever the job says); a host with no pinned key is refused (ssh.host_key_unknown,
// the fingerprint it presented in the message so an operator can pin it) unless the job allows
// first contact (`accept_new_host_key`), in which case the session says so
// (host_key_was_new) and the caller records the key. No blind accept, no known_hosts file, no
// ~/.ssh/config: nothing outside the Endpoint decides. A host with several keys (ESXi has RSA
// and ECDSA) may have any one of them pinned: when the key it offers first is not the pinned
// one, each other key family is asked for in turn before the host is refused (the refusal
// names every key it presented).
//
// Authentication: the private key when one is given, else the password (password, then
// keyboard-interactive, which ESXi's sshd asks for). Secrets are never in an error.
//
// Commands: ShellQuote() quotes each argument once for the remote POSIX shell; Run() returns
// the exit status, stdout and stderr (each bounded), or ssh.timeout when the command did not
// finish in time (the channel is closed; the remote command may still run: not retryable).
//
// Keepalives: TCP keepalives on every session (idle 30 s, then every 10 s, 3 lost: a vanished
// host is found within about a minute even when the session is idle).
//
// Errors: ssh.connect (retryable), ssh.host_key_unknown, ssh.host_key_mismatch, ssh.auth,
// ssh.timeout, ssh.channel (retryable).
// Ownership: a Session owns its libssh session. Thread-safety: one user at a time; separate
// sessions may be used from separate threads. Blocking: every call, bounded by its timeouts.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops::ssh {

struct Endpoint {
  std::string host;  // a name or address
  int port = 22;
  std::string user;
  std::string password;         // secret
  std::string private_key_pem;  // secret: an OpenSSH or PEM private key, unencrypted
  std::string pinned_host_key;  // "SHA256:…"; "" when none is pinned yet
  bool accept_new_host_key = false;  // first contact: only when the job says so
  std::chrono::milliseconds connect_timeout{10000};
  // How long one blocking exchange may wait (a write into a full window, an exit status).
  std::chrono::milliseconds io_timeout{60000};
};

struct CommandResult {
  int exit_status = -1;
  std::string out, err;
  bool truncated = false;  // out or err reached the bound and the rest was dropped
};

// 'arg' 'it'\''s' …: each argument single-quoted for a POSIX shell (the remote login shell
// runs the command line), so no argument is ever split, globbed or expanded.
std::string ShellQuote(const std::vector<std::string>& argv);

// A remote command whose stdin and stdout are streams (`zfs send`, `zfs receive`): bytes are
// read and written as they flow, never held whole. Its stderr is kept (bounded) as it arrives,
// so a chatty command cannot stall on a full window. Destroying it before Wait() closes the
// channel: the remote command sees its pipes close (a send gets EPIPE, a receive a truncated
// stream). Owned by the caller; must not outlive the Session that started it; one thread.
class RemoteProcess {
 public:
  virtual ~RemoteProcess() = default;
  // Up to `max` bytes of stdout; 0 at its end. ssh.timeout when nothing came within `timeout`.
  virtual Result<std::size_t> Read(char* buf, std::size_t max, std::chrono::milliseconds timeout) = 0;
  // All `n` bytes to stdin (blocks while the remote side's window is full, up to the
  // session's I/O timeout: ssh.timeout).
  virtual Status Write(const char* buf, std::size_t n) = 0;
  virtual Status CloseStdin() = 0;
  // Waits for the command to end: its exit status, the rest of stdout (bounded) and stderr.
  virtual Result<CommandResult> Wait(std::chrono::milliseconds timeout) = 0;
  // The stderr kept so far (for progress and for errors while streaming).
  virtual const std::string& err() const = 0;
};

// What a step needs from a remote shell; Session is the real one, tests may fake it.
class RemoteShell {
 public:
  virtual ~RemoteShell() = default;
  virtual Result<CommandResult> Run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) = 0;
  virtual Result<std::unique_ptr<RemoteProcess>> Start(const std::vector<std::string>& argv) = 0;
};

class Session final : public RemoteShell {
 public:
  static Result<std::unique_ptr<Session>> Connect(const Endpoint& endpoint);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The fingerprint the host presented ("SHA256:…"), and whether it was accepted as new.
  const std::string& host_key() const { return host_key_; }
  bool host_key_was_new() const { return host_key_was_new_; }

  Result<CommandResult> Run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) override;
  Result<std::unique_ptr<RemoteProcess>> Start(const std::vector<std::string>& argv) override;
  // Each of stdout and stderr is kept up to this many bytes (a ZFS listing of 100,000
  // snapshots is ~40 MiB with `zfs get`; ~25 MiB covers 60,000).
  static constexpr std::size_t kMaxOutput = 32u << 20;

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  // Connected, not yet authenticated; offering only `hostkeys` algorithms when given.
  static Result<std::unique_ptr<Impl>> Open(const Endpoint& e, const char* hostkeys);
  std::unique_ptr<Impl> impl_;
  std::string host_key_;
  bool host_key_was_new_ = false;
};

}  // namespace dcops::ssh
