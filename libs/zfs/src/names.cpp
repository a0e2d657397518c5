#include "dcops/zfs/names.hpp"

#include <fmt/format.h>

namespace dcops::zfs {
namespace {

Error Bad(std::string_view what, std::string_view name, std::string_view why) {
  return MakeError("zfs.bad_name", fmt::format("{} '{}': {}", what, name, why));
}

bool ValidChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
         c == ':' || c == ' ';
}

// One component of a dataset path, or a short name: non-empty, valid characters, not "." or
// "..", not starting with '-' (it could be read as an option).
Status CheckComponent(std::string_view part, std::string_view what, std::string_view whole) {
  if (part.empty()) return Bad(what, whole, "has an empty component");
  if (part == "." || part == "..") return Bad(what, whole, "'.' and '..' are not names");
  if (part.front() == '-') return Bad(what, whole, "a component may not start with '-'");
  for (char c : part) {
    if (!ValidChar(c)) {
      const bool printable = c >= 0x20 && c < 0x7f;
      return Bad(what, whole,
                 printable ? fmt::format("'{}' is not allowed (letters, digits and _ - . : space only)", c)
                           : fmt::format("byte 0x{:02x} is not allowed (letters, digits and _ - . : space only)",
                                         static_cast<unsigned char>(c)));
    }
  }
  return {};
}

Status CheckLength(std::string_view name, std::string_view what) {
  if (name.empty()) return Bad(what, name, "is empty");
  if (name.size() > kMaxNameLength) return Bad(what, name.substr(0, 40), fmt::format("is longer than {} characters", kMaxNameLength));
  return {};
}

// Why `name` is not a pool name, or "".
std::string PoolProblem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (!((name.front() >= 'a' && name.front() <= 'z') || (name.front() >= 'A' && name.front() <= 'Z'))) {
    return "starts with a letter";
  }
  for (char c : name) {
    if (!ValidChar(c) || c == ' ') return "holds letters, digits and _ - . : only";
  }
  // Names zpool reserves for vdev types, and device names.
  for (std::string_view reserved : {"mirror", "raidz", "draid", "spare", "log"}) {
    if (name.substr(0, reserved.size()) == reserved) return fmt::format("'{}' is reserved", reserved);
  }
  if (name.size() >= 2 && name[0] == 'c' && name[1] >= '0' && name[1] <= '9') return "'c' and a digit is reserved (device names)";
  return "";
}

Status CheckDatasetPath(std::string_view name, std::string_view what, std::string_view whole) {
  std::size_t start = 0;
  bool first = true;
  for (;;) {
    const std::size_t slash = name.find('/', start);
    const std::string_view part = name.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (first) {
      if (auto why = PoolProblem(part); !why.empty()) return Bad(what, whole, "its pool name: " + why);
      first = false;
    } else if (auto st = CheckComponent(part, what, whole); !st) {
      return st;
    }
    if (slash == std::string_view::npos) return {};
    start = slash + 1;
  }
}

}  // namespace

Status CheckPool(std::string_view name, std::string_view what) {
  if (auto st = CheckLength(name, what); !st) return st;
  if (auto why = PoolProblem(name); !why.empty()) return Bad(what, name, why);
  return {};
}

Status CheckDataset(std::string_view name, std::string_view what) {
  if (auto st = CheckLength(name, what); !st) return st;
  if (name.find_first_of("@#") != std::string_view::npos) return Bad(what, name, "a dataset name has no '@' or '#'");
  return CheckDatasetPath(name, what, name);
}

namespace {

Status CheckQualified(std::string_view name, std::string_view what, char sep) {
  if (auto st = CheckLength(name, what); !st) return st;
  const std::size_t at = name.find(sep);
  if (at == std::string_view::npos) return Bad(what, name, fmt::format("has no '{}'", sep));
  const std::string_view dataset = name.substr(0, at);
  const std::string_view short_name = name.substr(at + 1);
  if (dataset.find_first_of("@#") != std::string_view::npos || short_name.find_first_of("@#/") != std::string_view::npos) {
    return Bad(what, name, "holds more than one '@', '#' or a '/' after it");
  }
  if (auto st = CheckDatasetPath(dataset, what, name); !st) return st;
  return CheckComponent(short_name, what, name);
}

}  // namespace

Status CheckSnapshot(std::string_view name, std::string_view what) { return CheckQualified(name, what, '@'); }
Status CheckBookmark(std::string_view name, std::string_view what) { return CheckQualified(name, what, '#'); }

Status CheckShortName(std::string_view name, std::string_view what) {
  if (auto st = CheckLength(name, what); !st) return st;
  if (name.find_first_of("@#/") != std::string_view::npos) return Bad(what, name, "may not hold '@', '#' or '/'");
  return CheckComponent(name, what, name);
}

Status CheckHoldTag(std::string_view tag) {
  if (auto st = CheckLength(tag, "hold tag"); !st) return st;
  if (tag.front() == '-') return Bad("hold tag", tag, "may not start with '-'");
  for (char c : tag) {
    if (c < 0x21 || c > 0x7e || c == '/' || c == '@' || c == '#') return Bad("hold tag", tag, "printable characters without / @ # only");
  }
  return {};
}

std::string_view DatasetOf(std::string_view name) { return name.substr(0, name.find_first_of("@#")); }

std::string_view ShortNameOf(std::string_view name) {
  const std::size_t at = name.find_first_of("@#");
  return at == std::string_view::npos ? std::string_view{} : name.substr(at + 1);
}

}  // namespace dcops::zfs
