// The job path's helper functions keep their plans for the session
// (20261205000600_cached_plans.sql). A kept statement may be run from a generic plan, planned
// without its parameters' values; these tests make every kind of call past the five after
// which PostgreSQL may switch to one, under the session's plan_cache_mode settings, and expect
// the same rows. (resolve_servers sets its own mode, force_generic_plan, so for it the
// session's setting changes nothing; the loop shows that it does not.)
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "control_plane.hpp"

namespace dcops::testing {
namespace {

// The servers a scope resolves to, in the function's order: "address" per server ("NULL" for
// none), "@site" after it where the site is not the one asked about; "-" for no server.
std::string Resolved(db::Connection& c, const std::string& site, const std::optional<std::string>& scope) {
  return Scalar(c,
                "SELECT coalesce(string_agg(coalesce(r.bmc_address, 'NULL') "
                "|| CASE WHEN s.site = $1 THEN '' ELSE '@' || s.site END, ' ' ORDER BY r.ord), '-') "
                "FROM dispatcher_v1_resolve_servers($1, $2::jsonb) WITH ORDINALITY "
                "AS r(server_id, bmc_address, service_tag, credential_set_id, tls_verify, tls_pin_sha256, ord) "
                "LEFT JOIN servers s ON s.id = r.server_id",
                {site, scope ? db::Param(*scope) : db::Param()});
}

std::string IdsScope(std::initializer_list<std::string> ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "\"" : ",\"") + id + "\"";
  return "{\"server_ids\":[" + out + "]}";
}

}  // namespace

