#pragma once
// Retention grids and what a prune may destroy.
//
// A grid is intervals back from now, written as zrepl and syncoid users expect:
// "24x1h | 14x1d | 6x30d" is 24 one-hour intervals, then 14 one-day intervals, then 6 of 30
// days (units s, m, h, d, w; at most 64 terms, counts 1..10000). In each interval the oldest
// of our snapshots is kept; snapshots older than the whole grid are destroyed. A snapshot
// newer than `now` (a clock ahead of ours) is kept.
//
// Ours are exactly "<prefix>_<UTC time>" (SnapshotName, maybe with ".N"); any other name is
// left alone. Whatever the grid says, a prune never destroys: a snapshot not ours, the newest
// snapshot both sides hold (replication's next base), a snapshot the target has not got yet,
// a held snapshot (userrefs > 0), or the newest `keep_last` of ours. Bookmarks are never
// destroyed by a prune. Pure; thread-safe.
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dcops/common/result.hpp"
#include "dcops/zfs/listing.hpp"

namespace dcops::zfs {

struct GridTerm {
  int count = 0;
  std::chrono::seconds length{0};
};

// zfs.bad_retention naming the term that is wrong.
Result<std::vector<GridTerm>> ParseGrid(std::string_view text);

// "<prefix>_YYYYMMDDTHHMMSSZ": the names our snapshots get, and the time they carry.
std::string SnapshotName(std::string_view prefix, std::chrono::system_clock::time_point t);
std::optional<std::int64_t> TimeOfName(std::string_view prefix, std::string_view name);  // unix seconds

struct PruneInput {
  std::string prefix;
  std::vector<GridTerm> grid;
  int keep_last = 1;
  std::int64_t now = 0;                   // unix seconds
  std::set<std::uint64_t> protected_guids;  // the newest common snapshot and those not yet replicated
};

struct PruneDecision {
  std::vector<std::string> destroy;  // short names, oldest first
  struct Kept {
    std::string name;
    std::string why;
  };
  std::vector<Kept> kept;  // ours that the grid alone would have destroyed, and why not ("newest", "replication", "held")
  int ours = 0;            // snapshots with our prefix
};

PruneDecision PlanPrune(const std::vector<Point>& snapshots, const PruneInput& in);

}  // namespace dcops::zfs
