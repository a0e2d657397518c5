#include "redfish_target.hpp"

#include <fmt/format.h>

namespace dcops::idrac {

Result<redfish::Target> TargetFromAssignment(const agent::Assignment& a) {
  const std::string_view target = a.target;
  const auto colon = target.find(':');
  if (colon == std::string_view::npos || colon + 1 >= target.size() ||
      (target.substr(0, colon) != "idrac" && target.substr(0, colon) != "redfish")) {
    return MakeError("step.bad_target",
                     fmt::format("target '{}' is not idrac:<address>[:port]", a.target));
  }
  if (a.credentials.username.empty()) {
    return MakeError("step.no_credentials",
                     fmt::format("no credentials were assigned for {}", a.target));
  }
  redfish::Target t;
  t.address = std::string(target.substr(colon + 1));
  t.username = a.credentials.username;
  t.password = a.credentials.password;
  t.tls.verify = a.tls.verify;
  t.tls.pinned_sha256 = a.tls.pinned_sha256;
  t.tls.legacy = a.tls.legacy;
  t.min_interval = a.min_interval;
  return t;
}

Result<std::string> SystemOf(redfish::Client& bmc) {
  auto map = bmc.Map();
  if (!map) return map.error();
  if (map->system.empty()) return MakeError("redfish.unsupported", bmc.target().address + " lists no computer system");
  return map->system;
}

Result<std::string> ManagerOf(redfish::Client& bmc) {
  auto map = bmc.Map();
  if (!map) return map.error();
  if (map->manager.empty()) return MakeError("redfish.unsupported", bmc.target().address + " lists no manager");
  return map->manager;
}

}  // namespace dcops::idrac
