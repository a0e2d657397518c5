#include "safety_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "safety_facts.hpp"

namespace dcops::esxi {
namespace {

constexpr int kPage = 500;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool IsAddress(const std::string& s) {
  return !s.empty() && (s.find(':') != std::string::npos ||
                        std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) || c == '.'; }));
}

}  // namespace

bool SameHostName(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty() || IsAddress(a) || IsAddress(b)) return false;
  const std::string x = Lower(a), y = Lower(b);
  if (x == y) return true;
  const std::string xs = x.substr(0, x.find('.')), ys = y.substr(0, y.find('.'));
  // A short name matches the full one it begins; two full names must be equal.
  return (x.find('.') == std::string::npos || y.find('.') == std::string::npos) && xs == ys;
}

Result<SafetyInputs> ReadSafetyInputs(vsphere::Client& vc, const std::string& cluster_moref, const std::string& vcenter_hostname) {
  SafetyInputs in;
  bool found = false;
  std::vector<std::string> cluster_hosts;
  auto st = vc.ReadAll("ClusterComputeResource", kClusterProperties, kPage, [&](const vsphere::RetrieveResult& page) {
    for (const auto& o : page.objects) {
      if (o.obj.value != cluster_moref) continue;
      in.cluster = ReadCluster(o, &cluster_hosts);
      found = true;
    }
    return Status();
  });
  if (!st) return st.error();
  if (!found) return MakeError("vsphere.not_found", fmt::format("no cluster {} in this vCenter", cluster_moref));
  const vsphere::MoRef container{"ClusterComputeResource", cluster_moref};
  st = vc.ReadAll("HostSystem", kHostProperties, kPage, [&](const vsphere::RetrieveResult& page) {
    for (const auto& o : page.objects) in.hosts.push_back(ReadHost(o));
    return Status();
  }, container);
  if (!st) return st.error();
  st = vc.ReadAll("VirtualMachine", kVmProperties, kPage, [&](const vsphere::RetrieveResult& page) {
    for (const auto& o : page.objects) {
      std::string hostname;
      in.vms.push_back(ReadVm(o, &hostname));
      if (SameHostName(hostname, vcenter_hostname)) {
        in.vms.back().is_vcenter = true;
        in.vcenter_vms.push_back(in.vms.back().moref);
      }
    }
    return Status();
  }, container);
  if (!st) return st.error();
  st = vc.ReadAll("Datastore", kDatastoreProperties, kPage, [&](const vsphere::RetrieveResult& page) {
    for (const auto& o : page.objects) in.datastores.push_back(ReadDatastore(o));
    return Status();
  });
  if (!st) return st.error();
  return in;
}

}  // namespace dcops::esxi
