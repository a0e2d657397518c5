#include "address_ranges.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <set>

namespace dcops::dispatcher {
namespace {

std::optional<std::uint32_t> Parse(const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string Format(std::uint32_t v) {
  in_addr a{};
  a.s_addr = htonl(v);
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

}  // namespace

Result<std::vector<std::string>> ExpandRanges(const std::vector<std::string>& ranges, std::size_t max_addresses) {
  std::vector<std::string> out;
  std::set<std::uint32_t> seen;
  auto bad = [](const std::string& item, const char* why) {
    return MakeError("plan.scope", fmt::format("target_scope.ranges: {} {}", item, why));
  };
  for (const auto& item : ranges) {
    std::uint64_t first = 0, last = 0;
    if (const auto slash = item.find('/'); slash != std::string::npos) {
      auto base = Parse(item.substr(0, slash));
      const std::string bits_text = item.substr(slash + 1);
      if (!base || bits_text.empty() || bits_text.size() > 2 ||
          bits_text.find_first_not_of("0123456789") != std::string::npos || std::stoi(bits_text) > 32) {
        return bad(item, "is not a CIDR block a.b.c.d/n");
      }
      const int bits = std::stoi(bits_text);
      const std::uint64_t size = std::uint64_t{1} << (32 - bits);
      first = *base & ~static_cast<std::uint32_t>(size - 1);
      last = first + size - 1;
      if (bits <= 30) {  // network and broadcast addresses are not hosts
        ++first;
        --last;
      }
    } else if (const auto dash = item.find('-'); dash != std::string::npos) {
      auto a = Parse(item.substr(0, dash));
      auto b = Parse(item.substr(dash + 1));
      if (!a || !b) return bad(item, "is not a range a.b.c.d-a.b.c.e");
      if (*b < *a) return bad(item, "ends before it starts");
      first = *a;
      last = *b;
    } else {
      auto a = Parse(item);
      if (!a) return bad(item, "is not an IPv4 address, range or CIDR block");
      first = last = *a;
    }
    for (std::uint64_t v = first; v <= last; ++v) {
      if (!seen.insert(static_cast<std::uint32_t>(v)).second) continue;
      if (out.size() >= max_addresses) {
        return MakeError("plan.scope", fmt::format("target_scope.ranges: more than {} addresses", max_addresses));
      }
      out.push_back(Format(static_cast<std::uint32_t>(v)));
    }
  }
  return out;
}

}  // namespace dcops::dispatcher
