#pragma once
// Where a BMC keeps its resources, as its own service says. DMTF's rule for clients is to
// navigate from the service root and never to construct a URI: the computer system is the
// member the Systems collection lists, its manager the one its Links.ManagedBy names, the
// session collection the root's Links.Sessions, the update service the root's link. Dell's ids
// (System.Embedded.1, iDRAC.Embedded.1) are only ever used where the service listed them.
//
// ServiceRoot and ServiceMap are values; ReadServiceRoot and Identify are pure.
// ServiceCache keeps both per BMC address for a while, so a step does not read the root and
// two collections again before every action. Thread-safety: ServiceCache is safe from many
// threads; the rest are values.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dcops/common/clock.hpp"
#include "dcops/common/result.hpp"
#include "dcops/redfish/json.hpp"

namespace dcops::redfish {

// What the service root (readable without credentials) says.
struct ServiceRoot {
  Document document;
  std::string sessions;  // Links.Sessions ("": no session service, basic auth only)
  std::string systems;   // collection links ("" where the root has none)
  std::string managers;
  std::string chassis;
  std::string update_service;
  std::string tasks;
  std::string vendor;  // root Vendor; "Dell" from Oem.Dell on iDRACs older than Vendor
  std::string product;
  bool expand = false;  // $expand=*($levels=1) advertised
};
ServiceRoot ReadServiceRoot(const Document& root);

// The resources steps act on, navigated from the root (authenticated reads).
struct ServiceMap {
  std::shared_ptr<const ServiceRoot> root;
  std::string system;   // the computer system ("" when the service lists none)
  std::string manager;  // the system's ManagedBy[0], else the only manager ("" when none)
  std::string manufacturer;  // of the system ("" when it does not say)
  std::string model;         // optional in Redfish: "" when absent
  // An iDRAC: the root says Dell and the manager is the iDRAC (its Dell OEM services live
  // under it). Dell-only operations check this and refuse otherwise.
  bool idrac = false;
};

// "Acme (no model)", "Dell Inc. PowerEdge R750": how a refusal names the system.
std::string DescribeSystem(const ServiceMap& map);
// redfish.not_idrac "not an iDRAC: <manufacturer> <model>" for a Dell-only `operation`.
Status RequireIdrac(const ServiceMap& map, const std::string& operation);

// Builds the map from the root and the documents the navigation read. `systems` and
// `managers` are the collections' member URIs; `system` the chosen system's document (null
// when there is none). More than one system is ambiguous and refused (redfish.ambiguous): the
// step's target names one BMC, and we do not pick one of its systems silently.
Result<ServiceMap> Identify(std::shared_ptr<const ServiceRoot> root, const std::vector<std::string>& systems,
                            const std::vector<std::string>& managers, const Document* system);

class ServiceCache {
 public:
  explicit ServiceCache(std::chrono::milliseconds keep = std::chrono::minutes(10)) : keep_(keep) {}

  std::shared_ptr<const ServiceRoot> Root(const std::string& address, Clock::SteadyTime now) const;
  std::optional<ServiceMap> Map(const std::string& address, Clock::SteadyTime now) const;
  void PutRoot(const std::string& address, std::shared_ptr<const ServiceRoot> root, Clock::SteadyTime now);
  void PutMap(const std::string& address, ServiceMap map, Clock::SteadyTime now);
  // After a navigated resource answered 404 (the BMC was reconfigured, replaced, updated).
  void Forget(const std::string& address);

 private:
  struct Entry {
    std::shared_ptr<const ServiceRoot> root;
    Clock::SteadyTime root_at{};
    std::optional<ServiceMap> map;
    Clock::SteadyTime map_at{};
  };
  std::chrono::milliseconds keep_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace dcops::redfish
