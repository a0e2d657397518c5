#pragma once
// A resource's actions as the service advertises them: the target to POST to (never a
// constructed "<resource>/Actions/<Name>") and the values each parameter allows, from the
// action object's "<Param>@Redfish.AllowableValues" or from the ActionInfo resource its
// "@Redfish.ActionInfo" names.
//
// Blocking: FindAction may read the ActionInfo resource. Thread-safety: as the Client.
#include <map>
#include <string>
#include <vector>

#include "dcops/redfish/client.hpp"

namespace dcops::redfish {

struct Action {
  std::string name;    // "#ComputerSystem.Reset"
  std::string target;  // where to POST it
  // Parameter → the values the service allows; a parameter absent here is not restricted.
  std::map<std::string, std::vector<std::string>> allowable;
  // True when the service allows `value` for `parameter` (or said nothing about it).
  bool Allows(const std::string& parameter, const std::string& value) const;
  // The allowed values of `parameter`; empty when the service did not say.
  std::vector<std::string> Allowed(const std::string& parameter) const;
};

// The action `name` of `doc` (standard under "Actions", OEM under "Actions/Oem"), or
// redfish.unsupported naming the resource when it offers none.
Result<Action> FindAction(Client& bmc, const Document& doc, const std::string& name);

}  // namespace dcops::redfish
