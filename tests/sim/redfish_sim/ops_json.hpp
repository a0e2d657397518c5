#pragma once
// Redfish documents of the simulated iDRAC's operations: jobs (as Dell Jobs and as Redfish
// Tasks), virtual media, BIOS attributes and the update service.
#include <map>
#include <string>
#include <vector>

#include "bmc.hpp"
#include "inventory_json.hpp"

namespace dcops::sim {

inline constexpr const char* kManager = "/redfish/v1/Managers/iDRAC.Embedded.1";

std::string DellJobJson(const SimJob& job);
std::string TaskJson(const SimJob& job);
std::vector<Member> JobMembers(const std::vector<SimJob>& jobs);
// Where virtual media lives: under the system (iDRAC9 6.x) or the manager (older firmware).
std::string VirtualMediaPath(bool legacy);
std::vector<Member> MediaMembers(const std::vector<MediaSlot>& slots, bool legacy);
std::string BiosJson(const std::map<std::string, std::string>& attributes);
std::string BiosSettingsJson(const std::map<std::string, std::string>& pending);
// Firmware without multipart upload (`legacy`) has no MultipartHttpPushUri.
std::string UpdateServiceJson(bool legacy);
std::string ManagerAttributesJson(const std::map<std::string, std::string>& attributes);

}  // namespace dcops::sim
