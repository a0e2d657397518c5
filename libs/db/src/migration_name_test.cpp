#include <catch2/catch.hpp>

#include "dcops/db/migrations.hpp"

namespace dcops::db {
namespace {

TEST_CASE("Migration file names carry a 14-digit version and a name", "[migrations]") {
  auto m = MigrationFromFile("20261127000100_supabase_shim.sql", "SELECT 1;");
  REQUIRE(m.ok());
  CHECK(m->version == "20261127000100");
  CHECK(m->name == "supabase_shim");
  for (const char* bad : {"2026_shim.sql", "20261127000100-shim.sql", "2026112700010x_shim.sql",
                          "20261127000100_.sql", "20261127000100_shim.txt"}) {
    INFO(bad);
    auto r = MigrationFromFile(bad, "");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(bad) != std::string::npos);
  }
}

}  // namespace
}  // namespace dcops::db
