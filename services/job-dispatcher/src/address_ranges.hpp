#pragma once
// IPv4 discovery ranges as the job's target scope gives them ("127.0.80.1",
// "127.0.80.1-127.0.80.40", "127.0.81.0/28") expanded into addresses, in order, without
// duplicates. A CIDR block of /30 or wider leaves out its network and broadcast addresses.
// The database already bounds a scan to 65,536 addresses; this checks the syntax again and
// names the item it cannot read.
//
// Thread-safety: a pure function.
#include <string>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops::dispatcher {

Result<std::vector<std::string>> ExpandRanges(const std::vector<std::string>& ranges, std::size_t max_addresses = 65536);

}  // namespace dcops::dispatcher
