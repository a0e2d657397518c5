#include "dcops/redfish/service.hpp"

#include <fmt/format.h>

#include "dcops/redfish/collection.hpp"

namespace dcops::redfish {
namespace {

// A link the service advertises, when it is a path on the BMC itself: a value such as
// "@other.host/x" would turn "https://<bmc>" + value into another host's URL, and the login's
// body would go there (found by fuzzing). Anything else counts as not advertised.
std::string Link(const Document& doc, const std::string& member) {
  std::string link = doc.OptionalString(member + "/@odata.id").value_or("");
  return link.empty() || link.front() != '/' ? "" : link;
}

}  // namespace

ServiceRoot ReadServiceRoot(const Document& root) {
  ServiceRoot r{root, Link(root, "Links/Sessions"), Link(root, "Systems"), Link(root, "Managers"),
                Link(root, "Chassis"), Link(root, "UpdateService"), Link(root, "Tasks"),
                root.OptionalString("Vendor").value_or(""), root.OptionalString("Product").value_or(""),
                SupportsExpand(root)};
  if (r.vendor.empty() && root.Find("Oem/Dell") != nullptr) r.vendor = "Dell";
  return r;
}

std::string DescribeSystem(const ServiceMap& map) {
  const std::string maker = !map.manufacturer.empty() ? map.manufacturer
                            : map.root && !map.root->vendor.empty() ? map.root->vendor
                                                                    : "unknown manufacturer";
  return map.model.empty() ? maker + " (no model)" : maker + " " + map.model;
}

Status RequireIdrac(const ServiceMap& map, const std::string& operation) {
  if (map.idrac) return Status();
  return MakeError("redfish.not_idrac",
                   fmt::format("not an iDRAC: {}; {} needs Dell's Lifecycle Controller services", DescribeSystem(map),
                               operation));
}

Result<ServiceMap> Identify(std::shared_ptr<const ServiceRoot> root, const std::vector<std::string>& systems,
                            const std::vector<std::string>& managers, const Document* system) {
  ServiceMap map;
  map.root = std::move(root);
  if (systems.size() > 1) {
    return MakeError("redfish.ambiguous",
                     fmt::format("{} lists {} computer systems ({}, …); a target names one system", map.root->systems,
                                 systems.size(), systems.front()));
  }
  if (system != nullptr) {
    map.system = system->resource();
    map.manufacturer = system->OptionalString("Manufacturer").value_or("");
    map.model = system->OptionalString("Model").value_or("");
    if (auto managed_by = system->LinkIds("Links/ManagedBy"); managed_by && !managed_by->empty()) {
      map.manager = managed_by->front();
    }
  }
  if (map.manager.empty() && managers.size() == 1) map.manager = managers.front();
  if (map.manager.empty() && managers.size() > 1) {
    return MakeError("redfish.ambiguous",
                     fmt::format("{} lists {} managers and the system names none of them in Links.ManagedBy",
                                 map.root->managers, managers.size()));
  }
  map.idrac = map.root->vendor == "Dell" && map.manager.ends_with("/iDRAC.Embedded.1");
  return map;
}

std::shared_ptr<const ServiceRoot> ServiceCache::Root(const std::string& address, Clock::SteadyTime now) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(address);
  if (it == entries_.end() || !it->second.root || now - it->second.root_at > keep_) return nullptr;
  return it->second.root;
}

std::optional<ServiceMap> ServiceCache::Map(const std::string& address, Clock::SteadyTime now) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(address);
  if (it == entries_.end() || !it->second.map || now - it->second.map_at > keep_) return std::nullopt;
  return it->second.map;
}

void ServiceCache::PutRoot(const std::string& address, std::shared_ptr<const ServiceRoot> root,
                           Clock::SteadyTime now) {
  std::lock_guard lock(mu_);
  auto& e = entries_[address];
  e.root = std::move(root);
  e.root_at = now;
}

void ServiceCache::PutMap(const std::string& address, ServiceMap map, Clock::SteadyTime now) {
  std::lock_guard lock(mu_);
  auto& e = entries_[address];
  e.map = std::move(map);
  e.map_at = now;
}

void ServiceCache::Forget(const std::string& address) {
  std::lock_guard lock(mu_);
  entries_.erase(address);
}

}  // namespace dcops::redfish
