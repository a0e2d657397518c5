#include "dcops/common/backoff.hpp"

#include <catch2/catch.hpp>

namespace dcops {
namespace {

using std::chrono::milliseconds;

TEST_CASE("Backoff ceilings grow exponentially up to the cap", "[backoff]") {
  BackoffPolicy p{milliseconds(100), milliseconds(1000), 2.0, 0.0, 0};
  CHECK(p.Ceiling(1) == milliseconds(100));
  CHECK(p.Ceiling(2) == milliseconds(200));
  CHECK(p.Ceiling(4) == milliseconds(800));
  CHECK(p.Ceiling(5) == milliseconds(1000));
  CHECK(p.Ceiling(50) == milliseconds(1000));
}

TEST_CASE("Equal jitter draws from the upper half of the ceiling", "[backoff]") {
  BackoffPolicy p{milliseconds(1000), milliseconds(60000), 2.0, 0.5, 0};
  std::mt19937_64 rng(42);
  bool saw_low = false, saw_high = false;
  for (int i = 0; i < 1000; ++i) {
    const auto d = p.Delay(3, rng);  // ceiling 4000 ms
    REQUIRE(d >= milliseconds(2000));
    REQUIRE(d <= milliseconds(4000));
    saw_low |= d < milliseconds(2500);
    saw_high |= d > milliseconds(3500);
  }
  CHECK(saw_low);   // the draw really spreads, it is not a constant
  CHECK(saw_high);
}

TEST_CASE("Attempt limits count the first attempt", "[backoff]") {
  BackoffPolicy p;
  p.max_attempts = 3;
  CHECK(p.AllowsAttempt(3));
  CHECK_FALSE(p.AllowsAttempt(4));
  p.max_attempts = 0;
  CHECK(p.AllowsAttempt(1000));
}

}  // namespace
}  // namespace dcops
