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
  std::optional<bool> OptionalBool(std::string_view path) const;
  // Optional members, strictly typed: absent or null is nullopt (iDRAC answers null for what
  // it does not know), a value of another type is a schema error naming the field.
  Result<std::optional<std::string>> MaybeString(std::string_view path) const;
  Result<std::optional<std::int64_t>> MaybeInt(std::string_view path) const;
  Result<std::optional<double>> MaybeNumber(std::string_view path) const;
  Result<std::optional<bool>> MaybeBool(std::string_view path) const;
  // "@odata.id" of every member of a collection.
  Result<std::vector<std::string>> MemberIds() const;
  // The members of a collection read with $expand, each a Document of its own (named by its
  // @odata.id); an error when a member is a bare link (the BMC ignored $expand).
  Result<std::vector<Document>> ExpandedMembers() const;
  // "@odata.id" of every link in an array member ("Drives", "Links/Drives").
  Result<std::vector<std::string>> LinkIds(std::string_view path) const;
  const rapidjson::Value* Find(std::string_view path) const;

 private:
  Document(std::string resource, std::shared_ptr<rapidjson::Document> doc,
           const rapidjson::Value* base = nullptr)
      : resource_(std::move(resource)), doc_(std::move(doc)), base_(base) {}
  Error SchemaError(std::string_view path, std::string_view problem) const;
  std::string resource_;
  std::shared_ptr<rapidjson::Document> doc_;  // shared by the members of an expanded collection
  const rapidjson::Value* base_;              // this document within doc_ (nullptr: the root)
};

}  // namespace dcops::redfish
