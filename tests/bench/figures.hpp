#pragma once
// One benchmark figure, for scripts/bench's table of this run against the previous one: a
// tab-separated line (key, value, unit, which way is better) appended to the file that
// DCOPS_BENCH_FIGURES names, when it is set. The bench's printed report stays its own.
//
// Blocks on a small file write; call from one thread at a time.
#include <cstdlib>
#include <fstream>
#include <string>

namespace dcops::bench {

enum class Better { kHigher, kLower };

inline void Figure(const std::string& key, double value, const std::string& unit, Better better) {
  const char* path = std::getenv("DCOPS_BENCH_FIGURES");
  if (path == nullptr || *path == '\0') return;
  std::ofstream(path, std::ios::app) << key << '\t' << value << '\t' << unit << '\t'
                                     << (better == Better::kHigher ? "higher" : "lower") << '\n';
}

}  // namespace dcops::bench