TEST_CASE("resolve_servers returns the same servers for each kind of scope on every call", "[cached_plans]") {
  TestDb tdb;
  auto su = tdb.Connect();
  Exec(su, "INSERT INTO sites(site) VALUES ('default'), ('lab') ON CONFLICT DO NOTHING");
  const std::string a = Scalar(su, "INSERT INTO servers(site, bmc_address) VALUES ('default', '127.0.9.2') RETURNING id");
  const std::string b = Scalar(su, "INSERT INTO servers(site, bmc_address) VALUES ('default', '127.0.9.1') RETURNING id");
  const std::string lab = Scalar(su, "INSERT INTO servers(site, bmc_address) VALUES ('lab', '127.0.9.3') RETURNING id");
  const std::string no_bmc = Scalar(su, "INSERT INTO servers(site, service_tag) VALUES ('default', 'NOBMC01') RETURNING id");
  struct Case {
    std::optional<std::string> scope;
    std::string want;
  };
  const std::vector<Case> cases = {
      // Server ids reach any site; a server with no BMC address is never a target.
      {IdsScope({a, lab, no_bmc}), "127.0.9.2 127.0.9.3@lab"},
      // Addresses are the asked site's only, in the form the inventory keeps them; one that is
      // no address finds nothing.
      {R"({"bmc_addresses":["127.0.9.1","127.0.9.3","https://127.0.9.2:443","not an address!"]})", "127.0.9.1 127.0.9.2"},
      {R"({"all_servers":true})", "127.0.9.1 127.0.9.2"},
      {"{\"all_servers\":true,\"server_ids\":[\"" + lab + "\",\"" + a + "\"]}", "127.0.9.1 127.0.9.2 127.0.9.3@lab"},
      {R"({"all_servers":false})", "-"},
      {R"({"bmc_addresses":[]})", "-"},
      {R"({"server_ids":[]})", "-"},
      {"{}", "-"},
      {std::nullopt, "-"},
      // Two kinds that match one server return it once.
      {"{\"server_ids\":[\"" + b + "\"],\"bmc_addresses\":[\"127.0.9.1\",\"127.0.9.2\"]}", "127.0.9.1 127.0.9.2"},
  };
  for (const char* mode : {"auto", "force_generic_plan", "force_custom_plan"}) {
    auto conn = tdb.Connect();
    Exec(conn, fmt::format("SET plan_cache_mode = {}", mode));
    for (int round = 0; round < 7; ++round) {
      for (const auto& c : cases) {
        INFO(mode << ", call " << round << ", scope " << c.scope.value_or("NULL"));
        CHECK(Resolved(conn, "default", c.scope) == c.want);
      }
    }
  }
}

TEST_CASE("resolve_servers refuses a malformed scope, with servers in the inventory or none", "[cached_plans]") {
  // Job scopes are validated at creation; this is a direct caller's scope. The old function
  // raised these errors only when it had a server row to test the scope on.
  TestDb tdb;
  auto su = tdb.Connect();
  const auto refused = [&](const std::string& scope) {
    return ExecError(su, "SELECT * FROM dispatcher_v1_resolve_servers('default', $1::jsonb)", {scope}).sqlstate;
  };
  for (const char* inventory : {"empty", "with servers"}) {
    INFO("inventory " << inventory);
    CHECK(refused(R"({"server_ids":["nope"]})") == "22P02");
    CHECK(refused(R"({"bmc_addresses":"127.0.9.1"})") == "22023");
    Exec(su, "INSERT INTO sites(site) VALUES ('default') ON CONFLICT DO NOTHING");
    Exec(su, "INSERT INTO servers(site, bmc_address) VALUES ('default', '127.0.9.1') ON CONFLICT DO NOTHING");
  }
}

TEST_CASE("resolve_servers finds servers by id or address through its indexes, never by a sequential scan",
          "[cached_plans]") {
  TestDb tdb;
  auto su = tdb.Connect();
  // Enough servers that reading them all costs more than the indexes, as in any real inventory.
  Exec(su, "INSERT INTO sites(site) VALUES ('default') ON CONFLICT DO NOTHING");
  Exec(su, "INSERT INTO servers(site, bmc_address) SELECT 'default', '127.9.' || (i / 250) || '.' || (i % 250) "
           "FROM generate_series(1, 2000) i");
  Exec(su, "ANALYZE servers");
  const std::string id = Scalar(su, "SELECT id FROM servers WHERE bmc_address = '127.9.3.7'");
  auto conn = tdb.Connect();
  Exec(conn, "BEGIN");
  for (int round = 0; round < 7; ++round) {
    CHECK(Scalar(conn, "SELECT count(*) FROM dispatcher_v1_resolve_servers('default', $1::jsonb)", {IdsScope({id})}) == "1");
    CHECK(Scalar(conn, "SELECT count(*) FROM dispatcher_v1_resolve_servers('default', $1::jsonb)",
                 {R"({"bmc_addresses":["127.9.1.5","127.9.2.6"]})"}) == "2");
  }
  // This session's counts not yet flushed, as the transaction runs: a new session's own.
  CHECK(Scalar(conn, "SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relid = 'public.servers'::regclass") == "0");
  CHECK(Scalar(conn, "SELECT count(*) FROM dispatcher_v1_resolve_servers('default', '{\"all_servers\":true}')") == "2000");
  Exec(conn, "COMMIT");
}

TEST_CASE("A plan's rows take the catalog's defaults on every call, however the statement is planned", "[cached_plans]") {
  TestDb tdb;
  auto su = tdb.Connect();
  const std::string plans =
      R"([{"job_id":"00000000-0000-4000-8000-000000000001","steps":[)"
      R"({"key":"a","kind":"server.refresh","target":"idrac:127.0.0.2"},)"
      R"({"key":"b","kind":"no.such.kind","target":"idrac:127.0.0.3","params":{"x":1},"depends_on":["a"],)"
      R"("max_attempts":7,"retry_base_ms":5}]},)"
      R"({"job_id":"00000000-0000-4000-8000-000000000002","steps":[]}])";
  // Every column, whole: a known kind takes mutating and the retry policy from its catalog row;
  // an unknown one is mutating, and has only what its step says.
  const std::string want = Scalar(
      su,
      "SELECT ROW(0, '00000000-0000-4000-8000-000000000001'::uuid, 0, 'a', 'server.refresh', 'idrac:127.0.0.2', "
      "           '{}'::jsonb, '[]'::jsonb, t.mutating, t.max_attempts, t.retry_base_ms, t.retry_max_ms, true)::text "
      "       || '; ' || "
      "       ROW(0, '00000000-0000-4000-8000-000000000001'::uuid, 1, 'b', 'no.such.kind', 'idrac:127.0.0.3', "
      "           '{\"x\":1}'::jsonb, '[\"a\"]'::jsonb, true, 7, 5, NULL::int, false)::text "
      "  FROM job_types t WHERE t.job_type = 'server.refresh'");
  REQUIRE_FALSE(want.empty());
  for (const char* mode : {"auto", "force_generic_plan"}) {
    auto conn = tdb.Connect();
    Exec(conn, fmt::format("SET plan_cache_mode = {}", mode));
    for (int round = 0; round < 7; ++round) {
      INFO(mode << ", call " << round);
      CHECK(Scalar(conn, "SELECT string_agg(r::text, '; ' ORDER BY r.pi, r.si) FROM dcops_internal.catalog_plan_rows($1::jsonb) r",
                   {plans}) == want);
    }
  }
}

}  // namespace dcops::testing
