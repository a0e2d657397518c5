#pragma once
// The Redfish documents a simulated BMC serves, in the shapes of a Dell iDRAC9, or of
// another make's BMC where the identity says so (vendor.hpp).
#include <string>

#include "bmc.hpp"

namespace dcops::sim {

std::string ServiceRootJson(const Identity& id);
std::string SystemsCollectionJson();
// The system as it is now: `bios_version` and `boot` change with updates and settings.
std::string SystemJson(const Identity& id, Power power, const std::vector<std::string>& reset_types,
                       const std::string& last_reset_time, const std::string& bios_version,
                       const BootState& boot, const std::vector<std::string>& boot_targets);
std::string ManagersCollectionJson();
std::string ManagerJson(const Identity& id, const std::string& firmware, const std::string& last_reset_time);
std::string SessionServiceJson();
std::string SessionJson(const std::string& id, const std::string& user);
// A Redfish error body with one @Message.ExtendedInfo entry.
std::string ErrorJson(const std::string& message_id, const std::string& message);

}  // namespace dcops::sim
