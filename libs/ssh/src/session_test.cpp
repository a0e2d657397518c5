// The SSH client against a real OpenSSH sshd on loopback: host keys pinned or refused before
// anything secret is sent, arguments that reach the remote shell whole, exit status and
// stderr, timeouts.
#include "dcops/ssh/session.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "sshd_fixture.hpp"

namespace dcops::ssh {
namespace {

using std::chrono::milliseconds;

// Each test case its own address: ctest runs the cases as parallel processes.
struct Host {
  explicit Host(const char* address, int port)
      : sshd(address, port, std::string("/tmp/dcops-sshd-") + address + "-" + std::to_string(::getpid())) {
    REQUIRE(sshd.Start() == "");
  }
  Endpoint Pinned() const {
    Endpoint e;
    e.host = sshd.address();
    e.port = sshd.port();
    e.user = "root";
    e.private_key_pem = sshd.client_key();
    e.pinned_host_key = sshd.host_key_fingerprint();
    return e;
  }
  sim::sshd::Sshd sshd;
};

TEST_CASE("Arguments are quoted once for the remote shell", "[ssh]") {
  CHECK(ShellQuote({"echo", "a b", "it's", "$HOME", ""}) == R"('echo' 'a b' 'it'\''s' '$HOME' '')");
  CHECK(ShellQuote({"esxcli", "software", "profile", "list"}) == "'esxcli' 'software' 'profile' 'list'");
}

TEST_CASE("A pinned host runs commands whose arguments arrive whole", "[ssh][net]") {
  Host host("127.0.122.1", 18701);
  auto session = Session::Connect(host.Pinned());
  INFO((session ? "" : session.error().message));
  REQUIRE(session.ok());
  CHECK((*session)->host_key() == host.sshd.host_key_fingerprint());
  CHECK_FALSE((*session)->host_key_was_new());
  const std::vector<std::string> tricky = {"a b", "it's", "$HOME", "`id`", "x;rm -rf /tmp/nothing", "*", ""};
  std::vector<std::string> argv = {"printf", "[%s]\\n"};
  argv.insert(argv.end(), tricky.begin(), tricky.end());
  auto r = (*session)->Run(argv, milliseconds(10000));
  REQUIRE(r.ok());
  CHECK(r->exit_status == 0);
  CHECK(r->out == "[a b]\n[it's]\n[$HOME]\n[`id`]\n[x;rm -rf /tmp/nothing]\n[*]\n[]\n");
  auto failed = (*session)->Run({"sh", "-c", "echo oops >&2; echo half; exit 3"}, milliseconds(10000));
  REQUIRE(failed.ok());
  CHECK(failed->exit_status == 3);
  CHECK(failed->out == "half\n");
  CHECK(failed->err == "oops\n");
  // The stand-ins a test puts in bin/ come first on the PATH.
  host.sshd.WriteScript("esxcli", "#!/bin/sh\necho \"stand-in: $*\"\n");
  auto standin = (*session)->Run({"esxcli", "system", "version", "get"}, milliseconds(10000));
  REQUIRE(standin.ok());
  CHECK(standin->out == "stand-in: system version get\n");
}

TEST_CASE("A host with no pinned key is refused unless the job allows first contact", "[ssh][net][attack]") {
  Host host("127.0.122.2", 18702);
  auto e = host.Pinned();
  e.pinned_host_key.clear();
  auto refused = Session::Connect(e);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "ssh.host_key_unknown");
  CHECK(refused.error().message.find(host.sshd.host_key_fingerprint()) != std::string::npos);
  CHECK(refused.error().message.find("PRIVATE KEY") == std::string::npos);
  e.accept_new_host_key = true;
  auto first = Session::Connect(e);
  REQUIRE(first.ok());
  CHECK((*first)->host_key_was_new());
  CHECK((*first)->host_key() == host.sshd.host_key_fingerprint());  // what the caller records
}

TEST_CASE("A host presenting another key than the pinned one is refused, first contact or not", "[ssh][net][attack]") {
  Host host("127.0.122.3", 18703);
  const auto pinned = host.Pinned();
  host.sshd.Stop();
  REQUIRE(host.sshd.NewHostKey() == "");
  REQUIRE(host.sshd.Start() == "");
  for (bool accept_new : {false, true}) {
    auto e = pinned;
    e.accept_new_host_key = accept_new;
    auto refused = Session::Connect(e);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == "ssh.host_key_mismatch");
    CHECK(refused.error().message.find(host.sshd.host_key_fingerprint()) != std::string::npos);
  }
}

TEST_CASE("A pin of any of the host's keys holds, whichever key it offers first", "[ssh][net]") {
  sim::sshd::Sshd sshd("127.0.122.5", 18705, std::string("/tmp/dcops-sshd-127.0.122.5-") + std::to_string(::getpid()));
  sshd.WithRsaHostKey();  // as ESXi: more than one host key
  REQUIRE(sshd.Start() == "");
  Endpoint e;
  e.host = sshd.address();
  e.port = sshd.port();
  e.user = "root";
  e.private_key_pem = sshd.client_key();
  for (const auto& pin : {sshd.rsa_host_key_fingerprint(), sshd.host_key_fingerprint()}) {
    e.pinned_host_key = pin;
    auto session = Session::Connect(e);
    INFO((session ? "" : session.error().message));
    REQUIRE(session.ok());
    CHECK((*session)->host_key() == pin);
  }
  e.pinned_host_key = "SHA256:" + std::string(43, 'A');
  auto refused = Session::Connect(e);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "ssh.host_key_mismatch");
  CHECK(refused.error().message.find(sshd.rsa_host_key_fingerprint()) != std::string::npos);  // every key it has, named
  CHECK(refused.error().message.find(sshd.host_key_fingerprint()) != std::string::npos);
}

TEST_CASE("A wrong key, a dead port and a command that outlives its timeout fail clearly", "[ssh][net]") {
  Host host("127.0.122.4", 18704);
  auto stranger = host.Pinned();
  stranger.private_key_pem = host.sshd.stranger_key();
  auto denied = Session::Connect(stranger);
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == "ssh.auth");
  CHECK_FALSE(denied.error().retryable);

  auto dead = host.Pinned();
  dead.port = 18799;
  auto refused = Session::Connect(dead);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "ssh.connect");
  CHECK(refused.error().retryable);

  auto session = Session::Connect(host.Pinned());
  REQUIRE(session.ok());
  auto slow = (*session)->Run({"sleep", "10"}, milliseconds(300));
  REQUIRE_FALSE(slow.ok());
  CHECK(slow.error().code == "ssh.timeout");
  // The session stays usable.
  auto after = (*session)->Run({"true"}, milliseconds(10000));
  REQUIRE(after.ok());
  CHECK(after->exit_status == 0);
}

}  // namespace
}  // namespace dcops::ssh
