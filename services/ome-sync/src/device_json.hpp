#pragma once
// One OME server as an "ome.devices" batch entry, in the shapes dispatcher_v1_apply_ome_sync
// takes (the component lists as a Redfish refresh writes them, plus storage controllers and
// power supplies):
//   {"ome_device_id": 10042, "service_tag": "7XK2QF3", "bmc_address": "10.1.2.3",
//    "hostname": "r750-01.lab", "model": "PowerEdge R750", "power_state": "On", "health": "OK",
//    "processors": [...], "memory": [...], "drives": [...], "controllers": [...], "nics": [...],
//    "power_supplies": [...], "firmware": [...]}
// Fields OME did not give are left out (text) or null (numbers), never invented. The host name
// is the operating system's from the details when OME has one, else OME's device name.
//
// Pure; thread-safe.
#include <string>

#include "dcops/ome/client.hpp"

namespace dcops::omesync {

// `details` null: the device without component lists (a sync without details, or a server
// whose details could not be read).
std::string DeviceJson(const ome::Device& device, const ome::DeviceDetails* details);

}  // namespace dcops::omesync
