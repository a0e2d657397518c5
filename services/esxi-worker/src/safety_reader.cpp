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
  // The cluster itself, by its moref, and the datastores it lists: what the check needs, not
  // the whole vCenter (every cluster's rules and every datastore's mounts grew with the estate).
  std::vector<std::string> properties = kClusterProperties;
  properties.push_back("datastore");
  auto cluster = vc.ReadObject({"ClusterComputeResource", cluster_moref}, properties);
  if (!cluster && cluster.error().code == "vsphere.managed_object_not_found") {
    return MakeError("vsphere.not_found", fmt::format("no cluster {} in this vCenter", cluster_moref));
  }
  if (!cluster) return cluster.error();
  std::vector<std::string> cluster_hosts;
  const vsphere::ObjectContent& c = cluster->objects.front();
  in.cluster = ReadCluster(c, &cluster_hosts);
  std::vector<std::string> datastores;
  if (auto it = c.props.find("datastore"); it != c.props.end()) {
    for (const auto& ref : vsphere::Children(it->second, "ManagedObjectReference")) datastores.push_back(vsphere::TrimmedText(ref));
  }
  const vsphere::MoRef container{"ClusterComputeResource", cluster_moref};
  Status st = vc.ReadAll("HostSystem", kHostProperties, kPage, [&](const vsphere::RetrieveResult& page) {
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
  st = vc.ReadObjects("Datastore", datastores, kDatastoreProperties, kPage, [&](const vsphere::RetrieveResult& page) {
    for (const auto& o : page.objects) in.datastores.push_back(ReadDatastore(o));
    return Status();
  });
  if (!st) return st.error();
  return in;
}

}  // namespace dcops::esxi
