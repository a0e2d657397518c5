#include "dcops/redfish/collection.hpp"

#include <fmt/format.h>

#include <set>

namespace dcops::redfish {

bool SupportsExpand(const Document& root) {
  return root.OptionalBool("ProtocolFeaturesSupported/ExpandQuery/ExpandAll").value_or(false) &&
         root.OptionalBool("ProtocolFeaturesSupported/ExpandQuery/Levels").value_or(false);
}

Status ForEachPage(Client& bmc, const std::string& first, std::size_t max_pages,
                   const std::function<Result<bool>(const Document& page)>& visit) {
  std::set<std::string> read;
  std::string next = first;
  while (!next.empty()) {
    if (!read.insert(next).second) {
      return MakeError(
          "redfish.schema",
          fmt::format("{}: Members@odata.nextLink leads back to {}, a page already read", first,
                      next));
    }
    if (read.size() > max_pages) {
      return MakeError("redfish.schema", fmt::format("{}: more than {} pages", first, max_pages));
    }
    auto page = bmc.Get(next);
    if (!page) return page.error();
    auto more = visit(*page);
    if (!more) return more.error();
    if (!*more) return {};
    next = page->OptionalString("Members@odata.nextLink").value_or("");
  }
  return {};
}

Result<std::vector<Document>> ReadMembers(Client& bmc, const std::string& collection,
                                          const CollectionOptions& options) {
  // Members by URI, in the order first listed, across the pages.
  std::vector<std::string> ids;
  std::set<std::string> seen;
  std::vector<Document> expanded;
  bool all_expanded = options.expand;
  const std::size_t max_pages = options.max_members;  // a page holds at least one member
  auto read =
      ForEachPage(bmc, options.expand ? collection + "?$expand=*($levels=1)" : collection,
                  max_pages, [&](const Document& page) -> Result<bool> {
                    auto page_ids = page.MemberIds();
                    if (!page_ids) return page_ids.error();
                    std::vector<Document> members;
                    if (all_expanded) {
                      auto e = page.ExpandedMembers();
                      if (e) {
                        members = std::move(*e);
                      } else {
                        all_expanded = false;  // links after all: read member by member
                      }
                    }
                    for (std::size_t i = 0; i < page_ids->size(); ++i) {
                      if (!seen.insert((*page_ids)[i]).second) continue;
                      ids.push_back((*page_ids)[i]);
                      if (all_expanded && i < members.size())
                        expanded.push_back(std::move(members[i]));
                    }
                    if (ids.size() > options.max_members) {
                      return MakeError("redfish.schema",
                                       fmt::format("{}: more than the {} members this worker reads",
                                                   collection, options.max_members));
                    }
                    return true;
                  });
  if (!read) return read.error();
  if (all_expanded && expanded.size() == ids.size()) return expanded;
  std::vector<Document> out;
  out.reserve(ids.size());
  for (const auto& id : ids) {
    auto member = bmc.Get(id);
    if (!member) return member.error();
    out.push_back(std::move(*member));
  }
  return out;
}

}  // namespace dcops::redfish
