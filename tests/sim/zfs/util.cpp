#include "util.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

namespace zsim {

void out(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

void err(const std::string& text) {
  std::fflush(stdout);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

void fail(int code, const std::string& text) {
  if (!text.empty()) err(text.back() == '\n' ? text : text + "\n");
  throw Exit{code};
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool parse_u64(const std::string& s, uint64_t& v) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t r = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (r > (UINT64_MAX - d) / 10) return false;
    r = r * 10 + d;
  }
  v = r;
  return true;
}

namespace {
std::string nice(uint64_t num, bool bytes) {
  static const char* units[] = {"", "K", "M", "G", "T", "P", "E"};
  uint64_t n = num;
  int index = 0;
  while (n >= 1024 && index < 6) {
    n /= 1024;
    index++;
  }
  std::string u = index == 0 ? (bytes ? "B" : "") : units[index];
  uint64_t div = 1;
  for (int i = 0; i < index; i++) div *= 1024;
  char buf[64];
  if (index == 0 || num % div == 0) {
    std::snprintf(buf, sizeof buf, "%llu%s", static_cast<unsigned long long>(n), u.c_str());
    return buf;
  }
  for (int prec = 2; prec >= 0; prec--) {
    double val = static_cast<double>(num) / static_cast<double>(div);
    int len = std::snprintf(buf, sizeof buf, "%.*f%s", prec, val, u.c_str());
    if (len <= 5) break;
  }
  return buf;
}

std::string ftime(std::time_t t, const char* f) {
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[128];
  std::strftime(buf, sizeof buf, f, &tm);
  return buf;
}
}  // namespace

std::string nicebytes(uint64_t n) { return nice(n, true); }
std::string nicenum(uint64_t n) { return nice(n, false); }
std::string time_short(std::time_t t) { return ftime(t, "%a %b %e %H:%M %Y"); }
std::string time_ctime(std::time_t t) { return ftime(t, "%a %b %e %H:%M:%S %Y"); }

std::string enc(const std::string& s) {
  if (s.empty()) return "%";
  std::string r;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == ':' || c == '/' || c == '@' || c == '#' ||
        c == '-') {
      r += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      r += buf;
    }
  }
  return r;
}

std::string dec(const std::string& s) {
  if (s == "%") return "";
  std::string r;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size()) {
      r += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      r += s[i];
    }
  }
  return r;
}

uint64_t random64() {
  static std::mt19937_64 gen{[] {
    std::random_device rd;
    uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(getpid());
    return seed;
  }()};
  uint64_t v = 0;
  while (v == 0) v = gen();
  return v;
}

std::string hex64(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string Table::render(bool scripted, bool with_header) const {
  std::string r;
  if (scripted) {
    for (const auto& row : rows) {
      for (size_t i = 0; i < row.size(); i++) {
        if (i) r += '\t';
        r += row[i];
      }
      r += '\n';
    }
    return r;
  }
  std::vector<size_t> w(header.size(), 0);
  for (size_t i = 0; i < header.size(); i++) {
    if (with_header) w[i] = header[i].size();
    for (const auto& row : rows) w[i] = std::max(w[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < cells.size(); i++) {
      bool last = i + 1 == cells.size();
      const std::string& c = cells[i];
      std::string pad(w[i] - std::min(w[i], c.size()), ' ');
      if (right[i]) {
        l += pad + c;
      } else {
        l += c;
        if (!last) l += pad;
      }
      if (!last) l += "  ";
    }
    return l + "\n";
  };
  if (with_header) r += line(header);
  for (const auto& row : rows) r += line(row);
  return r;
}

}  // namespace zsim
