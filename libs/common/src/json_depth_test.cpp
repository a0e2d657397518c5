#include "dcops/common/json_depth.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace dcops {
namespace {

TEST_CASE("JSON nesting is measured without parsing, strings and escapes skipped", "[json]") {
  CHECK(JsonNesting("42", 64) == 0);
  CHECK(JsonNesting(R"({"a":[1,{"b":[]}]})", 64) == 4);
  CHECK(JsonNesting(R"({"s":"[[[[{{{{ \" ]]]] \\"})", 64) == 1);  // brackets inside a string do not count
  CHECK(JsonNesting(R"(["\"[", ["x"]])", 64) == 2);
}

TEST_CASE("A hostile depth is refused after counting only as far as the limit", "[json]") {
  const std::string deep = std::string(70000, '[') + std::string(70000, ']');
  CHECK(JsonNesting(deep, 64) == 65);
  CHECK_FALSE(JsonNestingWithin(deep, 64));
  const std::string fine = std::string(64, '[') + std::string(64, ']');
  CHECK(JsonNestingWithin(fine, 64));
  CHECK_FALSE(JsonNestingWithin("[" + fine + "]", 64));
}

}  // namespace
}  // namespace dcops
