#pragma once
// Reading every member of a Redfish collection in as few round trips as the BMC allows:
// one GET with $expand=*($levels=1) when the service root advertises ExpandQuery, else the
// collection and then each member in turn (a bounded fan-out: one request at a time, so a
// step never holds more than one of the BMC's request slots). A BMC that advertises $expand
// but answers links anyway is read member by member from that same answer.
//
// Blocking: yes (the client's calls). Thread-safety: as the Client.

#include <cstddef>
#include <functional>
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

// Every member, across the collection's pages, each once by its @odata.id (a member listed
// twice, or several members sharing an "Id", are kept apart by URI and not lost).
Result<std::vector<Document>> ReadMembers(Client& bmc, const std::string& collection,
                                          const CollectionOptions& options);

// Visits the pages of a collection from `first`, following Members@odata.nextLink. A link back
// to a page already read is a broken service and fails (redfish.schema, naming both) instead of
// looping; so does a chain longer than `max_pages`. `visit` returns false to stop early (what
// it needs is read), or an error to stop with it.
Status ForEachPage(Client& bmc, const std::string& first, std::size_t max_pages,
                   const std::function<Result<bool>(const Document& page)>& visit);

}  // namespace dcops::redfish
