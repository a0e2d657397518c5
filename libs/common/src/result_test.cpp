#include "dcops/common/result.hpp"

#include <catch2/catch.hpp>

#include <memory>

namespace dcops {
namespace {

Result<int> Half(int n) {
  if (n % 2 != 0) return MakeError("math.odd", "odd number", false);
  return n / 2;
}

TEST_CASE("Result carries either a value or an error", "[result]") {
  auto ok = Half(8);
  REQUIRE(ok.ok());
  CHECK(*ok == 4);
  auto bad = Half(3);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "math.odd");
  CHECK_FALSE(bad.error().retryable);
}

TEST_CASE("Result holds move-only values and Status holds no value", "[result]") {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  REQUIRE(r.ok());
  std::unique_ptr<int> taken = std::move(r).value();
  CHECK(*taken == 7);
  Status fine;
  CHECK(fine.ok());
  Status broken = MakeError("x.y", "broken", true);
  CHECK_FALSE(broken.ok());
  CHECK(broken.error().retryable);
}

}  // namespace
}  // namespace dcops
