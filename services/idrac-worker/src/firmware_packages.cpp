#include "firmware_packages.hpp"

#include <algorithm>
#include <filesystem>

#include "step_support.hpp"

namespace dcops::idrac {

bool IsIdracPackage(const std::string& name) {
  std::string lower = name.substr(name.rfind('/') == std::string::npos ? 0 : name.rfind('/') + 1);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find("idrac") != std::string::npos || lower.find("lifecycle-controller") != std::string::npos;
}

std::vector<FirmwarePackage> SafeOrder(std::vector<FirmwarePackage> packages) {
  std::stable_partition(packages.begin(), packages.end(), [](const FirmwarePackage& p) { return !p.idrac; });
  return packages;
}

Result<std::string> PackageFile(const std::string& package_dir, const std::string& path, const char* key) {
  namespace fs = std::filesystem;
  if (path.empty()) return BadParam(key, "is empty");
  for (const auto& part : fs::path(path).lexically_normal()) {
    if (part == "..") return BadParam(key, "'" + path + "' may not leave the package directory");
  }
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(package_dir, ec);
  if (ec) return MakeError("worker.config", "the package directory " + package_dir + " cannot be read");
  const fs::path joined = fs::path(path).is_absolute() ? fs::path(path) : dir / path;
  const fs::path file = fs::weakly_canonical(joined, ec);
  if (ec) return BadParam(key, "'" + path + "' cannot be resolved");
  const auto [end, _] = std::mismatch(dir.begin(), dir.end(), file.begin(), file.end());
  if (end != dir.end()) return BadParam(key, "'" + path + "' is not inside the package directory " + dir.string());
  if (!fs::is_regular_file(file, ec)) return BadParam(key, "'" + path + "' is not a file in " + dir.string());
  return file.string();
}

}  // namespace dcops::idrac
