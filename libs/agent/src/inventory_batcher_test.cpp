#include "dcops/agent/inventory_batcher.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include "dcops/agent/recording_context.hpp"

namespace dcops::agent {
namespace {

TEST_CASE("Inventory batches are split by encoded size and every object arrives once, in order", "[batcher]") {
  RecordingStepContext ctx(Assignment{}, SystemClock::Instance());
  InventoryBatcher batcher(ctx, "ome.devices", 100);
  for (int i = 0; i < 20; ++i) REQUIRE(batcher.Add(fmt::format(R"({{"n":{},"pad":"{}"}})", i, std::string(i % 5 * 4, 'x'))).ok());
  REQUIRE(batcher.Flush().ok());
  REQUIRE(batcher.Flush().ok());  // nothing held: nothing sent
  CHECK(batcher.objects() == 20);
  CHECK(batcher.batches() == static_cast<int>(ctx.inventory().size()));
  CHECK(ctx.inventory().size() > 3);
  int next = 0;
  for (const auto& b : ctx.inventory()) {
    CHECK(b.kind == "ome.devices");
    CHECK(b.json.size() <= 100);
    rapidjson::Document d;
    d.Parse(b.json.c_str());
    REQUIRE_FALSE(d.HasParseError());
    for (const auto& o : d.GetArray()) CHECK(o["n"].GetInt() == next++);
  }
  CHECK(next == 20);
}

TEST_CASE("An object over the batch limit is refused alone and what is held stays held", "[batcher]") {
  RecordingStepContext ctx(Assignment{}, SystemClock::Instance());
  InventoryBatcher batcher(ctx, "ome.devices", 50);
  REQUIRE(batcher.Add(R"({"n":1})").ok());
  auto big = batcher.Add(std::string(60, ' '));
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().code == "agent.batch_too_large");
  REQUIRE(batcher.Flush().ok());
  REQUIRE(ctx.inventory().size() == 1);
  CHECK(ctx.inventory()[0].json == R"([{"n":1}])");
}

TEST_CASE("A batch the stream refuses fails the Add that sent it", "[batcher]") {
  RecordingStepContext ctx(Assignment{}, SystemClock::Instance());
  ctx.FailInventoryFrom(0);
  InventoryBatcher batcher(ctx, "ome.devices", 20);
  REQUIRE(batcher.Add(R"({"n":1})").ok());
  CHECK(batcher.Add(R"({"n":22222})").error().code == "agent.lease_lost");
  CHECK(batcher.batches() == 0);
}

}  // namespace
}  // namespace dcops::agent
