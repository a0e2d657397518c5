#pragma once
// What one ZFS host can do, probed once per host (and recorded with it) instead of assumed:
// zfs-fuse and other old ZFS (pool version ≤ 28) have no bookmarks, no resume tokens, no raw
// sends, no `send -nP` estimates, and no `zfs version`; OpenZFS 2.x has them when the pool's
// feature flags are enabled. A step asks Capabilities, and a missing one is a clear refusal
// or a documented fallback (docs/ZFS.md), never a command the host would reject or misread.
// Pure; thread-safe.
#include <string>
#include <string_view>

namespace dcops::zfs {

struct Capabilities {
  std::string software;   // "OpenZFS 2.1.11", or "ZFS (pool version 23)"
  bool openzfs = false;   // `zfs version` answered
  int pool_version = 0;   // legacy pools; 5000 for feature-flag pools
  bool bookmarks = false;       // feature@bookmarks enabled or active
  bool resume = false;          // `receive -s` and resume tokens: feature@extensible_dataset, OpenZFS
  bool raw_send = false;        // `send -w`: feature@encryption, OpenZFS ≥ 0.8
  bool large_blocks = false;    // `send -L` keeps large blocks: feature@large_blocks
  bool send_estimate = false;   // `send -n -P` prints a size: OpenZFS
  bool holds = false;           // user holds: pool version ≥ 18
};

// `zfs version` output ("zfs-2.1.11-1\nzfs-kmod-2.1.11-1") → "2.1.11"; "" when it is not that.
std::string ParseZfsVersion(std::string_view out);

// From `zfs version` (exit 0, its output) or its refusal (old ZFS), and the pool's
// `zpool get -H -o property,value version,feature@…` (OpenZFS) or `zpool get version POOL`
// (old ZFS, with its header) output.
Capabilities ProbeResult(bool zfs_version_ok, std::string_view zfs_version_out, std::string_view pool_get_out);

// {"software":…,"openzfs":…,…} for results and the hosts table.
std::string CapabilitiesJson(const Capabilities& c);

}  // namespace dcops::zfs
