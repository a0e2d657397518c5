#pragma once
// Attribute registries (BIOS, iDRAC): which of the wanted values differ from what a
// document's "Attributes" holds. Pure: tested without a network.
#include <rapidjson/document.h>

#include <string>

#include "dcops/redfish/json.hpp"

namespace dcops::idrac {

// The attributes of `wanted` (a JSON object) whose value in `doc` differs, as a JSON object
// (sets *any when there is one). An attribute `doc` does not have is a step.bad_params error
// naming it: "params.attributes.<name>: the <registry> has no such attribute".
Result<std::string> AttributeDifference(const rapidjson::Value& wanted, const redfish::Document& doc,
                                        const std::string& registry, bool* any);

std::string JsonText(const rapidjson::Value& v);

}  // namespace dcops::idrac
