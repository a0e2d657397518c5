#include "esxcli_output.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace dcops::esxi {
namespace {

std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

bool IsDashes(const std::string& line) {
  return line.find('-') != std::string::npos && line.find_first_not_of("- ") == std::string::npos;
}

std::vector<std::string> DigitRuns(const std::string& s, std::size_t min_length) {
  std::vector<std::string> out;
  std::string run;
  for (char c : s + ' ') {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      run += c;
    } else {
      if (run.size() >= min_length) out.push_back(run);
      run.clear();
    }
  }
  return out;
}

}  // namespace

Result<std::vector<std::map<std::string, std::string>>> ParseEsxcliTable(const std::string& text) {
  const auto lines = Lines(text);
  std::size_t dashes = 0;
  while (dashes < lines.size() && !IsDashes(lines[dashes])) ++dashes;
  if (dashes == 0 || dashes >= lines.size()) return MakeError("esxcli.schema", "not a table: no header and row of dashes");
  // Each run of dashes is a column: [start, end).
  std::vector<std::pair<std::size_t, std::size_t>> columns;
  const std::string& d = lines[dashes];
  for (std::size_t i = 0; i < d.size();) {
    if (d[i] != '-') {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < d.size() && d[i] == '-') ++i;
    columns.emplace_back(start, i);
  }
  auto cell = [&](const std::string& line, std::size_t c) {
    const std::size_t start = columns[c].first;
    // The last column takes the rest of the line; the others end where the next begins.
    const std::size_t end = c + 1 < columns.size() ? columns[c + 1].first : std::string::npos;
    if (start >= line.size()) return std::string();
    return Trim(line.substr(start, end == std::string::npos ? std::string::npos : end - start));
  };
  std::vector<std::string> headers;
  for (std::size_t c = 0; c < columns.size(); ++c) headers.push_back(cell(lines[dashes - 1], c));
  std::vector<std::map<std::string, std::string>> rows;
  for (std::size_t l = dashes + 1; l < lines.size(); ++l) {
    if (Trim(lines[l]).empty()) continue;
    std::map<std::string, std::string> row;
    for (std::size_t c = 0; c < columns.size(); ++c) row[headers[c]] = cell(lines[l], c);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::map<std::string, std::string> ParseEsxcliRecord(const std::string& text) {
  std::map<std::string, std::string> out;
  for (const auto& line : Lines(text)) {
    const auto colon = line.find(": ");
    const auto bare = line.size() > 0 && line.back() == ':' ? line.size() - 1 : std::string::npos;
    const auto at = colon != std::string::npos ? colon : bare;
    if (at == std::string::npos) continue;
    const std::string key = Trim(line.substr(0, at));
    if (key.empty() || key.find("  ") != std::string::npos) continue;
    out[key] = at + 1 < line.size() ? Trim(line.substr(at + 1)) : "";
  }
  return out;
}

std::optional<std::string> BuildOf(const std::string& build_field) {
  const auto runs = DigitRuns(build_field, 5);
  if (runs.empty() || runs.back().size() > 12) return std::nullopt;
  return runs.back();
}

std::optional<std::string> BuildInProfileName(const std::string& profile) {
  const auto runs = DigitRuns(profile, 7);
  if (runs.size() != 1 || runs.front().size() > 12) return std::nullopt;
  return runs.front();
}

int CompareBuilds(const std::string& a, const std::string& b) {
  auto strip = [](const std::string& s) {
    const auto first = s.find_first_not_of('0');
    return first == std::string::npos ? std::string() : s.substr(first);
  };
  const std::string x = strip(a), y = strip(b);
  if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
  return x.compare(y) < 0 ? -1 : x.compare(y) > 0 ? 1 : 0;
}

std::optional<std::string> EsxBaseBuild(const std::string& vibs) {
  std::istringstream in(vibs);
  std::string vib;
  while (std::getline(in, vib, ',')) {
    vib = Trim(vib);
    const auto at = vib.find("_esx-base_");
    if (at == std::string::npos) continue;
    const std::string version = vib.substr(at + 10);  // "8.0.2-0.25.23305546"
    const auto dot = version.find_last_of('.');
    if (dot == std::string::npos) return std::nullopt;
    const std::string build = version.substr(dot + 1);
    if (build.empty() || !std::all_of(build.begin(), build.end(), [](unsigned char c) { return std::isdigit(c); })) return std::nullopt;
    return build;
  }
  return std::nullopt;
}

std::optional<long long> EsxcliBytes(const std::string& text) {
  const std::string t = Trim(text);
  if (t.empty() || t.size() > 18 || !std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); })) return std::nullopt;
  return std::stoll(t);
}

}  // namespace dcops::esxi
