#pragma once
// What a server.firmware_update applies, in the order it applies it (pure: no network).
//
// Safe order: host components (BIOS, NICs, storage, …) first, staged together so one reboot
// applies them all; the iDRAC (with its Lifecycle Controller) last, because its update
// restarts the iDRAC and would cut off everything still in flight behind it.
//
// Pushed packages come only from the worker's package directory: a path that leaves it
// (".." or a symbolic link out) is refused before anything is read.
#include <string>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops::idrac {

struct FirmwarePackage {
  std::string label;      // the file name, as reported
  std::string image_uri;  // simple_update: what the BMC fetches
  std::string file_path;  // push: the file the worker uploads
  bool idrac = false;     // the iDRAC's own firmware: applied last
};

// True for a Dell iDRAC / Lifecycle Controller package ("iDRAC-with-Lifecycle-Controller_…").
bool IsIdracPackage(const std::string& name);

// Host packages in their given order, then iDRAC packages.
std::vector<FirmwarePackage> SafeOrder(std::vector<FirmwarePackage> packages);

// `path` (relative to `package_dir`, or absolute inside it) as a canonical path of an existing
// regular file inside `package_dir`; errors name params.<key>.
Result<std::string> PackageFile(const std::string& package_dir, const std::string& path, const char* key);

}  // namespace dcops::idrac
