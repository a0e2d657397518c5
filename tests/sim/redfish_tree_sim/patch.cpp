#include "patch.hpp"

#include <fmt/format.h>

#include <optional>

#include "collection_view.hpp"
#include "json_util.hpp"
#include "redfish_error.hpp"

namespace dcops::sim::tree {
namespace {

bool ReadOnlyName(const std::string& name, bool top) {
  if (name.find('@') != std::string::npos) return true;  // @odata.*, annotations
  return top && (name == "Id" || name == "Actions" || name == "Links" || name == "PowerState");
}

// The first reason `patch` cannot apply to `current` (the object at JSON pointer `at`).
std::optional<SimResponse> Check(const rapidjson::Value& current, const rapidjson::Value& patch,
                                 const std::string& at) {
  for (auto it = patch.MemberBegin(); it != patch.MemberEnd(); ++it) {
    const std::string name = it->name.GetString();
    const std::string path = at + "/" + name;
    const std::string shown = at.empty() ? name : path.substr(1);
    if (ReadOnlyName(name, at.empty())) {
      return RedfishError(400, "PropertyNotWritable",
                          fmt::format("The property {} is a read only property and cannot be "
                                      "assigned a value.",
                                      shown),
                          {shown}, {path});
    }
    const rapidjson::Value* now = Find(current, name);
    if (now == nullptr) {
      return RedfishError(400, "PropertyUnknown",
                          fmt::format("The property {} is not in the list of valid properties "
                                      "for the resource.",
                                      shown),
                          {shown}, {path});
    }
    if (now->IsObject() && it->value.IsObject()) {
      if (auto nested = Check(*now, it->value, path)) return nested;
      continue;
    }
    if (now->IsObject() != it->value.IsObject() && !it->value.IsNull()) {
      const std::string value = ToJson(it->value);
      return RedfishError(400, "PropertyValueTypeError",
                          fmt::format("The value {} for the property {} is of a different type "
                                      "than the property can accept.",
                                      value, shown),
                          {value, shown}, {path});
    }
    const rapidjson::Value* allowed = Find(current, name + "@Redfish.AllowableValues");
    if (allowed != nullptr && allowed->IsArray() && !ListHas(*allowed, it->value)) {
      const std::string value = it->value.IsString() ? it->value.GetString() : ToJson(it->value);
      return RedfishError(400, "PropertyValueNotInList",
                          fmt::format("The value {} for the property {} is not in the list of "
                                      "acceptable values.",
                                      value, shown),
                          {value, shown}, {path});
    }
  }
  return std::nullopt;
}

void BumpEtag(rapidjson::Document& doc, uint64_t n) {
  if (Find(doc, "@odata.etag") == nullptr) return;
  SetString(doc, "@odata.etag", fmt::format("W/\"sim-{}\"", n), doc.GetAllocator());
}

}  // namespace

SimResponse Patch(SimState& s, const std::string& uri, const std::string& body,
                  const std::string& if_match) {
  rapidjson::Document* doc = s.Doc(uri);
  if (doc == nullptr) return ResourceMissing(uri);
  if (IsCollection(*doc)) return MethodNotAllowed(uri, "GET, HEAD, POST");
  if (const auto etag = FindString(*doc, "@odata.etag");
      etag && !if_match.empty() && if_match != "*" && if_match != *etag) {
    return RedfishError(412, "PreconditionFailed",
                        "The ETag supplied did not match the ETag required to change this "
                        "resource.",
                        {}, {});
  }
  auto patch = ParseObject(body);
  if (!patch) return MalformedJson(patch.error().message);
  if (auto refused = Check(*doc, *patch, "")) return *refused;
  auto& a = doc->GetAllocator();
  if (s.settings_owner.count(uri) != 0) {
    rapidjson::Document& pending = s.pending_settings[uri];
    if (!pending.IsObject()) pending.SetObject();
    MergeInto(pending, *patch, pending.GetAllocator());
  }
  MergeInto(*doc, *patch, a);
  BumpEtag(*doc, s.next_id++);
  s.patches.push_back(Recorded{uri, "", ToJson(*patch)});
  SimResponse r;
  r.body = ToJson(*doc);
  if (const auto etag = FindString(*doc, "@odata.etag")) r.headers.emplace_back("ETag", *etag);
  return r;
}

}  // namespace dcops::sim::tree
