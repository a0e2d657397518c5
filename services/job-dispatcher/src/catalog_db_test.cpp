// One job-type catalog, on the real migrations: the dispatcher's start-up checks, the catalog
// deciding what mutates, disabled types refused by name, and "whatever create_job accepts, the
// planner can plan" for every enabled type.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <random>

#include "address_ranges.hpp"
#include "catalog.hpp"
#include "control_plane.hpp"
#include "test_db.hpp"

namespace dcops::dispatcher {
namespace {

using testing::Exec;
using testing::ExecError;
using testing::Scalar;

struct Site {
  testing::TestDb tdb;
  db::Connection su = tdb.Connect();
  db::Connection conn = tdb.Connect();
  ControlPlane cp{conn};
  Site() { testing::BecomeDispatcher(conn); }
};

TEST_CASE("This build fits its own migrations: contract, schema version and catalog", "[catalog]") {
  Site site;
  auto problems = StartupProblems(site.cp, MakePlanners());
  REQUIRE(problems.ok());
  CHECK(problems->empty());
  auto bench = StartupProblems(site.cp, MakePlanners(true));  // bench.noop is listed (disabled)
  REQUIRE(bench.ok());
  CHECK(bench->empty());
  CHECK(*site.cp.SchemaVersion() == std::string(BuiltSchemaVersion()));
}

TEST_CASE("A dispatcher refuses a database that enables a type it cannot plan, or is older than it", "[catalog]") {
  Site site;
  // bench.noop is planned only by a dispatcher started for benchmarks.
  Exec(site.su, "UPDATE job_types SET enabled = true WHERE job_type = 'bench.noop'");
  auto enabled = StartupProblems(site.cp, MakePlanners());
  REQUIRE(enabled.ok());
  REQUIRE(enabled->size() == 1);
  CHECK(enabled->front().find("bench.noop (") != std::string::npos);
  CHECK(enabled->front().find("is enabled in job_types") != std::string::npos);

  Exec(site.su, "UPDATE job_types SET enabled = false WHERE job_type = 'bench.noop'");
  Exec(site.su, "DELETE FROM dcops_meta.schema_migrations WHERE version = $1", {std::string(BuiltSchemaVersion())});
  auto old = StartupProblems(site.cp, MakePlanners());
  REQUIRE(old.ok());
  REQUIRE(old->size() == 1);
  CHECK(old->front().find("this dispatcher needs " + std::string(BuiltSchemaVersion())) != std::string::npos);
}

TEST_CASE("A disabled job type is refused by name", "[catalog]") {
  Site site;
  Exec(site.su, "UPDATE job_types SET enabled = false WHERE job_type IN ('zfs.health', 'zfs.prune')");
  const std::string host = Scalar(site.su,
      "WITH v AS (INSERT INTO vcenters(name, address) VALUES ('vc', '127.0.9.1') RETURNING id) "
      "INSERT INTO vcenter_hosts(vcenter_id, moref, name) SELECT id, 'host-1', 'esx1' FROM v RETURNING id");
  for (const char* type : {"zfs.health", "zfs.prune"}) {
    auto err = ExecError(site.su, "SELECT dispatcher_v1_create_job('default', $1, $2::jsonb, '{}')",
                         {type, fmt::format(R"({{"vcenter_host_ids": ["{}"]}})", host)});
    CHECK(err.sqlstate == "22023");
    CHECK(err.message.find(fmt::format("\"{}\" is disabled", type)) != std::string::npos);
  }
  CHECK(Scalar(site.su, "SELECT count(*) FROM jobs") == "0");
}

TEST_CASE("The catalog decides which steps mutate, by each step's kind", "[catalog]") {
  Site site;
  Exec(site.su, "INSERT INTO servers(bmc_address, tls_verify) VALUES ('127.0.9.5:8443', false)");
  const std::string job = Scalar(site.su,
      "SELECT dispatcher_v1_create_job('default', 'server.firmware_update', "
      "'{\"bmc_addresses\":[\"127.0.9.5:8443\"]}', '{\"method\":\"simple_update\",\"image_uri\":\"https://127.0.0.1/f.exe\"}')");
  DbServerDirectory dir(site.cp, site.conn);
  auto todo = site.cp.JobsToPlan("default", 10);
  REQUIRE(todo.ok());
  REQUIRE(todo->size() == 1);
  auto steps = (*MakePlanners().Find("server.firmware_update"))(todo->front(), dir);
  REQUIRE(steps.ok());
  REQUIRE(*site.cp.PlanJob(job, *steps) == 2);
  // The update mutates; the refresh planned after it does not (its own catalog row says so).
  CHECK(Scalar(site.su, "SELECT string_agg(step_kind || '=' || mutating, ' ' ORDER BY seq) FROM job_tasks "
                        "WHERE job_id = $1", {job}) == "server.firmware_update=true server.refresh=false");

  // Change the catalog and the next plan follows it: the SQL value takes effect.
  Exec(site.su, "UPDATE job_types SET mutating = false WHERE job_type = 'server.firmware_update'");
  const std::string second = Scalar(site.su,
      "SELECT dispatcher_v1_create_job('default', 'server.firmware_update', "
      "'{\"bmc_addresses\":[\"127.0.9.5:8443\"]}', '{\"method\":\"simple_update\",\"image_uri\":\"https://127.0.0.1/f.exe\"}')");
  auto again = site.cp.JobsToPlan("default", 10);
  REQUIRE(again.ok());
  REQUIRE(again->size() == 1);
  auto planned = site.cp.PlanJobs({{second, *(*MakePlanners().Find("server.firmware_update"))(again->front(), dir)}});
  REQUIRE(planned.ok());
  CHECK(Scalar(site.su, "SELECT bool_or(mutating)::text FROM job_tasks WHERE job_id = $1", {second}) == "false");
}

TEST_CASE("A plan with a step kind outside the catalog is refused whole", "[catalog]") {
  Site site;
  const std::string job = Scalar(site.su,
      "SELECT dispatcher_v1_create_job('default', 'server.refresh', '{\"bmc_addresses\":[\"127.0.9.6\"]}', '{}')");
  auto err = ExecError(site.conn, "SELECT dispatcher_v1_plan_job($1, '[{\"key\":\"a\",\"kind\":\"server.refresh\","
                                  "\"target\":\"idrac:127.0.9.6\"},{\"key\":\"b\",\"kind\":\"server.teleport\","
                                  "\"target\":\"idrac:127.0.9.6\"}]')", {job});
  CHECK(err.sqlstate == "22023");
  CHECK(err.message.find("steps[1].kind: \"server.teleport\" is not in the job type catalog") != std::string::npos);
  CHECK(Scalar(site.su, "SELECT count(*) FROM job_tasks WHERE job_id = $1", {job}) == "0");
}

// Range items the planner and create_job must read alike: hand-picked edges, then generated
// near-misses (leading zeros, octets over 255, missing parts, prefixes past 32, IPv6, spaces).
std::vector<std::string> RangeItems() {
  std::vector<std::string> items = {
      "10.0.0.1", "10.0.0.0/24", "10.0.0.5/24", "10.0.0.0/31", "10.0.0.1/32", "10.0.0.0/30", "10.0.0.1-10.0.0.9",
      "10.0.0.9-10.0.0.1", "10.0.0.0/08", "10.0.0.0/0", "10.0.0.0/16", "10.0.0.0/15", "fd00::/124", "fd00::1",
      "10.0.0", "010.0.0.1", "10.0.0.256", "10.0.0.0/33", "10.0.0.0/", "/24", "1.1.1.1-2.2.2.2-3", " 10.0.0.1",
      "10.0.0.1 ", "10.0.0.1-", "-10.0.0.1", "10.0.0.1/24/1", "0.0.0.0", "255.255.255.255", "1.2.3.4/032",
      "10.0.0.0/24-10.0.1.0", "1.2.3.4-1.2.3.4", "10.1", "a.b.c.d", ""};
  std::mt19937 rng(20261203);
  auto octet = [&] {
    switch (rng() % 6) {
      case 0: return std::string("0") + std::to_string(rng() % 10);  // leading zero
      case 1: return std::to_string(250 + rng() % 10);                 // around 255
      default: return std::to_string(rng() % 256);
    }
  };
  auto quad = [&] {
    std::string q = octet();
    const int parts = rng() % 8 == 0 ? 3 : 4;
    for (int i = 1; i < parts; ++i) q += "." + octet();
    return q;
  };
  for (int i = 0; i < 400; ++i) {
    switch (rng() % 3) {
      case 0: items.push_back(quad()); break;
      case 1: items.push_back(quad() + "/" + std::to_string(16 + rng() % 20)); break;
      default: {
        // Mostly short ranges in one /24, so both sides count them cheaply.
        const std::string base = "10.1.2.";
        items.push_back(base + std::to_string(rng() % 260) + "-" + base + std::to_string(rng() % 260));
      }
    }
  }
  return items;
}

TEST_CASE("create_job accepts exactly the discovery ranges the planner can expand", "[catalog]") {
  Site site;
  int accepted = 0;
  for (const auto& item : RangeItems()) {
    const bool sql_ok = Scalar(site.su, "SELECT dcops_validate_scope(jsonb_build_object('ranges', jsonb_build_array($1::text)), "
                                        "'{ranges}') IS NULL", {item}) == "t";
    const bool planner_ok = ExpandRanges({item}).ok();
    INFO("range item \"" << item << "\"");
    CHECK(sql_ok == planner_ok);
    accepted += sql_ok ? 1 : 0;
  }
  CHECK(accepted > 50);  // the generator produced both kinds
}

TEST_CASE("Whatever create_job accepts for an enabled type, the dispatcher can plan", "[catalog]") {
  Site site;
  const std::string server = Scalar(site.su, "INSERT INTO servers(bmc_address, tls_verify) VALUES ('127.0.9.7:8443', false) "
                                             "RETURNING id");
  const std::string ome = Scalar(site.su, "INSERT INTO ome_endpoints(name, address) VALUES ('ome', '127.0.9.8') RETURNING id");
  const std::string vc = Scalar(site.su, "INSERT INTO vcenters(name, address) VALUES ('vc', '127.0.9.9') RETURNING id");
  const std::string cluster =
      Scalar(site.su, "INSERT INTO vcenter_clusters(vcenter_id, moref, name) VALUES ($1, 'domain-c8', 'prod') RETURNING id", {vc});
  // Linked to the server: a rolling firmware update has a BMC to update.
  const std::string host = Scalar(
      site.su, "INSERT INTO vcenter_hosts(vcenter_id, cluster_id, moref, name, server_id) VALUES ($1, $2, 'host-10', 'esx-10', $3) "
               "RETURNING id",
      {vc, cluster, server});
  const std::string zfs = Scalar(site.su, "INSERT INTO zfs_hosts(name, address) VALUES ('zfs', '127.0.9.10') RETURNING id");
  const std::map<std::string, std::string> sample = {
      {"zfs_host_id", fmt::format(R"({{"zfs_host_id": "{}"}})", zfs)},
      {"server_ids", fmt::format(R"({{"server_ids": ["{}"]}})", server)},
      {"bmc_addresses", R"({"bmc_addresses": ["127.0.9.7:8443"]})"},
      {"all_servers", R"({"all_servers": true})"},
      {"ranges", R"({"ranges": ["127.0.9.0/30", "127.0.9.10-127.0.9.12"]})"},
      {"ome_endpoint_id", fmt::format(R"({{"ome_endpoint_id": "{}"}})", ome)},
      {"vcenter_id", fmt::format(R"({{"vcenter_id": "{}"}})", vc)},
      {"cluster_id", fmt::format(R"({{"cluster_id": "{}"}})", cluster)},
      {"vcenter_host_ids", fmt::format(R"({{"vcenter_host_ids": ["{}"]}})", host)}};
  auto rows = Exec(site.su, "SELECT job_type, unnest(scope_kinds) AS kind FROM job_types WHERE enabled ORDER BY 1, 2");
  REQUIRE(rows.size() > 10);
  const auto planners = MakePlanners();
  DbServerDirectory dir(site.cp, site.conn);
  for (int i = 0; i < rows.size(); ++i) {
    const std::string type = rows.Str(i, "job_type"), kind = rows.Str(i, "kind");
    INFO(type << " with a " << kind << " scope");
    auto it = sample.find(kind);
    REQUIRE(it != sample.end());  // a new scope kind needs a sample here
    REQUIRE(Scalar(site.su, "SELECT dcops_validate_scope($1::jsonb, (SELECT scope_kinds FROM job_types WHERE job_type = $2))",
                   {it->second, type}) == "");
    const Planner* planner = planners.Find(type);
    REQUIRE(planner != nullptr);
    // A rolling update must say what it updates (its schema's anyOf) before planning reads it.
    // So must a replication and a pruning (their schemas' required members).
    const std::string params =
        type == "cluster.rolling_update" ? R"({"firmware":{"method":"simple_update","image_uri":"http://127.0.0.1/f"}})"
        : type == "zfs.replicate"        ? R"({"source_dataset":"tank/a","target_host_id":")" + zfs + R"(","target_dataset":"backup/a"})"
        : type == "zfs.prune"            ? R"({"dataset":"tank/a","source_grid":"24x1h"})"
                                         : "{}";
    auto steps = (*planner)(JobToPlan{"00000000-0000-0000-0000-000000000001", "default", type, it->second, params}, dir);
    if (!steps) INFO("planner: " << steps.error().code << ": " << steps.error().message);
    REQUIRE(steps.ok());
    CHECK_FALSE(steps->empty());
  }
}

}  // namespace
}  // namespace dcops::dispatcher
