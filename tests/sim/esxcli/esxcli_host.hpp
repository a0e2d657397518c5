#pragma once
// An ESXi host's shell for tests: the esxcli stand-in (tests/sim/esxcli/esxcli) installed in
// a test sshd's bin/, its state directory filled as an ESXi 8.0 U2 host with a depot that
// offers 8.0 U2b, and the boot hook a simulated vCenter calls when the host comes back from a
// reboot (the new boot runs the build the update staged).
//
// Thread-safety: the boot hook runs on the simulator's thread and only touches the state
// files; the rest is the test's.
#include <functional>
#include <string>

#include "sshd_fixture.hpp"
#include "vc_model.hpp"

namespace dcops::sim::esxcli {

inline constexpr const char* kDepot = "https://depot.lab/vmw-depot-index.xml";
inline constexpr const char* kProfile = "ESXi-8.0U2b-23305546-standard";
inline constexpr const char* kBuildBefore = "22380479";
inline constexpr const char* kBuildAfter = "23305546";

class EsxcliHost {
 public:
  // Installs the stand-in into `sshd`'s bin/ and writes the state (`sshd` already started).
  explicit EsxcliHost(const sshd::Sshd& sshd);
  const std::string& state() const { return state_; }
  void Write(const std::string& file, const std::string& text) const;
  std::string Read(const std::string& file) const;
  // How many esxcli invocations so far contain `part`.
  int Calls(const std::string& part) const;
  // For vcenter::Timings::on_boot.
  std::function<void(const std::string&, vcenter::Host&)> BootHook() const;

 private:
  std::string state_;
};

}  // namespace dcops::sim::esxcli
