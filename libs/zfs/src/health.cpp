#include "dcops/zfs/health.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <sstream>

#include "dcops/zfs/names.hpp"

namespace dcops::zfs {
namespace {

std::vector<std::string_view> Split(std::string_view line, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = line.find(sep, start);
    out.push_back(line.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

std::vector<std::string_view> Lines(std::string_view out) {
  std::vector<std::string_view> lines;
  for (auto l : Split(out, '\n')) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    lines.push_back(l);
  }
  return lines;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<int> Percent(std::string_view text) {
  if (!text.empty() && text.back() == '%') text.remove_suffix(1);
  int v = 0;
  auto [p, e] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (e != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

Error Unexpected(std::string_view what, std::string_view line, std::string_view why) {
  return MakeError("zfs.unexpected_output", fmt::format("{} printed '{}': {}", what, line.substr(0, 200), why));
}

}  // namespace

std::optional<Size> ParseSize(std::string_view text) {
  text = Trim(text);
  if (text.empty() || text == "-") return std::nullopt;
  std::uint64_t whole = 0;
  auto [p, e] = std::from_chars(text.data(), text.data() + text.size(), whole);
  if (e == std::errc() && p == text.data() + text.size()) return Size{whole, true};
  // Rounded: "5.86M", "10.8E", "0B", "512".
  double v = 0;
  const std::string s(text);
  std::size_t used = 0;
  try {
    v = std::stod(s, &used);
  } catch (...) {
    return std::nullopt;
  }
  // Found by fuzzing: "nan", "inf" and sizes beyond 2^64 bytes made the conversion undefined.
  if (used == 0 || !std::isfinite(v) || v < 0) return std::nullopt;
  std::string_view unit = text.substr(used);
  if (!unit.empty() && unit.back() == 'B' && unit.size() <= 2) unit.remove_suffix(1);
  static constexpr std::string_view kUnits = "KMGTPE";
  double scale = 1;
  if (!unit.empty()) {
    const auto at = kUnits.find(unit.front());
    if (at == std::string_view::npos || unit.size() > 1) return std::nullopt;
    scale = std::pow(1024.0, static_cast<double>(at + 1));
  }
  if (v * scale >= 18446744073709551616.0) return std::nullopt;  // 2^64
  return Size{static_cast<std::uint64_t>(v * scale), false};
}

Result<std::vector<PoolRow>> ParsePoolList(std::string_view out) {
  std::vector<PoolRow> rows;
  for (auto line : Lines(out)) {
    if (Trim(line).empty()) continue;
    const auto f = Split(line, '\t');
    if (f.size() < 6) return Unexpected("zpool list", line, "fewer than 6 tab-separated fields");
    if (!CheckPool(f[0])) return Unexpected("zpool list", line, "the first field is not a pool name");
    PoolRow r;
    r.name = std::string(f[0]);
    r.size = ParseSize(f[1]);
    r.allocated = ParseSize(f[2]);
    r.free = ParseSize(f[3]);
    r.capacity_percent = Percent(f[4]);
    r.health = std::string(f[5]);
    if (f.size() > 6) r.fragmentation_percent = Percent(f[6]);
    rows.push_back(std::move(r));
  }
  return rows;
}

Result<std::vector<PoolStatus>> ParsePoolStatus(std::string_view out) {
  std::vector<PoolStatus> pools;
  bool in_config = false, in_status = false;
  for (auto raw : Lines(out)) {
    const std::string_view line = Trim(raw);
    auto field = [&](std::string_view key) -> std::optional<std::string_view> {
      if (line.substr(0, key.size()) == key) return Trim(line.substr(key.size()));
      return std::nullopt;
    };
    if (auto v = field("pool:")) {
      pools.push_back(PoolStatus{});
      pools.back().name = std::string(*v);
      in_config = in_status = false;
      continue;
    }
    if (pools.empty()) {
      if (line.empty() || line == "no pools available" || line == "all pools are healthy") continue;
      return Unexpected("zpool status", raw, "text before the first 'pool:'");
    }
    PoolStatus& p = pools.back();
    if (auto v = field("state:")) {
      p.state = std::string(*v);
      in_status = false;
    } else if (auto v = field("status:")) {
      p.status = std::string(*v);
      in_status = true;
    } else if (field("action:") || field("see:") || field("remove:") || field("checkpoint:")) {
      in_status = false;
    } else if (auto v = field("scan:") ? field("scan:") : field("scrub:")) {
      in_status = false;
      p.scan = std::string(*v);
      const std::string_view s = *v;
      if (s.find("none requested") != std::string_view::npos) {
        p.scrub_state = "none";
      } else if (s.find("in progress") != std::string_view::npos) {
        p.scrub_state = "running";
      } else if (s.find("canceled") != std::string_view::npos) {
        p.scrub_state = "canceled";
      } else if (s.find("scrub repaired") != std::string_view::npos || s.find("scrub completed") != std::string_view::npos) {
        p.scrub_state = "finished";
      } else {
        p.scrub_state = "other";
      }
      if (const auto with = s.find(" with "); with != std::string_view::npos) {
        std::uint64_t n = 0;
        const auto start = s.data() + with + 6;
        auto [q, e] = std::from_chars(start, s.data() + s.size(), n);
        const std::string_view rest(q, static_cast<std::size_t>(s.data() + s.size() - q));
        if (e == std::errc() && rest.substr(0, 7) == " errors") p.scrub_errors = n;
      }
      if (const auto on = s.rfind(" on "); on != std::string_view::npos && p.scrub_state == "finished") {
        p.scrub_finished = std::string(s.substr(on + 4));
      }
    } else if (line == "config:") {
      in_config = true;
      in_status = false;
    } else if (auto v = field("errors:")) {
      in_config = false;
      p.errors = std::string(*v);
      std::uint64_t n = 0;
      auto [q, e] = std::from_chars(v->data(), v->data() + v->size(), n);
      if (e == std::errc() && q != v->data()) p.data_errors = n;
    } else if (in_status && !line.empty()) {
      p.status += " " + std::string(line);
    } else if (in_config && !line.empty()) {
      std::istringstream words{std::string(line)};
      std::vector<std::string> w;
      for (std::string x; words >> x;) w.push_back(x);
      if (w.size() < 2 || w[0] == "NAME" || w[0] == "logs" || w[0] == "cache" || w[0] == "spares") continue;
      auto count = [](const std::string& s) -> std::uint64_t {
        const auto size = ParseSize(s);
        return size ? size->bytes : 0;
      };
      if (w.size() >= 5) {
        p.read_errors += count(w[2]);
        p.write_errors += count(w[3]);
        p.checksum_errors += count(w[4]);
      }
      if (w[1] != "ONLINE" && w[1] != "AVAIL" && w[1] != "INUSE") p.degraded_devices.push_back(w[0] + " " + w[1]);
    }
  }
  return pools;
}

Result<std::vector<DatasetRow>> ParseDatasetList(std::string_view out) {
  std::vector<DatasetRow> rows;
  for (auto line : Lines(out)) {
    if (Trim(line).empty()) continue;
    const auto f = Split(line, '\t');
    if (f.size() < 5) return Unexpected("zfs list", line, "fewer than 5 tab-separated fields");
    if (!CheckDataset(f[0])) return Unexpected("zfs list", line, "the first field is not a dataset name");
    rows.push_back(DatasetRow{std::string(f[0]), std::string(f[1]), ParseSize(f[2]), ParseSize(f[3]), ParseSize(f[4])});
  }
  return rows;
}

}  // namespace dcops::zfs
