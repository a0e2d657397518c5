#include "dcops/zfs/retention.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <map>

namespace dcops::zfs {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

Error BadGrid(std::string_view term, std::string_view why) {
  return MakeError("zfs.bad_retention", fmt::format("retention term '{}': {}", term, why));
}

}  // namespace

Result<std::vector<GridTerm>> ParseGrid(std::string_view text) {
  std::vector<GridTerm> grid;
  if (Trim(text).empty()) return BadGrid(text, "a grid has at least one term such as 24x1h");
  std::size_t start = 0;
  for (;;) {
    const std::size_t bar = text.find('|', start);
    const std::string_view term = Trim(text.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start));
    const std::size_t x = term.find('x');
    if (x == std::string_view::npos || x == 0 || x + 2 > term.size()) return BadGrid(term, "expected COUNTxLENGTH, e.g. 24x1h");
    int count = 0, amount = 0;
    auto [p1, e1] = std::from_chars(term.data(), term.data() + x, count);
    const std::string_view len = term.substr(x + 1);
    auto [p2, e2] = std::from_chars(len.data(), len.data() + len.size() - 1, amount);
    if (e1 != std::errc() || p1 != term.data() + x || count < 1 || count > 10000) return BadGrid(term, "the count is 1..10000");
    if (e2 != std::errc() || p2 != len.data() + len.size() - 1 || amount < 1 || amount > 100000) {
      return BadGrid(term, "the length is a number 1..100000 and a unit");
    }
    static const std::map<char, std::int64_t> kUnit{{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
    const auto unit = kUnit.find(len.back());
    if (unit == kUnit.end()) return BadGrid(term, "the unit is one of s, m, h, d, w");
    grid.push_back(GridTerm{count, std::chrono::seconds(amount * unit->second)});
    if (grid.size() > 64) return BadGrid(term, "a grid has at most 64 terms");
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  return grid;
}

std::string SnapshotName(std::string_view prefix, std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return fmt::format("{}_{}", prefix, buf);
}

std::optional<std::int64_t> TimeOfName(std::string_view prefix, std::string_view name) {
  if (name.size() != prefix.size() + 1 + 16 || name.substr(0, prefix.size()) != prefix || name[prefix.size()] != '_') {
    return std::nullopt;
  }
  const std::string_view t = name.substr(prefix.size() + 1);
  if (t[8] != 'T' || t[15] != 'Z') return std::nullopt;
  auto num = [&](std::size_t at, std::size_t n) {
    int v = -1;
    auto [p, e] = std::from_chars(t.data() + at, t.data() + at + n, v);
    return e == std::errc() && p == t.data() + at + n ? v : -1;
  };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 ||
      tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(timegm(&tm));
}

PruneDecision PlanPrune(const std::vector<Point>& snapshots, const PruneInput& in) {
  PruneDecision d;
  struct Ours {
    const Point* p;
    std::int64_t t;
  };
  std::vector<Ours> ours;
  for (const auto& s : snapshots) {
    // Ours: exactly "<prefix>_<time>" (or ".N" after it, two in one second), not any name that
    // merely starts with the prefix (another pair's "dcops_b_…", an operator's "dcops_keep").
    std::string_view name = s.name;
    if (const auto dot = name.rfind('.'); dot != std::string_view::npos && dot + 1 < name.size() &&
                                          name.find_first_not_of("0123456789", dot + 1) == std::string_view::npos) {
      name = name.substr(0, dot);
    }
    const auto t = TimeOfName(in.prefix, name);
    if (!t) continue;
    ours.push_back({&s, *t});
  }
  d.ours = static_cast<int>(ours.size());
  // Oldest first, by time then by creation order.
  std::stable_sort(ours.begin(), ours.end(), [](const Ours& a, const Ours& b) {
    return a.t < b.t || (a.t == b.t && a.p->createtxg < b.p->createtxg);
  });
  // The grid's choice: per interval, the oldest snapshot in it. Intervals run back from now.
  std::set<const Point*> grid_keeps;
  std::int64_t end = in.now;
  std::size_t cursor = ours.size();  // walk from the newest down
  while (cursor > 0 && ours[cursor - 1].t > in.now) grid_keeps.insert(ours[--cursor].p);  // from the future: kept
  for (const auto& term : in.grid) {
    for (int i = 0; i < term.count; ++i) {
      const std::int64_t begin = end - term.length.count();
      const Point* oldest = nullptr;
      while (cursor > 0 && ours[cursor - 1].t > begin) oldest = ours[--cursor].p;
      if (oldest != nullptr) grid_keeps.insert(oldest);
      end = begin;
    }
  }
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const Point* p = ours[i].p;
    if (grid_keeps.count(p) != 0) continue;
    std::string why;
    if (static_cast<int>(ours.size() - i) <= in.keep_last) {
      why = "newest";
    } else if (in.protected_guids.count(p->guid) != 0) {
      why = "replication";
    } else if (p->userrefs > 0) {
      why = "held";
    }
    if (why.empty()) {
      d.destroy.push_back(p->name);
    } else {
      d.kept.push_back({p->name, why});
    }
  }
  return d;
}

}  // namespace dcops::zfs
