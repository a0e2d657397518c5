#include "pair.hpp"

#include <fmt/format.h>

#include <cstdint>

namespace dcops::zfs_worker {

std::string PairTag(std::string_view target_host, std::string_view target_dataset) {
  // FNV-1a: stable across builds and machines (std::hash is neither).
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(target_host);
  mix(std::string_view("\0", 1));
  mix(target_dataset);
  return fmt::format("dcops-repl-{:08x}", static_cast<std::uint32_t>(h ^ (h >> 32)));
}

}  // namespace dcops::zfs_worker
