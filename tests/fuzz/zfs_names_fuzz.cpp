// The promise that lets ZFS names reach a command line: whatever CheckDataset, CheckSnapshot
// and CheckHoldTag accept holds no shell metacharacter, no option-like start and fits ZFS's
// length.
#include <string_view>

#include "dcops/zfs/names.hpp"
#include "fuzz_target.hpp"

namespace {

bool Plain(std::string_view name, std::string_view extra) {
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("_-.: ").find(c) != std::string_view::npos ||
                    extra.find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

}  // namespace

FUZZ_TARGET {
  using namespace dcops::zfs;
  using dcops::fuzz::Expect;
  const std::string name = dcops::fuzz::Text(data, size);
  if (CheckDataset(name).ok()) {
    Expect(Plain(name, "/"), "an accepted dataset has only letters, digits, '_-.: ' and '/'");
    Expect(!name.empty() && name.front() != '-' && name.size() <= kMaxNameLength, "an accepted dataset starts plainly");
  }
  if (CheckSnapshot(name).ok()) {
    Expect(Plain(name, "/@"), "an accepted snapshot has only letters, digits, '_-.: ', '/' and one '@'");
    Expect(name.find('@') == name.rfind('@') && DatasetOf(name).size() < name.size(), "a snapshot has exactly one '@'");
    Expect(!ShortNameOf(name).empty() && ShortNameOf(name).front() != '-', "a snapshot's short name starts plainly");
  }
  if (CheckBookmark(name).ok()) Expect(Plain(name, "/#"), "an accepted bookmark has only plain characters and '#'");
  if (CheckHoldTag(name).ok()) {
    Expect(!name.empty() && name.front() != '-' && name.find_first_of("/@#") == std::string::npos,
           "an accepted hold tag has no '/', '@', '#' or leading '-'");
  }
  return 0;
}
