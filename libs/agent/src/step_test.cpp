// The step SDK without a network: the recording context, the inventory batch limit, and
// typed params naming the key at fault.
#include <catch2/catch.hpp>

#include "dcops/agent/params.hpp"
#include "dcops/agent/recording_context.hpp"

namespace dcops::agent {
namespace {

TEST_CASE("An inventory batch over the message limit is refused with a clear error", "[agent]") {
  RecordingStepContext ctx(Assignment{}, SystemClock::Instance());
  REQUIRE(ctx.SendInventory("vcenter.vms", "[]").ok());
  auto big = ctx.SendInventory("vcenter.vms", std::string(kMaxInventoryBatchBytes + 1, ' '));
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().code == "agent.batch_too_large");
  CHECK(big.error().message.find("use a smaller page_size") != std::string::npos);
  CHECK(ctx.inventory().size() == 1);
  ctx.FailInventoryFrom(1);
  CHECK(ctx.SendInventory("vcenter.vms", "[]").error().code == "agent.lease_lost");
}

TEST_CASE("Params: absent is empty, a wrong type names the key", "[agent]") {
  auto p = Params::Parse(R"({"page_size": 0, "details": "yes", "name": "x"})");
  REQUIRE(p.ok());
  CHECK(p->Int("page_size", 1, 10).error().message == "params.page_size: must be an integer from 1 to 10");
  CHECK(p->Flag("details").error().message == "params.details: must be true or false");
  CHECK_FALSE(p->Flag("absent")->has_value());
  CHECK(**p->Text("name") == "x");
  CHECK(Params::Parse("[1]").error().message == "params: not a JSON object");
}

TEST_CASE("A step that throws fails alone, not the agent, and an unknown kind fails by name", "[agent]") {
  StepRegistry steps;
  steps.Add("server.refresh", [](StepContext&) -> StepOutcome { throw std::out_of_range("vector::at"); })
      .Add("server.power", [](StepContext&) { return StepOutcome::Succeeded("{}"); });
  Assignment a;
  a.step_kind = "server.refresh";
  RecordingStepContext crashing(a, SystemClock::Instance());
  auto crashed = steps.Run(crashing);
  REQUIRE(crashed.kind == StepOutcome::Kind::kFailed);
  CHECK(crashed.error.code == "agent.step_crashed");
  CHECK_FALSE(crashed.error.retryable);
  CHECK(crashed.error.message == "server.refresh stopped on an internal error: vector::at");
  a.step_kind = "server.power";
  RecordingStepContext fine(a, SystemClock::Instance());
  CHECK(steps.Run(fine).kind == StepOutcome::Kind::kSucceeded);
  a.step_kind = "server.teleport";
  RecordingStepContext unknown(a, SystemClock::Instance());
  CHECK(steps.Run(unknown).error.code == "agent.unknown_step");
}

}  // namespace
}  // namespace dcops::agent
