#pragma once
// One vCenter's inventory as the agent last saw it. Kept between syncs because an
// incremental update carries only the properties that changed: the cache turns it back into
// whole objects, which is what the dispatcher upserts.
//
// Objects are keyed by moref; each managed object type maps to one class of the inventory
// (a DistributedVirtualPortgroup is a network; datacenters, folders and compute resources are
// kept only to find each cluster's and host's datacenter).
// Property values are read from the vim25 XML here, once, strictly by local name: an unset
// property (a changeSet without a <val>) clears the field.
//
// Thread-safety: none; one sync uses it at a time (the session pool hands it out exclusively).
#include <pugixml.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dcops::vcsync {

// The classes the dispatcher stores, in the order they must be applied.
inline constexpr const char* kClasses[] = {"clusters", "hosts", "vms", "datastores", "networks"};

// The managed object types a sync reads and the properties it asks of each.
struct TypeSpec {
  const char* type;
  std::vector<std::string> paths;
};
const std::vector<TypeSpec>& SyncedTypes();

// The class of a managed object type ("vms" for VirtualMachine), "" for one read only to name
// datacenters (Datacenter, Folder, ComputeResource), "?" for a type the sync does not know.
std::string ClassOf(const std::string& type);

class InventoryCache {
 public:
  // Sets `path` of object `moref` (of managed object type `type`); an empty `val` unsets it.
  void Set(const std::string& type, const std::string& moref, const std::string& path, const pugi::xml_node& val);
  void Remove(const std::string& moref);
  bool Has(const std::string& moref) const;
  // The JSON array of the given objects of `cls`, as dispatcher_v1_apply_vcenter_sync takes them.
  std::string Json(const std::string& cls, const std::vector<std::string>& morefs) const;
  std::size_t size() const;

 private:
  struct Object {
    std::string type;
    std::map<std::string, std::string> text;  // scalar properties and extracted fields
    std::vector<std::string> ips, datastores;
    int hosts = -1;  // clusters: the size of "host"
  };
  std::map<std::string, Object> objects_;
};

}  // namespace dcops::vcsync
