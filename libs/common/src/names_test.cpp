#include "dcops/common/names.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace dcops {
namespace {

TEST_CASE("Names that reach logs and the audit log are plain characters only", "[names]") {
  CHECK(IsPrintableName("idrac-worker-7f3c.lab", 200));
  CHECK(IsPrintableName("alice@example.org", 100));
  CHECK(IsPrintableName("dispatcher:ops_1", 100));
  CHECK_FALSE(IsPrintableName("", 100));
  CHECK_FALSE(IsPrintableName(std::string(101, 'a'), 100));
  CHECK_FALSE(IsPrintableName("agent\nlevel=error msg=forged", 200));
  CHECK_FALSE(IsPrintableName(std::string("nul\0here", 8), 200));
  CHECK_FALSE(IsPrintableName("alice bob", 100));
  CHECK_FALSE(IsPrintableName("\"quoted\"", 100));
}

}  // namespace
}  // namespace dcops
