#pragma once
// Loads a Redfish mockup directory (one folder per URI, the body in index.json, the top folder
// is /redfish/v1) into memory, keyed by normalized URI. `$metadata/index.xml` is kept as XML.
//
// Blocks on file reads. Thread-safety: Tree is a plain value owned by its holder.
#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <string>

#include "dcops/common/result.hpp"

namespace dcops::sim::tree {

struct Tree {
  std::map<std::string, std::unique_ptr<rapidjson::Document>> json;  // "/redfish/v1/Systems"
  std::map<std::string, std::string> xml;                            // "/redfish/v1/$metadata"
};

// Every index.json (and index.xml) under `dir`; an error names the first unreadable file.
Result<Tree> LoadTree(const std::string& dir);

}  // namespace dcops::sim::tree
