#pragma once
// Lower-case hex for bytes (fingerprints, keys, bytea), one implementation for every library.
// Thread-safety: pure functions.
#include <optional>
#include <string>
#include <string_view>

namespace dcops {

std::string HexEncode(std::string_view bytes);
// nullopt when `hex` has an odd length or a character that is not a hex digit.
std::optional<std::string> HexDecode(std::string_view hex);

}  // namespace dcops
