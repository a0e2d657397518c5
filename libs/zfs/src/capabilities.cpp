#include "dcops/zfs/capabilities.hpp"

#include <fmt/format.h>

#include <charconv>
#include <map>
#include <sstream>
#include <vector>

namespace dcops::zfs {
namespace {

// (major, minor) of "2.1.11"; (0, 0) when unreadable.
std::pair<int, int> MajorMinor(std::string_view v) {
  int major = 0, minor = 0;
  const auto dot = v.find('.');
  std::from_chars(v.data(), v.data() + v.size(), major);
  if (dot != std::string_view::npos) std::from_chars(v.data() + dot + 1, v.data() + v.size(), minor);
  return {major, minor};
}

// property → value from either `zpool get -H -o property,value` (two fields per line) or the
// old `zpool get` table ("NAME PROPERTY VALUE SOURCE", whitespace-separated, with a header).
std::map<std::string, std::string> PoolProperties(std::string_view out) {
  std::map<std::string, std::string> props;
  std::istringstream in{std::string(out)};
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::istringstream words(line);
    for (std::string w; words >> w;) fields.push_back(w);
    if (fields.empty() || fields[0] == "NAME") continue;
    if (line.find('\t') != std::string::npos && fields.size() >= 2) {
      props[fields[0]] = fields[1];  // property, value
    } else if (fields.size() >= 3) {
      props[fields[1]] = fields[2];  // name, property, value, source
    }
  }
  return props;
}

}  // namespace

std::string ParseZfsVersion(std::string_view out) {
  const auto at = out.find("zfs-");
  if (at == std::string_view::npos) return "";
  std::string_view rest = out.substr(at + 4);
  if (rest.substr(0, 5) == "kmod-") return "";
  std::size_t n = 0;
  while (n < rest.size() && ((rest[n] >= '0' && rest[n] <= '9') || rest[n] == '.')) ++n;
  if (n == 0 || rest.substr(0, n).find('.') == std::string_view::npos) return "";
  return std::string(rest.substr(0, n));
}

Capabilities ProbeResult(bool zfs_version_ok, std::string_view zfs_version_out, std::string_view pool_get_out) {
  Capabilities c;
  const std::string version = zfs_version_ok ? ParseZfsVersion(zfs_version_out) : "";
  c.openzfs = !version.empty();
  const auto props = PoolProperties(pool_get_out);
  auto feature = [&](const char* name) {
    const auto it = props.find(std::string("feature@") + name);
    return it != props.end() && (it->second == "enabled" || it->second == "active");
  };
  if (const auto it = props.find("version"); it != props.end()) {
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), c.pool_version);
  }
  const bool feature_flags = c.pool_version == 0 && props.count("version") != 0;  // "-": feature flags
  if (feature_flags || c.pool_version >= 5000) c.pool_version = 5000;
  const auto [major, minor] = MajorMinor(version);
  c.bookmarks = feature("bookmarks");
  c.resume = c.openzfs && feature("extensible_dataset");
  c.raw_send = c.openzfs && (major > 0 || minor >= 8) && feature("encryption");
  c.large_blocks = feature("large_blocks");
  c.send_estimate = c.openzfs;
  c.holds = c.pool_version >= 18;
  c.software = c.openzfs ? "OpenZFS " + version : fmt::format("ZFS (pool version {})", c.pool_version);
  return c;
}

std::string CapabilitiesJson(const Capabilities& c) {
  std::string software;
  for (char ch : c.software) {
    if (ch == '"' || ch == '\\') software += '\\';
    if (static_cast<unsigned char>(ch) >= 0x20) software += ch;
  }
  return fmt::format(R"({{"software":"{}","openzfs":{},"pool_version":{},"bookmarks":{},"resume":{},"raw_send":{},)"
                     R"("large_blocks":{},"send_estimate":{},"holds":{}}})",
                     software, c.openzfs, c.pool_version, c.bookmarks, c.resume, c.raw_send, c.large_blocks, c.send_estimate,
                     c.holds);
}

}  // namespace dcops::zfs
