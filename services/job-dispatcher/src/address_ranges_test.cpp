#include "address_ranges.hpp"

#include <catch2/catch.hpp>

namespace dcops::dispatcher {
namespace {

TEST_CASE("Discovery ranges expand to addresses in order, without duplicates", "[plan][ranges]") {
  auto a = ExpandRanges({"127.0.80.3", "127.0.80.1-127.0.80.4", "127.0.81.0/30", "127.0.82.9/32"});
  REQUIRE(a.ok());
  CHECK(*a == std::vector<std::string>{"127.0.80.3", "127.0.80.1", "127.0.80.2", "127.0.80.4", "127.0.81.1",
                                       "127.0.81.2", "127.0.82.9"});
  auto crossing = ExpandRanges({"127.0.80.254-127.0.81.1"});
  REQUIRE(crossing.ok());
  CHECK(crossing->size() == 4);
}

TEST_CASE("Unreadable ranges and scans too large are named", "[plan][ranges]") {
  CHECK(ExpandRanges({"127.0.80.9-127.0.80.1"}).error().message == "target_scope.ranges: 127.0.80.9-127.0.80.1 ends before it starts");
  CHECK(ExpandRanges({"127.0.80.0/33"}).error().message == "target_scope.ranges: 127.0.80.0/33 is not a CIDR block a.b.c.d/n");
  CHECK(ExpandRanges({"bmc7"}).error().message == "target_scope.ranges: bmc7 is not an IPv4 address, range or CIDR block");
  CHECK(ExpandRanges({"bmc-7"}).error().message == "target_scope.ranges: bmc-7 is not a range a.b.c.d-a.b.c.e");
  CHECK(ExpandRanges({"127.0.0.0/16"}, 1000).error().message == "target_scope.ranges: more than 1000 addresses");
}

}  // namespace
}  // namespace dcops::dispatcher
