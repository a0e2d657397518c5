#include "esxcli_host.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace dcops::sim::esxcli {

EsxcliHost::EsxcliHost(const sshd::Sshd& sshd) : state_(sshd.dir() + "/state") {
  namespace fs = std::filesystem;
  fs::copy_file(DCOPS_ESXCLI_STANDIN, sshd.bin_dir() + "/esxcli", fs::copy_options::overwrite_existing);
  fs::permissions(sshd.bin_dir() + "/esxcli", fs::perms::owner_all);
  fs::create_directories(state_);
  Write("version", "8.0.2");
  Write("build", kBuildBefore);
  Write("update", "2");
  Write("patch", "0");
  Write("profile", std::string("ESXi-8.0U2-") + kBuildBefore + "-standard");
  Write("depots", kDepot);
  Write("depot_profiles", std::string(kProfile) + "|VMware, Inc.|PartnerSupported|2024-02-29T00:00:00|8.0.2|" + kBuildAfter + "\n" +
                              "ESXi-8.0U2b-" + kBuildAfter + "-no-tools|VMware, Inc.|PartnerSupported|2024-02-29T00:00:00|8.0.2|" +
                              kBuildAfter);
  Write("filesystems",
        "/vmfs/volumes/6543a1b2-11aa22bb-33cc-0050569a0001|OSDATA-6543a1b2-11aa22bb-33cc-0050569a0001|"
        "6543a1b2-11aa22bb-33cc-0050569a0001|true|VMFSOS|128580583424|126508597248\n"
        "/vmfs/volumes/6543a1b2-0e3a0f2c-77aa-0050569a0001|datastore1|6543a1b2-0e3a0f2c-77aa-0050569a0001|true|VMFS-6|"
        "536602476544|401802387456");
  Write("maintenance", "true");
}

void EsxcliHost::Write(const std::string& file, const std::string& text) const { std::ofstream(state_ + "/" + file) << text << "\n"; }

std::string EsxcliHost::Read(const std::string& file) const {
  std::ifstream in(state_ + "/" + file);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

int EsxcliHost::Calls(const std::string& part) const {
  std::istringstream in(Read("calls"));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += line.find(part) != std::string::npos ? 1 : 0;
  return n;
}

std::function<void(const std::string&, vcenter::Host&)> EsxcliHost::BootHook() const {
  return [host = *this](const std::string&, vcenter::Host& h) {
    const std::string pending = host.Read("pending_build");
    if (pending.empty()) return;
    h.build = pending;
    host.Write("build", pending);
    host.Write("profile", host.Read("pending_profile"));
  };
}

}  // namespace dcops::sim::esxcli
