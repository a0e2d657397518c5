#include "quiet_period.hpp"

#include <catch2/catch.hpp>

#include "dcops/agent/recording_context.hpp"
#include "dcops/common/clock.hpp"

namespace dcops::esxi {
namespace {

using std::chrono::seconds;

std::int64_t Epoch(Clock& c) { return std::chrono::duration_cast<seconds>(c.Now().time_since_epoch()).count(); }

agent::Assignment CheckStep(std::string checkpoint = "") {
  agent::Assignment a;
  a.task_id = "t1";
  a.step_kind = "cluster.safety_check";
  a.checkpoint_json = std::move(checkpoint);
  return a;
}

TEST_CASE("The quiet period is saved before it is waited, and ends when its saved end has passed", "[quiet]") {
  SystemClock clock;
  agent::RecordingStepContext ctx(CheckStep(), clock);
  const std::int64_t started = Epoch(clock);
  CHECK_FALSE(WaitQuietPeriod(ctx, seconds(1)).has_value());
  REQUIRE(ctx.checkpoints().size() == 1);
  const std::string saved = ctx.checkpoints()[0];
  const std::int64_t until = std::stoll(saved.substr(saved.find(':') + 1));
  CHECK(until == started + 1);
  CHECK(Epoch(clock) >= until);
}

TEST_CASE("A retry continues the quiet period it started: an end already passed waits no more", "[quiet]") {
  SystemClock clock;
  agent::RecordingStepContext ctx(CheckStep(R"({"quiet_until":)" + std::to_string(Epoch(clock) - 30) + "}"), clock);
  CHECK_FALSE(WaitQuietPeriod(ctx, seconds(600)).has_value());
  CHECK(ctx.checkpoints().empty());  // the wait it started stands; no new one
  REQUIRE_FALSE(ctx.events().empty());
  CHECK(ctx.events().front().find("ended while the step was away") != std::string::npos);
}

TEST_CASE("Cancelling during the quiet period ends the step cancelled with nothing changed", "[quiet]") {
  SystemClock clock;
  agent::RecordingStepContext ctx(CheckStep(), clock);
  ctx.RequestCancel();
  auto ended = WaitQuietPeriod(ctx, seconds(600));
  REQUIRE(ended.has_value());
  CHECK(ended->kind == agent::StepOutcome::Kind::kCancelled);
}

TEST_CASE("A quiet period whose checkpoint cannot be saved fails the step rather than wait unrecorded", "[quiet]") {
  SystemClock clock;
  agent::RecordingStepContext ctx(CheckStep(), clock);
  ctx.FailCheckpointsFrom(0);
  auto ended = WaitQuietPeriod(ctx, seconds(600));
  REQUIRE(ended.has_value());
  CHECK(ended->kind == agent::StepOutcome::Kind::kFailed);
  CHECK(WaitQuietPeriod(ctx, seconds(0)) == std::nullopt);  // none asked: nothing to wait or save
}

}  // namespace
}  // namespace dcops::esxi
