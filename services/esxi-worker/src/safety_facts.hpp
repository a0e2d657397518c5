#pragma once
// The safety check's facts read from vCenter's PropertyCollector answers: one function per
// managed object type, over the properties listed beside it (ask for exactly those). vim25's
// optional properties are optional here: a property vCenter leaves out keeps the default
// (false, "", -1, empty), never an error; a value of the wrong shape is read as absent.
//
// Pure (XML in, facts out); thread-safe.
#include <string>
#include <vector>

#include "dcops/vsphere/soap.hpp"
#include "safety_check.hpp"

namespace dcops::esxi {

inline const std::vector<std::string> kClusterProperties = {"name", "configurationEx", "summary", "host"};
inline const std::vector<std::string> kHostProperties = {"name", "runtime.connectionState", "runtime.powerState",
                                                         "runtime.inMaintenanceMode"};
inline const std::vector<std::string> kDatastoreProperties = {"name", "host"};
inline const std::vector<std::string> kVmProperties = {"name",      "runtime.host",           "runtime.powerState",
                                                       "runtime.faultToleranceState", "datastore", "config.hardware.device",
                                                       "guest.hostName", "config.instanceUuid"};

// The cluster and the morefs of its hosts (its `host` property).
ClusterFacts ReadCluster(const vsphere::ObjectContent& object, std::vector<std::string>* hosts = nullptr);
HostFacts ReadHost(const vsphere::ObjectContent& object);
DatastoreFacts ReadDatastore(const vsphere::ObjectContent& object);
// `guest_hostname` and `instance_uuid` (out, may be null) help the caller find vCenter's own VM.
VmFacts ReadVm(const vsphere::ObjectContent& object, std::string* guest_hostname = nullptr, std::string* instance_uuid = nullptr);

}  // namespace dcops::esxi
