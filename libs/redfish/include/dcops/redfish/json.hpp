#pragma once
// Reading Redfish documents without trusting them: every accessor fails as a value that
// names the resource and the field ("/redfish/v1/Systems/System.Embedded.1: PowerState is
// missing"), never by crashing or by guessing.
//
// Thread-safety: a Document is a value; const access from many threads is safe.

#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops::redfish {

class Document {
 public:
  // Parses `body` of `resource`; an error (redfish.schema) for anything but a JSON object.
  static Result<Document> Parse(std::string resource, const std::string& body,
                                std::string_view content_type = "application/json");

  const std::string& resource() const { return resource_; }
  // Paths are '/'-separated member names: "Status/Health", "Oem/Dell/ServiceTag".
  Result<std::string> String(std::string_view path) const;
  std::optional<std::string> OptionalString(std::string_view path) const;
  Result<std::int64_t> Int(std::string_view path) const;
  std::optional<double> OptionalNumber(std::string_view path) const;
  // An array of strings ("ResetType@Redfish.AllowableValues").
  Result<std::vector<std::string>> Strings(std::string_view path) const;
  // "@odata.id" of every member of a collection.
  Result<std::vector<std::string>> MemberIds() const;
  const rapidjson::Value* Find(std::string_view path) const;

 private:
  Document(std::string resource, std::shared_ptr<rapidjson::Document> doc)
      : resource_(std::move(resource)), doc_(std::move(doc)) {}
  Error SchemaError(std::string_view path, std::string_view problem) const;
  std::string resource_;
  std::shared_ptr<rapidjson::Document> doc_;
};

}  // namespace dcops::redfish
