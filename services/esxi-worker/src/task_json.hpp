#pragma once
// Small JSON pieces the host steps share: their checkpoints and results.
// Pure; thread-safe.
#include <initializer_list>
#include <string>
#include <utility>

namespace dcops::esxi {

// A step's written-ahead state: `phase` "sending" (about to ask vCenter for `operation`),
// "sent" (vCenter started `task`), or a phase of the step's own ("updating", "updated").
struct HostCheckpoint {
  std::string phase{}, operation{}, task{};
  std::string before{};       // what the step measured before acting (a boot time)
  std::string known_tasks{};  // with "sending": the host's recent tasks before the request (comma-separated);
                              // a task of the operation not among them is this step's
  bool ssh_started = false;   // the step started the host's SSH service: it stops it again, after a crash too
  std::string target{};       // what the step expects at its end (an upgrade: the build)
  std::string build_before{}; // an upgrade's build before it
  std::string host_key{};     // a first contact's SSH host key, reported for pinning
};
HostCheckpoint ParseHostCheckpoint(const std::string& json);
std::string HostCheckpointJson(const HostCheckpoint& cp);

// {"k": "v", …, "flag": true, …} with `raw` members inserted as they are (JSON already).
std::string JsonObject(std::initializer_list<std::pair<const char*, std::string>> strings,
                       std::initializer_list<std::pair<const char*, bool>> flags = {},
                       std::initializer_list<std::pair<const char*, std::string>> raw = {});

}  // namespace dcops::esxi
