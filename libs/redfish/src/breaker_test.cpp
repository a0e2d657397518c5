#include "dcops/redfish/breaker.hpp"

#include <catch2/catch.hpp>

namespace dcops::redfish {
namespace {

using std::chrono::milliseconds;

TEST_CASE("A breaker opens after repeated failures, fails fast, then lets one trial through", "[breaker]") {
  BreakerBoard board({3, milliseconds(1000)});
  const Clock::SteadyTime t0{};
  for (int i = 0; i < 2; ++i) {
    REQUIRE(board.Allow("bmc-a", t0).ok());
    board.Record("bmc-a", true, "cannot connect", t0);
  }
  REQUIRE(board.Allow("bmc-a", t0).ok());  // two failures: still closed
  board.Record("bmc-a", true, "cannot connect", t0);
  auto refused = board.Allow("bmc-a", t0 + milliseconds(10));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "redfish.circuit_open");
  CHECK(refused.error().retryable);
  CHECK(refused.error().message == "bmc-a: not contacted after 3 consecutive failures (last: cannot connect); next try in 0 s");
  CHECK(board.Allow("bmc-b", t0).ok());  // per BMC

  // Half-open: one trial, the rest still refused; its failure opens it again.
  REQUIRE(board.Allow("bmc-a", t0 + milliseconds(1000)).ok());
  CHECK_FALSE(board.Allow("bmc-a", t0 + milliseconds(1000)).ok());
  board.Record("bmc-a", true, "timed out", t0 + milliseconds(1000));
  CHECK_FALSE(board.Allow("bmc-a", t0 + milliseconds(1500)).ok());
  // The next trial succeeds: closed, and the count starts over.
  REQUIRE(board.Allow("bmc-a", t0 + milliseconds(2000)).ok());
  board.Record("bmc-a", false, "HTTP 200", t0 + milliseconds(2000));
  CHECK(board.Allow("bmc-a", t0 + milliseconds(2000)).ok());
  board.Record("bmc-a", true, "cannot connect", t0 + milliseconds(2000));
  CHECK(board.Allow("bmc-a", t0 + milliseconds(2000)).ok());
}

TEST_CASE("Only the BMC failing to answer counts: refusals and missing resources do not", "[breaker]") {
  CHECK(BreakerBoard::CountsAsFailure(MakeError("http.connect", "x")));
  CHECK(BreakerBoard::CountsAsFailure(MakeError("http.timeout", "x")));
  CHECK_FALSE(BreakerBoard::CountsAsFailure(MakeError("http.tls", "x")));
  CHECK(BreakerBoard::CountsAsFailure(503));
  CHECK_FALSE(BreakerBoard::CountsAsFailure(401));
  CHECK_FALSE(BreakerBoard::CountsAsFailure(404));
}

}  // namespace
}  // namespace dcops::redfish
