#include "collection_view.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "json_util.hpp"
#include "redfish_error.hpp"

namespace dcops::sim::tree {
namespace {

// A non-negative integer query value; nullopt when absent; -1 when malformed.
std::optional<long> QueryNumber(const Target& t, const std::string& name) {
  const auto it = t.query.find(name);
  if (it == t.query.end()) return std::nullopt;
  long v = -1;
  const auto* end = it->second.data() + it->second.size();
  const auto [p, ec] = std::from_chars(it->second.data(), end, v);
  if (ec != std::errc() || p != end || v < 0) return -1;
  return v;
}

// Whether `$expand` asks for members inline and the service offers that form.
bool WantsExpand(const SimState& s, const Target& t) {
  const auto it = t.query.find("$expand");
  if (it == t.query.end() || it->second.empty()) return false;
  const char kind = it->second[0];
  return (kind == '*' && s.expand_all) || (kind == '.' && s.expand_no_links);
}

}  // namespace

bool IsCollection(const rapidjson::Value& doc) {
  const rapidjson::Value* members = Find(doc, "Members");
  return members != nullptr && members->IsArray();
}

SimResponse CollectionGet(const SimState& s, const Target& t, const rapidjson::Value& doc) {
  const auto skip = QueryNumber(t, "$skip");
  const auto top = QueryNumber(t, "$top");
  for (const auto& [name, v] : {std::pair{"$skip", skip}, std::pair{"$top", top}}) {
    if (v && *v < 0) {
      return RedfishError(400, "QueryParameterValueFormatError",
                          fmt::format("The value for the parameter {} is of a different format "
                                      "than the parameter can accept.",
                                      name),
                          {t.query.at(name), name});
    }
  }
  rapidjson::Document out;
  out.CopyFrom(doc, out.GetAllocator());
  auto& a = out.GetAllocator();
  const auto& all = Find(doc, "Members")->GetArray();
  const long total = static_cast<long>(all.Size());
  const long first = std::min(skip.value_or(0), total);
  long count = total - first;
  if (top) count = std::min(count, *top);
  const long page = s.options.page_size;
  std::string next;
  if (page > 0 && count > page) {
    next = top ? fmt::format("{}?$skip={}&$top={}", t.path, first + page, *top - page)
               : fmt::format("{}?$skip={}", t.path, first + page);
    count = page;
  }
  const bool self_next =
      first == 0 && std::find(s.options.self_next_links.begin(), s.options.self_next_links.end(),
                              t.path) != s.options.self_next_links.end();
  if (self_next) next = t.path;  // the quirk: the "next" page is this one again
  const bool expand = WantsExpand(s, t);
  rapidjson::Value members(rapidjson::kArrayType);
  for (long i = first; i < first + count; ++i) {
    const rapidjson::Value& m = all[static_cast<rapidjson::SizeType>(i)];
    const auto it = s.tree.json.find(NormalizePath(LinkOf(&m)));
    if (expand && it != s.tree.json.end()) {
      members.PushBack(rapidjson::Value(*it->second, a), a);
    } else {
      members.PushBack(rapidjson::Value(m, a), a);
    }
  }
  Set(out, "Members", members, a);
  SetInt(out, "Members@odata.count", total, a);
  out.RemoveMember("Members@odata.nextLink");
  if (!next.empty()) SetString(out, "Members@odata.nextLink", next, a);
  SimResponse r;
  r.body = ToJson(out);
  return r;
}

}  // namespace dcops::sim::tree
