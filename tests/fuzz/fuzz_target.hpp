#pragma once
// One fuzz target per file: `FUZZ_TARGET` defines LLVMFuzzerTestOneInput, which libFuzzer drives
// (the clang build, scripts/fuzz) and replay_main.cpp feeds with the corpus and the crashes
// found so far (every ordinary build, as a ctest). A target must never crash, leak or hit
// undefined behaviour on any input; where a parser promises something of what it accepts, the
// target checks it with Expect, which aborts (a finding) when the promise is broken.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>

#define FUZZ_TARGET extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)

namespace dcops::fuzz {

inline std::string Text(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

inline void Expect(bool holds, const char* promise) {
  if (holds) return;
  std::fprintf(stderr, "broken promise: %s\n", promise);
  std::abort();
}

}  // namespace dcops::fuzz
