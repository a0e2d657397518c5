#pragma once
// How deeply a JSON text nests, found without parsing it. RapidJSON's reader and writer
// recurse once per level, so a hostile body nested tens of thousands of levels deep
// overflows the stack; callers refuse such text before a parser sees it.
//
// Pure, thread-safe. Strings (with their escapes) are skipped; malformed text is measured
// as far as it goes and left for the parser to refuse.
#include <cstddef>
#include <string_view>

namespace dcops {

// The deepest nesting of objects and arrays in `json` (0 for a scalar), counting no further
// than `stop_after` levels: the answer is then `stop_after` + 1, whatever the real depth.
std::size_t JsonNesting(std::string_view json, std::size_t stop_after);

// Devices' answers (Redfish, OME OData) nest about ten levels; anything past this is hostile
// or broken and is refused before a parser sees it.
inline constexpr std::size_t kMaxDeviceJsonNesting = 64;

// True when `json` nests at most `max_depth` levels.
inline bool JsonNestingWithin(std::string_view json, std::size_t max_depth) {
  return JsonNesting(json, max_depth) <= max_depth;
}

}  // namespace dcops
