#pragma once
// Reading every member of a Redfish collection in as few round trips as the BMC allows:
// one GET with $expand=*($levels=1) when the service root advertises ExpandQuery, else the
// collection and then each member in turn (a bounded fan-out: one request at a time, so a
// step never holds more than one of the BMC's request slots). A BMC that advertises $expand
// but answers links anyway is read member by member from that same answer.
//
// Blocking: yes (the client's calls). Thread-safety: as the Client.

#include <cstddef>
#include <string>
#include <vector>

#include "dcops/redfish/client.hpp"

namespace dcops::redfish {

// True when the service root says $expand=*($levels=1) works.
bool SupportsExpand(const Document& service_root);

struct CollectionOptions {
  bool expand = false;
  // More members than this is not a server this worker understands (a schema error).
  std::size_t max_members = 1024;
};

Result<std::vector<Document>> ReadMembers(Client& bmc, const std::string& collection,
                                          const CollectionOptions& options);

}  // namespace dcops::redfish
