#pragma once
// The name a replication pair goes by on the source host: its user-hold tag
// ("dcops-repl-<8 hex>") and the suffix of its cursor bookmarks, stable for one (target host,
// target dataset), so two targets of one dataset never release each other's holds or
// destroy each other's cursors. Pure; thread-safe.
#include <string>
#include <string_view>

namespace dcops::zfs_worker {

std::string PairTag(std::string_view target_host, std::string_view target_dataset);

}  // namespace dcops::zfs_worker
