#pragma once
// A real OpenSSH sshd on one loopback address and port, for tests (TOOLCHAIN.md): a private
// sshd_config in its own directory, host and client keys made by ssh-keygen, the client's
// public key authorized for the user the tests run as (root), `bin/` first on the PATH of
// every command (where a test puts stand-ins such as esxcli), started with -D -e and stopped
// (SIGTERM, then waited for) by Stop() or the destructor.
//
// Thread-safety: one owner. Blocking: Start() waits until the port accepts connections.
#include <sys/types.h>

#include <string>

namespace dcops::sim::sshd {

class Sshd {
 public:
  // `dir` is made (and emptied) for this server's files.
  Sshd(std::string address, int port, std::string dir);
  ~Sshd();
  Sshd(const Sshd&) = delete;
  Sshd& operator=(const Sshd&) = delete;

  std::string Start();  // "" once it accepts connections, else why not
  void Stop();

  const std::string& address() const { return address_; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string bin_dir() const { return dir_ + "/bin"; }
  // The host key's fingerprint as `ssh-keygen -lf` prints it ("SHA256:…").
  const std::string& host_key_fingerprint() const { return host_fingerprint_; }
  // The private key a client logs in with (OpenSSH format, unencrypted), and a second key that
  // is not authorized.
  const std::string& client_key() const { return client_key_; }
  const std::string& stranger_key() const { return stranger_key_; }
  // Also serve an RSA host key (as ESXi does beside its ECDSA one); call before Start().
  void WithRsaHostKey() { rsa_ = true; }
  const std::string& rsa_host_key_fingerprint() const { return rsa_fingerprint_; }
  // Replaces the host key (a reinstalled host, or an impostor): takes effect at the next Start().
  std::string NewHostKey();
  // Writes an executable script `name` into bin/.
  void WriteScript(const std::string& name, const std::string& text) const;

 private:
  std::string address_;
  int port_;
  std::string dir_;
  std::string host_fingerprint_, client_key_, stranger_key_;
  bool rsa_ = false;
  std::string rsa_fingerprint_;
  pid_t pid_ = -1;
};

}  // namespace dcops::sim::sshd
