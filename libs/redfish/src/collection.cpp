#include "dcops/redfish/collection.hpp"

#include <fmt/format.h>

namespace dcops::redfish {

bool SupportsExpand(const Document& root) {
  return root.OptionalBool("ProtocolFeaturesSupported/ExpandQuery/ExpandAll").value_or(false) &&
         root.OptionalBool("ProtocolFeaturesSupported/ExpandQuery/Levels").value_or(false);
}

Result<std::vector<Document>> ReadMembers(Client& bmc, const std::string& collection,
                                          const CollectionOptions& options) {
  auto coll = bmc.Get(options.expand ? collection + "?$expand=*($levels=1)" : collection);
  if (!coll) return coll.error();
  auto ids = coll->MemberIds();
  if (!ids) return ids.error();
  if (ids->size() > options.max_members) {
    return MakeError("redfish.schema", fmt::format("{}: {} members, more than the {} this worker reads",
                                                   collection, ids->size(), options.max_members));
  }
  if (options.expand) {
    if (auto expanded = coll->ExpandedMembers()) return expanded;
  }
  std::vector<Document> out;
  out.reserve(ids->size());
  for (const auto& id : *ids) {
    auto member = bmc.Get(id);
    if (!member) return member.error();
    out.push_back(std::move(*member));
  }
  return out;
}

}  // namespace dcops::redfish
