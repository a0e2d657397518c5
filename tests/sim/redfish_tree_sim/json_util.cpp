#include "json_util.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dcops::sim::tree {
namespace {

rapidjson::Value Key(std::string_view name, Alloc& a) {
  return rapidjson::Value(name.data(), static_cast<rapidjson::SizeType>(name.size()), a);
}

}  // namespace

Result<rapidjson::Document> ParseObject(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  if (d.HasParseError()) {
    return MakeError("json.malformed", rapidjson::GetParseError_En(d.GetParseError()));
  }
  if (!d.IsObject()) return MakeError("json.not_object", "the body is not a JSON object");
  return d;
}

std::string ToJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

const rapidjson::Value* Find(const rapidjson::Value& v, std::string_view name) {
  if (!v.IsObject()) return nullptr;
  const auto it = v.FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
  return it == v.MemberEnd() ? nullptr : &it->value;
}

rapidjson::Value* FindMut(rapidjson::Value& v, std::string_view name) {
  if (!v.IsObject()) return nullptr;
  const auto it = v.FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
  return it == v.MemberEnd() ? nullptr : &it->value;
}

std::optional<std::string> FindString(const rapidjson::Value& v, std::string_view name) {
  const rapidjson::Value* m = Find(v, name);
  if (m == nullptr || !m->IsString()) return std::nullopt;
  return std::string(m->GetString(), m->GetStringLength());
}

std::string LinkOf(const rapidjson::Value* v) {
  if (v == nullptr) return "";
  return FindString(*v, "@odata.id").value_or("");
}

void Set(rapidjson::Value& obj, std::string_view name, const rapidjson::Value& value, Alloc& a) {
  rapidjson::Value copy(value, a);
  if (rapidjson::Value* m = FindMut(obj, name)) {
    *m = std::move(copy);
  } else {
    obj.AddMember(Key(name, a), copy, a);
  }
}

void SetString(rapidjson::Value& obj, std::string_view name, std::string_view value, Alloc& a) {
  Set(obj, name, Key(value, a), a);
}

void SetNull(rapidjson::Value& obj, std::string_view name, Alloc& a) {
  Set(obj, name, rapidjson::Value(rapidjson::kNullType), a);
}

void SetBool(rapidjson::Value& obj, std::string_view name, bool value, Alloc& a) {
  Set(obj, name, rapidjson::Value(value), a);
}

void SetInt(rapidjson::Value& obj, std::string_view name, int64_t value, Alloc& a) {
  Set(obj, name, rapidjson::Value(value), a);
}

void MergeInto(rapidjson::Value& dst, const rapidjson::Value& src, Alloc& a) {
  for (auto it = src.MemberBegin(); it != src.MemberEnd(); ++it) {
    const std::string_view name(it->name.GetString(), it->name.GetStringLength());
    rapidjson::Value* existing = FindMut(dst, name);
    if (existing != nullptr && existing->IsObject() && it->value.IsObject()) {
      MergeInto(*existing, it->value, a);
    } else {
      Set(dst, name, it->value, a);
    }
  }
}

bool ListHas(const rapidjson::Value& list, const rapidjson::Value& v) {
  if (!list.IsArray()) return false;
  for (const auto& item : list.GetArray()) {
    if (item == v) return true;
  }
  return false;
}

}  // namespace dcops::sim::tree
