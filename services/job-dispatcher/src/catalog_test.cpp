// The start-up checks as pure functions: schema order and catalog/planner disagreements.
#include "catalog.hpp"

#include <catch2/catch.hpp>

namespace dcops::dispatcher {
namespace {

bool Mentions(const std::vector<std::string>& lines, const std::string& what) {
  for (const auto& l : lines) {
    if (l.find(what) != std::string::npos) return true;
  }
  return false;
}

TEST_CASE("The schema must be at least the migration the dispatcher was built with", "[catalog]") {
  CHECK(CheckSchemaVersion("20261203000900", "20261203000900").ok());
  CHECK(CheckSchemaVersion("20261204000100", "20261203000900").ok());  // newer keeps the contract
  auto old = CheckSchemaVersion("20261203000800", "20261203000900");
  REQUIRE_FALSE(old.ok());
  CHECK(old.error().code == "schema.too_old");
  CHECK(old.error().message.find("20261203000800") != std::string::npos);
  CHECK(old.error().message.find("job-dispatcher migrate") != std::string::npos);
  auto none = CheckSchemaVersion("", "20261203000900");
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message.find("no recorded migration") != std::string::npos);
  CHECK_FALSE(CheckSchemaVersion("garbage", "20261203000900").ok());
  CHECK(BuiltSchemaVersion().size() == 14);
}

TEST_CASE("Catalog and planners disagree when an enabled type has no planner or a planner no row", "[catalog]") {
  auto planners = MakePlanners();
  std::vector<CatalogEntry> catalog;
  for (const auto& name : planners.Names()) catalog.push_back({name, "idrac-worker", false, true});
  CHECK(CatalogMismatches(catalog, planners).empty());

  // A disabled type nobody plans is fine (an agent not built yet).
  catalog.push_back({"next.type", "next-worker", true, false});
  CHECK(CatalogMismatches(catalog, planners).empty());

  // Enabled, it would fail every job at planning.
  catalog.back().enabled = true;
  auto enabled = CatalogMismatches(catalog, planners);
  REQUIRE(enabled.size() == 1);
  CHECK(Mentions(enabled, "next.type (next-worker) is enabled in job_types, but this dispatcher has no planner"));

  // A planner whose type the database does not list: the database is older than the build.
  catalog.back().enabled = false;
  catalog.erase(catalog.begin());
  auto missing = CatalogMismatches(catalog, planners);
  REQUIRE(missing.size() == 1);
  CHECK(Mentions(missing, "this dispatcher plans " + planners.Names().front() + ", which job_types does not list"));
}

}  // namespace
}  // namespace dcops::dispatcher
