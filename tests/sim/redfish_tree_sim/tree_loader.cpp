#include "tree_loader.hpp"

#include <fmt/format.h>
#include <rapidjson/error/en.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "target.hpp"

namespace dcops::sim::tree {
namespace fs = std::filesystem;

namespace {

Result<std::string> ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return MakeError("tree.read", fmt::format("cannot read {}", p.string()));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string UriOf(const fs::path& root, const fs::path& folder) {
  const std::string rel = fs::relative(folder, root).generic_string();
  return NormalizePath(rel == "." ? "/redfish/v1" : "/redfish/v1/" + rel);
}

}  // namespace

Result<Tree> LoadTree(const std::string& dir) {
  std::error_code ec;
  const fs::path root = fs::absolute(dir, ec);
  if (ec || !fs::is_directory(root, ec)) {
    return MakeError("tree.missing", fmt::format("{} is not a directory", dir));
  }
  Tree tree;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string name = it->path().filename().string();
    if (name != "index.json" && name != "index.xml") continue;
    auto text = ReadFile(it->path());
    if (!text) return text.error();
    const std::string uri = UriOf(root, it->path().parent_path());
    if (name == "index.xml") {
      tree.xml[uri] = std::move(*text);
      continue;
    }
    auto doc = std::make_unique<rapidjson::Document>();
    doc->Parse(text->c_str(), text->size());
    if (doc->HasParseError() || !doc->IsObject()) {
      return MakeError("tree.json", fmt::format("{}: not a JSON object ({})", it->path().string(),
                                                rapidjson::GetParseError_En(doc->GetParseError())));
    }
    tree.json[uri] = std::move(doc);
  }
  if (ec) return MakeError("tree.walk", fmt::format("walking {}: {}", dir, ec.message()));
  if (tree.json.count("/redfish/v1") == 0) {
    return MakeError("tree.no_root", fmt::format("{} has no index.json (the service root)", dir));
  }
  return tree;
}

}  // namespace dcops::sim::tree
