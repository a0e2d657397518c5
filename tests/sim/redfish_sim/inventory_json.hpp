#pragma once
// Redfish documents of a simulated server's components, in the shapes iDRAC9 serves them,
// and collections that honour $expand=*($levels=1) when the firmware supports it.
#include <string>
#include <utility>
#include <vector>

#include "inventory.hpp"

namespace dcops::sim {

inline constexpr const char* kSystem = "/redfish/v1/Systems/System.Embedded.1";

// (@odata.id, document) of one member.
using Member = std::pair<std::string, std::string>;

// A collection at `path`; members are links, or whole documents when `expand`.
std::string CollectionJson(const std::string& path, const std::string& type, const std::string& name,
                           const std::vector<Member>& members, bool expand);

std::vector<Member> ProcessorMembers(const Inventory& inv);
std::vector<Member> MemoryMembers(const Inventory& inv);
std::vector<Member> StorageMembers(const Inventory& inv);
std::vector<Member> DriveMembers(const Inventory& inv);
std::vector<Member> VolumeMembers(const Inventory& inv);
std::vector<Member> EthernetMembers(const Inventory& inv);
std::vector<Member> FirmwareMembers(const Inventory& inv);

std::string StoragePath(const Inventory& inv);

}  // namespace dcops::sim
