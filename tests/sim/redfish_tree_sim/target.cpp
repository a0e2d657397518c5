#include "target.hpp"

namespace dcops::sim::tree {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = HexValue(s[i + 1]);
      const int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string NormalizePath(std::string_view path) {
  if (const auto q = path.find_first_of("?#"); q != std::string_view::npos)
    path = path.substr(0, q);
  std::string out;
  out.reserve(path.size());
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;  // "//" -> "/"
    out.push_back(c);
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out.empty()) out.push_back('/');
  return out;
}

Target ParseTarget(std::string_view raw) {
  Target t;
  const auto q = raw.find('?');
  t.path = NormalizePath(PercentDecode(raw.substr(0, q)));
  if (q == std::string_view::npos) return t;
  t.has_query = true;
  std::string_view rest = raw.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (!pair.empty()) {
      t.query[PercentDecode(pair.substr(0, eq))] =
          eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return t;
}

}  // namespace dcops::sim::tree
