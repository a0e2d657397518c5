#pragma once
// Request targets: which resource a path means (trailing slashes and the query do not change
// it) and the decoded query parameters.
//
// Thread-safety: pure functions.
#include <map>
#include <string>
#include <string_view>

namespace dcops::sim::tree {

struct Target {
  std::string path;                          // normalized: decoded, no trailing '/'
  std::map<std::string, std::string> query;  // decoded; "$skip" -> "10"
  bool has_query = false;
};

// "/redfish/v1/" -> "/redfish/v1", "/redfish/v1/Systems/?x" -> "/redfish/v1/Systems".
std::string NormalizePath(std::string_view path);
Target ParseTarget(std::string_view raw);
std::string PercentDecode(std::string_view s);

}  // namespace dcops::sim::tree
