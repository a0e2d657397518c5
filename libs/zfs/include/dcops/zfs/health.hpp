#pragma once
// Readings of pool and dataset state for zfs.health and the ZFS inventory: `zpool list`,
// `zpool status` and `zfs list` as OpenZFS 2.x prints them (exact numbers with -p) and as
// old ZFS does (zfs-fuse: no -p, sizes like "250M", "scrub:" instead of "scan:"). A size
// that was printed rounded is marked approximate rather than passed off as exact.
// Pure; thread-safe.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops::zfs {

// "1234" → 1234; "250M" → 262144000 (1024-based, rounded: `exact` false); "-" → nullopt.
struct Size {
  std::uint64_t bytes = 0;
  bool exact = true;
};
std::optional<Size> ParseSize(std::string_view text);

struct PoolRow {
  std::string name, health;
  std::optional<Size> size, allocated, free;
  std::optional<int> capacity_percent, fragmentation_percent;
};
// `zpool list -H [-p] -o name,size,allocated,free,capacity,health[,fragmentation]`.
Result<std::vector<PoolRow>> ParsePoolList(std::string_view out);

struct PoolStatus {
  std::string name, state;
  std::string status;   // the "status:" paragraph, "" when none
  std::string scan;     // the "scan:" (or old "scrub:") line as printed
  std::string scrub_state;  // "none", "finished", "running", "canceled", "other"
  std::optional<std::uint64_t> scrub_errors;
  std::string scrub_finished;  // the date text after "on", as printed
  std::uint64_t read_errors = 0, write_errors = 0, checksum_errors = 0;  // summed over the config table
  std::string errors;       // the "errors:" line's text
  std::uint64_t data_errors = 0;
  std::vector<std::string> degraded_devices;  // config rows not ONLINE (and not AVAIL/INUSE spares)
};
// `zpool status [POOL…]`: one entry per "pool:" block.
Result<std::vector<PoolStatus>> ParsePoolStatus(std::string_view out);

struct DatasetRow {
  std::string name, type;
  std::optional<Size> used, available, referenced;
};
// `zfs list -H [-p] -o name,type,used,available,referenced`.
Result<std::vector<DatasetRow>> ParseDatasetList(std::string_view out);

}  // namespace dcops::zfs
