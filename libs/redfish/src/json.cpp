#include "dcops/redfish/json.hpp"

#include <fmt/format.h>

#include <cmath>

#include "dcops/common/json_depth.hpp"

namespace dcops::redfish {

Result<Document> Document::Parse(std::string resource, const std::string& body,
                                 std::string_view content_type) {
  if (!JsonNestingWithin(body, kMaxDeviceJsonNesting)) {
    return MakeError("redfish.schema", fmt::format("{}: the BMC answered with JSON nested deeper than {} levels", resource,
                                                   kMaxDeviceJsonNesting), false);
  }
  auto doc = std::make_shared<rapidjson::Document>();
  doc->Parse(body.c_str(), body.size());
  if (doc->HasParseError() || !doc->IsObject()) {
    const bool html = content_type.find("html") != std::string_view::npos ||
                      body.find("<html") != std::string::npos || body.find("<HTML") != std::string::npos;
    std::string why = html ? "an HTML page instead of JSON"
                           : doc->HasParseError()
                                 ? fmt::format("malformed JSON at byte {} (of {})",
                                               doc->GetErrorOffset(), body.size())
                                 : "JSON that is not an object";
    return MakeError("redfish.schema", fmt::format("{}: the BMC answered with {}", resource, why),
                     false);
  }
  return Document(std::move(resource), std::move(doc));
}

const rapidjson::Value* Document::Find(std::string_view path) const {
  const rapidjson::Value* v = base_ != nullptr ? base_ : doc_.get();
  std::size_t start = 0;
  while (v != nullptr && start <= path.size()) {
    const auto slash = path.find('/', start);
    const std::string key(path.substr(start, slash == std::string_view::npos ? path.npos : slash - start));
    if (!v->IsObject()) return nullptr;
    auto it = v->FindMember(key.c_str());
    if (it == v->MemberEnd()) return nullptr;
    v = &it->value;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return v;
}

Error Document::SchemaError(std::string_view path, std::string_view problem) const {
  return MakeError("redfish.schema", fmt::format("{}: {} {}", resource_, path, problem), false);
}

Result<std::string> Document::String(std::string_view path) const {
  const auto* v = Find(path);
  if (v == nullptr) return SchemaError(path, "is missing");
  if (!v->IsString()) return SchemaError(path, "is not a string");
  return std::string(v->GetString(), v->GetStringLength());
}

std::optional<std::string> Document::OptionalString(std::string_view path) const {
  const auto* v = Find(path);
  if (v == nullptr || !v->IsString()) return std::nullopt;
  return std::string(v->GetString(), v->GetStringLength());
}

Result<std::int64_t> Document::Int(std::string_view path) const {
  const auto* v = Find(path);
  if (v == nullptr) return SchemaError(path, "is missing");
  if (!v->IsInt64()) return SchemaError(path, "is not an integer");
  return v->GetInt64();
}

std::optional<double> Document::OptionalNumber(std::string_view path) const {
  const auto* v = Find(path);
  if (v == nullptr || !v->IsNumber()) return std::nullopt;
  return v->GetDouble();
}

Result<std::vector<std::string>> Document::Strings(std::string_view path) const {
  const auto* v = Find(path);
  if (v == nullptr) return SchemaError(path, "is missing");
  if (!v->IsArray()) return SchemaError(path, "is not an array");
  std::vector<std::string> out;
  for (const auto& item : v->GetArray()) {
    if (!item.IsString()) return SchemaError(path, "holds a value that is not a string");
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return out;
}

std::optional<bool> Document::OptionalBool(std::string_view path) const {
  const auto* v = Find(path);
  if (v == nullptr || !v->IsBool()) return std::nullopt;
  return v->GetBool();
}

Result<std::optional<std::string>> Document::MaybeString(std::string_view path) const {
  const auto* v = Find(path);
  if (v == nullptr || v->IsNull()) return std::optional<std::string>();
  if (!v->IsString()) return SchemaError(path, "is not a string");
  return std::optional<std::string>(std::string(v->GetString(), v->GetStringLength()));
}

Result<std::optional<std::int64_t>> Document::MaybeInt(std::string_view path) const {
  const auto* v = Find(path);
  if (v == nullptr || v->IsNull()) return std::optional<std::int64_t>();
  if (v->IsInt64()) return std::optional<std::int64_t>(v->GetInt64());
  // Some BMCs write whole numbers as 512.0. Only one within int64's range converts (found by
  // fuzzing: 5.5e19 made the cast undefined).
  if (v->IsDouble()) {
    const double d = v->GetDouble();
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == std::trunc(d)) {
      return std::optional<std::int64_t>(static_cast<std::int64_t>(d));
    }
  }
  return SchemaError(path, "is not an integer");
}

Result<std::optional<double>> Document::MaybeNumber(std::string_view path) const {
  const auto* v = Find(path);
  if (v == nullptr || v->IsNull()) return std::optional<double>();
  if (!v->IsNumber()) return SchemaError(path, "is not a number");
  return std::optional<double>(v->GetDouble());
}

Result<std::optional<bool>> Document::MaybeBool(std::string_view path) const {
  const auto* v = Find(path);
  if (v == nullptr || v->IsNull()) return std::optional<bool>();
  if (!v->IsBool()) return SchemaError(path, "is not a boolean");
  return std::optional<bool>(v->GetBool());
}

Result<std::vector<std::string>> Document::LinkIds(std::string_view path) const {
  const auto* v = Find(path);
  if (v == nullptr) return SchemaError(path, "is missing");
  if (!v->IsArray()) return SchemaError(path, "is not an array");
  std::vector<std::string> out;
  for (const auto& m : v->GetArray()) {
    if (!m.IsObject() || !m.HasMember("@odata.id") || !m["@odata.id"].IsString()) {
      return SchemaError(path, "has an entry without @odata.id");
    }
    out.emplace_back(m["@odata.id"].GetString(), m["@odata.id"].GetStringLength());
  }
  return out;
}

Result<std::vector<std::string>> Document::MemberIds() const { return LinkIds("Members"); }

Result<std::vector<Document>> Document::ExpandedMembers() const {
  const auto* v = Find("Members");
  if (v == nullptr) return SchemaError("Members", "is missing");
  if (!v->IsArray()) return SchemaError("Members", "is not an array");
  std::vector<Document> out;
  for (const auto& m : v->GetArray()) {
    if (!m.IsObject() || !m.HasMember("@odata.id") || !m["@odata.id"].IsString()) {
      return SchemaError("Members", "has an entry without @odata.id");
    }
    if (m.MemberCount() <= 1) return SchemaError("Members", "was not expanded");
    out.push_back(Document(m["@odata.id"].GetString(), doc_, &m));
  }
  return out;
}

}  // namespace dcops::redfish
