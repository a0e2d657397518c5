#include "dcops/zfs/listing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "dcops/zfs/names.hpp"

namespace dcops::zfs {

std::string Entry::Prop(std::string_view key) const {
  const auto it = props.find(key);
  if (it == props.end() || it->second == "-") return "";
  return it->second;
}

std::optional<std::uint64_t> Entry::Number(std::string_view key) const {
  const std::string v = Prop(key);
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

namespace {

Error Unexpected(std::string_view line, std::string_view why) {
  return MakeError("zfs.unexpected_output",
                   fmt::format("zfs get printed '{}': {}", line.substr(0, 200), why));
}

}  // namespace

Result<std::vector<Entry>> ParseGet(std::string_view out) {
  std::vector<Entry> entries;
  std::map<std::string, std::size_t, std::less<>> index;
  std::size_t pos = 0;
  while (pos < out.size()) {
    std::size_t end = out.find('\n', pos);
    if (end == std::string_view::npos) end = out.size();
    const std::string_view line = out.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    const std::size_t t1 = line.find('\t');
    const std::size_t t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string_view::npos) return Unexpected(line, "not name, property and value separated by tabs");
    const std::string_view name = line.substr(0, t1);
    const std::string_view prop = line.substr(t1 + 1, t2 - t1 - 1);
    std::string_view value = line.substr(t2 + 1);
    // A fourth column (source) when a host prints one anyway.
    if (const std::size_t t3 = value.find('\t'); t3 != std::string_view::npos) value = value.substr(0, t3);
    const bool is_name = CheckDataset(name) || CheckSnapshot(name) || CheckBookmark(name);
    if (!is_name) return Unexpected(line, "the first field is not a ZFS name");
    auto [it, fresh] = index.try_emplace(std::string(name), entries.size());
    if (fresh) entries.push_back(Entry{std::string(name), {}});
    entries[it->second].props[std::string(prop)] = std::string(value);
  }
  return entries;
}

Result<DatasetPoints> PointsOf(const std::vector<Entry>& entries, std::string_view dataset) {
  DatasetPoints out;
  for (const auto& e : entries) {
    if (e.name == dataset) {
      out.exists = true;
      out.resume_token = e.Prop("receive_resume_token");
      out.encryption = e.Prop("encryption");
      continue;
    }
    if (DatasetOf(e.name) != dataset || e.name.size() == dataset.size()) continue;
    const char sep = e.name[dataset.size()];
    if (sep != '@' && sep != '#') continue;
    Point p;
    p.name = std::string(ShortNameOf(e.name));
    const auto guid = e.Number("guid");
    const auto txg = e.Number("createtxg");
    if (!guid || !txg) {
      return MakeError("zfs.unexpected_output", fmt::format("{} has no numeric guid and createtxg in the listing", e.name));
    }
    p.guid = *guid;
    p.createtxg = *txg;
    p.creation = static_cast<std::int64_t>(e.Number("creation").value_or(0));
    p.userrefs = e.Number("userrefs").value_or(0);
    p.used = e.Number("used").value_or(0);
    (sep == '@' ? out.snapshots : out.bookmarks).push_back(std::move(p));
  }
  auto by_txg = [](const Point& a, const Point& b) { return a.createtxg < b.createtxg || (a.createtxg == b.createtxg && a.name < b.name); };
  std::sort(out.snapshots.begin(), out.snapshots.end(), by_txg);
  std::sort(out.bookmarks.begin(), out.bookmarks.end(), by_txg);
  return out;
}

}  // namespace dcops::zfs
