#pragma once
// Readings of `zfs get -H -p -o name,property,value PROPS NAME…` (the one listing both
// OpenZFS and old ZFS answer with exact numbers: zfs-fuse's `zfs list` has no -p and prints
// a guid as "10.8E"). Pure; thread-safe.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops::zfs {

// One dataset, snapshot or bookmark and the properties asked for (value "-" when it has none).
struct Entry {
  std::string name;
  std::map<std::string, std::string, std::less<>> props;
  std::string Prop(std::string_view key) const;  // "" when absent or "-"
  std::optional<std::uint64_t> Number(std::string_view key) const;
};

// Entries in the order first named. A line that is not three tab-separated fields, or a name
// that is not a ZFS name, is zfs.unexpected_output (quoting the line).
Result<std::vector<Entry>> ParseGet(std::string_view out);

// A snapshot or bookmark of one dataset, with what replication and pruning decide on.
struct Point {
  std::string name;       // the part after '@' or '#'
  std::uint64_t guid = 0;
  std::uint64_t createtxg = 0;
  std::int64_t creation = 0;  // unix seconds
  std::uint64_t userrefs = 0;  // user holds (snapshots)
  std::uint64_t used = 0;      // bytes (snapshots)
};

struct DatasetPoints {
  bool exists = false;
  std::vector<Point> snapshots;  // oldest first (createtxg)
  std::vector<Point> bookmarks;  // oldest first
  std::string resume_token;      // receive_resume_token, "" when none or unsupported
  std::string encryption;        // "off", an algorithm, or "" when the host does not know it
};

// The snapshots and bookmarks directly under `dataset` from a `zfs get -r -d 1` of guid,
// createtxg and creation (and userrefs, used, receive_resume_token, encryption when asked).
// A snapshot without a guid or createtxg is zfs.unexpected_output.
Result<DatasetPoints> PointsOf(const std::vector<Entry>& entries, std::string_view dataset);

}  // namespace dcops::zfs
