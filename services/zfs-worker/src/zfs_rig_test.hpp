#pragma once
// Test rig for the ZFS steps: "hosts" that are real OpenSSH sshds on their own loopback
// addresses, whose `zfs` and `zpool` are real ZFS (zfs-fuse, one daemon for all) or the
// OpenZFS 2.x stand-in (tests/sim/zfs), and the assignment a dispatcher would hand over.
#include <rapidjson/document.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "dcops/agent/step.hpp"
#include "sshd_fixture.hpp"
#include "standin_host.hpp"

namespace dcops::zfs_worker::test {

// Runs a local command line (test set-up and checks), stdout kept, stderr to the log.
inline sim::zfs::StandinRun Sh(const std::string& command) { return sim::zfs::RunCommand(command); }

inline rapidjson::Document Json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE(d.IsObject());
  return d;
}

inline std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct HostRig {
  HostRig(const std::string& ip, int port, const std::string& id)
      : id(id), sshd(ip, port, "/tmp/dcops-zfs-sshd-" + ip + "-" + std::to_string(::getpid())) {}
  void Start() { REQUIRE(sshd.Start() == ""); }

  // `_endpoint` / `_peer` as the dispatcher writes them.
  std::string Access() const {
    return R"({"id":")" + id + R"(","name":"zfs-)" + id + R"(","address":")" + sshd.address() + R"(","ssh_port":)" +
           std::to_string(sshd.port()) + R"(,"ssh_user":"root","host_key":")" + sshd.host_key_fingerprint() +
           R"(","credential_set_id":"set-)" + id + R"("})";
  }

  std::string id;
  sim::sshd::Sshd sshd;
};

// A zfs.* step's assignment: `host` is the step's own host, `peer` the other of a pair.
inline agent::Assignment MakeAssignment(const std::string& kind, const std::string& params_json, const HostRig& host,
                                        const HostRig* peer, std::string checkpoint = "") {
  agent::Assignment a;
  a.task_id = "task-1";
  a.job_id = "job-1";
  a.step_kind = kind;
  a.target = "zfs:" + host.id;
  a.params_json = params_json;
  a.checkpoint_json = std::move(checkpoint);
  a.max_attempts = 3;
  a.credentials = {"root", host.sshd.client_key()};
  if (peer != nullptr) a.credential_sets.push_back({"set-" + peer->id, "zfs-" + peer->id, {"root", peer->sshd.client_key()}});
  return a;
}

}  // namespace dcops::zfs_worker::test
