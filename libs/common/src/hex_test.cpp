#include "dcops/common/hex.hpp"

#include <catch2/catch.hpp>

namespace dcops {
namespace {

TEST_CASE("Hex round-trips bytes and rejects what is not hex", "[hex]") {
  const std::string bytes("\x00\x01\xab\xff", 4);
  CHECK(HexEncode(bytes) == "0001abff");
  CHECK(HexDecode("0001ABff") == bytes);
  CHECK_FALSE(HexDecode("abc").has_value());
  CHECK_FALSE(HexDecode("zz").has_value());
  CHECK(HexEncode("") == "");
}

}  // namespace
}  // namespace dcops
