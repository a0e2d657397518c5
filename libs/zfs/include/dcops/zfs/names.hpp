#pragma once
// ZFS names checked against ZFS's grammar (OpenZFS zfs_namecheck.c) before they reach a
// command line: a pool, a dataset ("pool/a/b"), a snapshot ("pool/a@s"), a bookmark
// ("pool/a#b") and the short names after '@' / '#' and of a hold tag. Every check returns a
// step.bad_params-style error naming what is wrong, so an operator sees which character or
// rule refused the name.
//
// Beyond the grammar: a name may not start with '-' anywhere it could be read as an option,
// and '%' (ZFS's temporary clone names) is refused. Commands are argument vectors quoted once
// (ssh::ShellQuote), so these checks are the first of two lines, not the only one.
//
// Pure functions; thread-safe.
#include <string>
#include <string_view>

#include "dcops/common/result.hpp"

namespace dcops::zfs {

// ZFS_MAX_DATASET_NAME_LEN is 256 including the terminating NUL.
inline constexpr std::size_t kMaxNameLength = 255;

// Letters, digits and "_-.: " (ZFS allows the space); `what` names the value in errors.
Status CheckPool(std::string_view name, std::string_view what = "pool");
Status CheckDataset(std::string_view name, std::string_view what = "dataset");
// "dataset@short"
Status CheckSnapshot(std::string_view name, std::string_view what = "snapshot");
// "dataset#short"
Status CheckBookmark(std::string_view name, std::string_view what = "bookmark");
// The part after '@' or '#', and a snapshot prefix (same grammar, no '@', '#' or '/').
Status CheckShortName(std::string_view name, std::string_view what);
// A user-hold tag: 1..255 printable characters, no '/', '@', '#' or leading '-'.
Status CheckHoldTag(std::string_view tag);

// The dataset part of "ds@snap" or "ds#bm" (or the name itself).
std::string_view DatasetOf(std::string_view name);
// The part after '@' or '#' ("" when none).
std::string_view ShortNameOf(std::string_view name);

}  // namespace dcops::zfs
