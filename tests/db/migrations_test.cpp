// The migration set: loads from scratch in one go, re-runs as a no-op, is forward-only.
#include <catch2/catch.hpp>

#include "control_plane.hpp"
#include "dcops/db/migrations.hpp"

namespace dcops::testing {
namespace {

TEST_CASE("Migrations load into an empty database, and again as a no-op", "[migrations]") {
  TestDb tdb(/*migrated=*/false);
  auto conn = tdb.Connect();
  auto set = db::LoadMigrations(DCOPS_MIGRATIONS_DIR);
  REQUIRE(set.ok());
  REQUIRE(set->size() >= 9);

  auto first = db::ApplyMigrations(conn, *set);
  REQUIRE(first.ok());
  CHECK(first->applied.size() == set->size());
  CHECK(first->skipped.empty());
  const std::string schema =
      "SELECT md5(string_agg(table_name || '.' || column_name || ':' || data_type, ',' "
      "ORDER BY table_name, column_name)) FROM information_schema.columns WHERE table_schema = 'public'";
  const std::string before = Scalar(conn, schema);

  auto second = db::ApplyMigrations(conn, *set);
  REQUIRE(second.ok());
  CHECK(second->applied.empty());
  CHECK(second->skipped.size() == set->size());
  CHECK(Scalar(conn, schema) == before);

  // The files themselves re-run cleanly too (as Supabase's tooling or psql would run them).
  for (const auto& m : *set) {
    INFO(m.version << "_" << m.name);
    REQUIRE(conn.ExecScript(m.sql).ok());
  }
  CHECK(Scalar(conn, schema) == before);
  CHECK(Scalar(conn, "SELECT count(*) FROM job_types WHERE enabled") == "24");  // every type but bench.noop
  // The benchmark's no-op type ships disabled: no UI or CLI can create it on a real site.
  CHECK(Scalar(conn, "SELECT enabled FROM job_types WHERE job_type = 'bench.noop'") == "f");
}

TEST_CASE("The migrated schema has the UI contract's tables, roles and publication", "[migrations]") {
  TestDb tdb;
  auto conn = tdb.Connect();
  for (const char* t : {"jobs", "job_tasks", "job_events", "agents", "servers", "vcenters",
                        "vcenter_clusters", "vcenter_hosts", "vcenter_vms", "vcenter_datastores",
                        "vcenter_networks", "ome_endpoints", "zfs_hosts", "credential_sets",
                        "schedules", "audit_log", "user_roles"}) {
    INFO(t);
    CHECK(Scalar(conn, "SELECT to_regclass('public.' || $1) IS NOT NULL", {std::string(t)}) == "t");
  }
  CHECK(Scalar(conn, "SELECT count(*) FROM pg_roles WHERE rolname IN "
                     "('anon', 'authenticated', 'service_role', 'dcops_dispatcher')") == "4");
  CHECK(Scalar(conn, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_publication_tables "
                     "WHERE pubname = 'supabase_realtime'") == "job_events,job_tasks,jobs");
  CHECK(Scalar(conn, "SELECT auth.uid() IS NULL") == "t");
  Exec(conn, "SELECT set_config('request.jwt.claims', "
             "'{\"sub\":\"0b7e3c1a-2f4d-4e5b-8c6d-7e8f9a0b1c2d\",\"role\":\"authenticated\"}', false)");
  CHECK(Scalar(conn, "SELECT auth.uid()") == "0b7e3c1a-2f4d-4e5b-8c6d-7e8f9a0b1c2d");
  CHECK(Scalar(conn, "SELECT auth.role()") == "authenticated");
}

TEST_CASE("A migration changed after it was applied is refused", "[migrations]") {
  TestDb tdb;
  auto conn = tdb.Connect();
  auto set = db::LoadMigrations(DCOPS_MIGRATIONS_DIR);
  REQUIRE(set.ok());
  (*set)[1].sql += "\n-- edited later\n";
  auto r = db::ApplyMigrations(conn, *set);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "migrations.changed");
  CHECK(r.error().message.find((*set)[1].version) != std::string::npos);
  CHECK(r.error().message.find("forward-only") != std::string::npos);
}

TEST_CASE("A failing migration is rolled back whole and named", "[migrations]") {
  TestDb tdb(/*migrated=*/false);
  auto conn = tdb.Connect();
  std::vector<db::Migration> set = {
      {"20990101000000", "good", "CREATE TABLE a (x int);"},
      {"20990101000001", "bad", "CREATE TABLE b (x int); SELECT no_such_function();"}};
  auto r = db::ApplyMigrations(conn, set);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("migration 20990101000001_bad:") != std::string::npos);
  CHECK(r.error().sqlstate == "42883");
  CHECK(Scalar(conn, "SELECT to_regclass('a') IS NOT NULL") == "t");
  CHECK(Scalar(conn, "SELECT to_regclass('b') IS NULL") == "t");
  CHECK(Scalar(conn, "SELECT string_agg(version, ',') FROM dcops_meta.schema_migrations") ==
        "20990101000000");
}

}  // namespace
}  // namespace dcops::testing
