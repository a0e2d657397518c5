#pragma once
// A test sshd's `zfs` and `zpool` made the OpenZFS stand-in: wrapper scripts on its PATH over a
// state directory of its own, and a local way to run the stand-in on that state for set-up and
// checks (admin commands, listings). Header-only, for tests.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "sshd_fixture.hpp"

namespace dcops::sim::zfs {

struct StandinRun {
  int status = -1;
  std::string out;  // stdout (and stderr when the line sends it there)
};

// Runs a local command line, for set-up and checks: its exit status and stdout.
inline StandinRun RunCommand(const std::string& line) {
  StandinRun r;
  FILE* p = ::popen(line.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class StandinState {
 public:
  // Installs `binary` as zfs/zpool on `sshd` (already started) over "<sshd dir>-state".
  StandinState(const sshd::Sshd& sshd, std::string binary) : binary_(std::move(binary)), dir_(sshd.dir() + "-state") {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    std::filesystem::create_directories(dir_);
    for (const char* cmd : {"zfs", "zpool"}) {
      sshd.WriteScript(cmd, "#!/bin/sh\nexec " + binary_ + " --state " + dir_ + " " + cmd + " \"$@\"\n");
    }
  }
  ~StandinState() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  StandinState(const StandinState&) = delete;
  StandinState& operator=(const StandinState&) = delete;

  // `args` after the tool name: "zfs list -H", "admin create-pool tank".
  StandinRun Run(const std::string& args) const { return RunCommand(binary_ + " --state " + dir_ + " " + args + " 2>&1"); }
  // One property's value ("-" when it has none).
  std::string Get(const std::string& prop, const std::string& name) const {
    std::string v = Run("zfs get -H -p -o value " + prop + " " + name).out;
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
  }
  bool Has(const std::string& name) const { return Run("zfs list -H -o name -t all " + name).status == 0; }
  const std::string& dir() const { return dir_; }

 private:
  std::string binary_, dir_;
};

}  // namespace dcops::sim::zfs
