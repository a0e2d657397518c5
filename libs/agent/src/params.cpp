#include "dcops/agent/params.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace dcops::agent {

Error BadParam(const char* key, const std::string& problem) {
  return MakeError("step.bad_params", fmt::format("params.{}: {}", key, problem));
}

Result<Params> Params::Parse(const std::string& json) {
  auto doc = std::make_shared<rapidjson::Document>();
  doc->Parse(json.empty() ? "{}" : json.c_str());
  if (doc->HasParseError() || !doc->IsObject()) return MakeError("step.bad_params", "params: not a JSON object");
  Params p;
  p.doc_ = std::move(doc);
  return p;
}

const rapidjson::Value* Params::Raw(const char* key) const {
  auto it = doc_->FindMember(key);
  return it == doc_->MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

Result<std::optional<std::string>> Params::Text(const char* key, std::initializer_list<const char*> allowed) const {
  const auto* v = Raw(key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->IsString()) return BadParam(key, "must be a string");
  std::string s(v->GetString(), v->GetStringLength());
  if (allowed.size() > 0 &&
      std::none_of(allowed.begin(), allowed.end(), [&s](const char* a) { return s == a; })) {
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    return BadParam(key, fmt::format("'{}' is not one of {}", s, list));
  }
  return std::optional<std::string>(std::move(s));
}

Result<std::string> Params::RequiredText(const char* key, std::initializer_list<const char*> allowed) const {
  auto v = Text(key, allowed);
  if (!v) return v.error();
  if (!*v) return BadParam(key, "is required");
  return **v;
}

Result<std::optional<bool>> Params::Flag(const char* key) const {
  const auto* v = Raw(key);
  if (v == nullptr) return std::optional<bool>();
  if (!v->IsBool()) return BadParam(key, "must be true or false");
  return std::optional<bool>(v->GetBool());
}

Result<std::optional<std::int64_t>> Params::Int(const char* key, std::int64_t min, std::int64_t max) const {
  const auto* v = Raw(key);
  if (v == nullptr) return std::optional<std::int64_t>();
  if (!v->IsInt64() || v->GetInt64() < min || v->GetInt64() > max) {
    return BadParam(key, fmt::format("must be an integer from {} to {}", min, max));
  }
  return std::optional<std::int64_t>(v->GetInt64());
}

Result<std::optional<std::vector<std::string>>> Params::TextList(const char* key) const {
  const auto* v = Raw(key);
  if (v == nullptr) return std::optional<std::vector<std::string>>();
  if (!v->IsArray()) return BadParam(key, "must be an array of strings");
  std::vector<std::string> out;
  for (const auto& item : v->GetArray()) {
    if (!item.IsString()) return BadParam(key, "must be an array of strings");
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

}  // namespace dcops::agent
