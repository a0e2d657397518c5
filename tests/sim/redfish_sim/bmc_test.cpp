// The simulated BMC's behaviour without a network: power state machine, the 409 quirks,
// firmware without some reset types, sessions and their cap.
#include "bmc.hpp"

#include <catch2/catch.hpp>

namespace dcops::sim {
namespace {

Bmc Make(bool legacy = false) {
  Identity id;
  id.address = "127.0.1.1";
  id.service_tag = "ABC1234";
  id.legacy_reset_types = legacy;
  Timing t;
  t.power_on = milliseconds(1000);
  t.power_off = milliseconds(500);
  t.restart = milliseconds(2000);
  t.on_after_off_guard = milliseconds(60000);
  return Bmc(id, t, 8, "root", "calvin", 7);
}

TEST_CASE("Power changes take time and pass through intermediate states", "[sim]") {
  Bmc bmc = Make();
  const SimTime t0{};
  REQUIRE(bmc.PowerState(t0) == Power::kOn);
  CHECK(bmc.Reset("ForceRestart", t0).status == 204);
  CHECK(bmc.PowerState(t0 + milliseconds(500)) == Power::kPoweringOff);
  CHECK(bmc.PowerState(t0 + milliseconds(1500)) == Power::kPoweringOn);
  CHECK(bmc.PowerState(t0 + milliseconds(2000)) == Power::kOn);
  CHECK(bmc.Reset("ForceOff", t0 + milliseconds(3000)).status == 204);
  CHECK(bmc.PowerState(t0 + milliseconds(3100)) == Power::kPoweringOff);
  CHECK(bmc.PowerState(t0 + milliseconds(3500)) == Power::kOff);
  const auto c = bmc.counters();
  CHECK(c.effective_resets == 2);
  CHECK(c.resets_by_type.at("ForceRestart") == 1);
}

TEST_CASE("Power-on right after power-off is refused with 409, later accepted", "[sim]") {
  Bmc bmc = Make();
  const SimTime t0{};
  REQUIRE(bmc.Reset("ForceOff", t0).status == 204);
  const auto off_at = t0 + milliseconds(500);
  auto early = bmc.Reset("On", off_at + milliseconds(10000));
  CHECK(early.status == 409);
  CHECK(early.message_id == "IDRAC.2.8.PSU503");
  CHECK(bmc.Reset("On", off_at + milliseconds(60000)).status == 204);
  CHECK(bmc.PowerState(off_at + milliseconds(61000)) == Power::kOn);
  CHECK(bmc.counters().refused_actions == 1);
}

TEST_CASE("Actions that contradict the power state are refused with 409", "[sim]") {
  Bmc bmc = Make();
  const SimTime t0{};
  auto on = bmc.Reset("On", t0);
  CHECK(on.status == 409);
  CHECK(on.message == "Server is already powered ON.");
  bmc.ForcePower(Power::kOff, t0);
  CHECK(bmc.Reset("ForceOff", t0).status == 409);
  CHECK(bmc.Reset("GracefulRestart", t0).status == 409);
  CHECK(bmc.counters().effective_resets == 0);
}

TEST_CASE("Older firmware lacks GracefulRestart and PowerCycle", "[sim]") {
  Bmc bmc = Make(/*legacy=*/true);
  auto r = bmc.Reset("PowerCycle", SimTime{});
  CHECK(r.status == 400);
  CHECK(r.message_id == "Base.1.8.PropertyValueNotInList");
  CHECK(bmc.Reset("Explode", SimTime{}).status == 400);
}

TEST_CASE("A graceful shutdown the OS ignores leaves the server on", "[sim]") {
  Bmc bmc = Make();
  Faults f;
  f.ignores_graceful = true;
  bmc.SetFaults(f);
  CHECK(bmc.Reset("GracefulShutdown", SimTime{}).status == 204);
  CHECK(bmc.PowerState(SimTime{} + milliseconds(100000)) == Power::kOn);
  CHECK(bmc.counters().effective_resets == 0);
}

TEST_CASE("Sessions are capped, expired ones free their place", "[sim]") {
  Bmc bmc = Make();
  const SimTime t0{};
  std::vector<std::string> tokens;
  for (int i = 0; i < 8; ++i) tokens.push_back(*bmc.CreateSession("root", t0));
  CHECK_FALSE(bmc.CreateSession("root", t0).has_value());
  CHECK(bmc.counters().sessions_refused == 1);
  CHECK(bmc.counters().sessions_high == 8);
  CHECK(bmc.ValidSession(tokens[0], t0));
  CHECK(bmc.DeleteSession(bmc.SessionIdOf(tokens[0])));
  CHECK_FALSE(bmc.ValidSession(tokens[0], t0));
  CHECK(bmc.CreateSession("root", t0).has_value());
  // 30 minutes idle: sessions expire.
  CHECK(bmc.CreateSession("root", t0 + std::chrono::minutes(31)).has_value());
  CHECK(bmc.SessionCount(t0 + std::chrono::minutes(31)) == 1);
}

}  // namespace
}  // namespace dcops::sim
