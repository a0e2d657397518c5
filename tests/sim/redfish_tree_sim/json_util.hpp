#pragma once
// RapidJSON helpers the simulator shares: parse a request body, serialize, look up members,
// merge a PATCH into a resource, deep copies between documents.
//
// Thread-safety: pure functions over the values passed in.
#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>

#include "dcops/common/result.hpp"

namespace dcops::sim::tree {

using Alloc = rapidjson::Document::AllocatorType;

// The body parsed; an error (code "json.malformed" / "json.not_object") otherwise.
Result<rapidjson::Document> ParseObject(const std::string& body);
std::string ToJson(const rapidjson::Value& v);

// The member `name` of object `v`, or nullptr (also when `v` is not an object).
const rapidjson::Value* Find(const rapidjson::Value& v, std::string_view name);
rapidjson::Value* FindMut(rapidjson::Value& v, std::string_view name);
// The string member `name`, or nullopt.
std::optional<std::string> FindString(const rapidjson::Value& v, std::string_view name);
// `{"@odata.id": ...}` -> the id, or "".
std::string LinkOf(const rapidjson::Value* v);

// Sets (adds or replaces) member `name` of object `obj` to a copy of `value`.
void Set(rapidjson::Value& obj, std::string_view name, const rapidjson::Value& value, Alloc& a);
void SetString(rapidjson::Value& obj, std::string_view name, std::string_view value, Alloc& a);
void SetNull(rapidjson::Value& obj, std::string_view name, Alloc& a);
void SetBool(rapidjson::Value& obj, std::string_view name, bool value, Alloc& a);
void SetInt(rapidjson::Value& obj, std::string_view name, int64_t value, Alloc& a);

// JSON merge: objects merged recursively, every other value replaced.
void MergeInto(rapidjson::Value& dst, const rapidjson::Value& src, Alloc& a);

// Whether string array `list` holds string `v`.
bool ListHas(const rapidjson::Value& list, const rapidjson::Value& v);

}  // namespace dcops::sim::tree
