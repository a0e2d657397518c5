// The job path's helper functions keep their plans for the session
// (20261205000600_cached_plans.sql). A kept statement may be run from a generic plan, planned
// without its parameters' values; these tests run every kind of call under
// plan_cache_mode = force_generic_plan as well as the default, and expect the same rows.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "control_plane.hpp"

namespace dcops::testing {
namespace {

// The servers a scope resolves to, in the function's order: "address" per server, or
// "address@site" where the site is not the one asked about.
std::string Resolved(db::Connection& c, const std::string& site, const std::string& scope) {
  return Scalar(c,
                "SELECT coalesce(string_agg(r.bmc_address || CASE WHEN s.site = $1 THEN '' ELSE '@' || s.site END, "
                "' ' ORDER BY r.ord), '-') FROM dispatcher_v1_resolve_servers($1, $2::jsonb) WITH ORDINALITY "
                "AS r(server_id, bmc_address, service_tag, credential_set_id, tls_verify, tls_pin_sha256, ord) "
                "JOIN servers s ON s.id = r.server_id",
                {site, scope});
}

}  // namespace

TEST_CASE("The server directory resolves each kind of scope to the same servers on every call", "[cached_plans]") {
  TestDb tdb;
  auto su = tdb.Connect();
  Exec(su, "INSERT INTO sites(site) VALUES ('default'), ('lab') ON CONFLICT DO NOTHING");
  const std::string a = Scalar(su, "INSERT INTO servers(site, bmc_address) VALUES ('default', '127.0.9.2') RETURNING id");
  const std::string b = Scalar(su, "INSERT INTO servers(site, bmc_address) VALUES ('default', '127.0.9.1') RETURNING id");
  const std::string lab = Scalar(su, "INSERT INTO servers(site, bmc_address) VALUES ('lab', '127.0.9.3') RETURNING id");
  const std::string no_bmc = Scalar(su, "INSERT INTO servers(site, service_tag) VALUES ('default', 'NOBMC01') RETURNING id");
  const auto ids = [](std::initializer_list<std::string> list) {
    std::string out;
    for (const auto& id : list) out += (out.empty() ? "\"" : ",\"") + id + "\"";
    return "{\"server_ids\":[" + out + "]}";
  };
  struct Case {
    std::string scope;
    std::string want;
  };
  const std::vector<Case> cases = {
      // Server ids reach any site; a server with no BMC address is never a target.
      {ids({a, lab, no_bmc}), "127.0.9.2 127.0.9.3@lab"},
      // Addresses are the asked site's only, in the form the inventory keeps them.
      {R"({"bmc_addresses":["127.0.9.1","127.0.9.3","https://127.0.9.2:443"]})", "127.0.9.1 127.0.9.2"},
      {R"({"all_servers":true})", "127.0.9.1 127.0.9.2"},
      {R"({"all_servers":false})", "-"},
      {R"({"bmc_addresses":[]})", "-"},
      // Two kinds that match one server return it once.
      {"{\"server_ids\":[\"" + b + "\"],\"bmc_addresses\":[\"127.0.9.1\",\"127.0.9.2\"]}", "127.0.9.1 127.0.9.2"},
  };
  for (const char* mode : {"auto", "force_generic_plan", "force_custom_plan"}) {
    auto conn = tdb.Connect();
    Exec(conn, fmt::format("SET plan_cache_mode = {}", mode));
    // Past the five calls after which PostgreSQL may settle on a generic plan.
    for (int round = 0; round < 7; ++round) {
      for (const auto& c : cases) {
        INFO(mode << ", call " << round << ", scope " << c.scope);
        CHECK(Resolved(conn, "default", c.scope) == c.want);
      }
    }
  }
}

TEST_CASE("A plan's rows take the catalog's defaults on every call, however the statement is planned", "[cached_plans]") {
  TestDb tdb;
  auto su = tdb.Connect();
  const std::string plans =
      R"([{"job_id":"00000000-0000-4000-8000-000000000001","steps":[)"
      R"({"key":"a","kind":"server.refresh","target":"idrac:127.0.0.2"},)"
      R"({"key":"b","kind":"no.such.kind","target":"idrac:127.0.0.2","depends_on":["a"],"max_attempts":7}]},)"
      R"({"job_id":"00000000-0000-4000-8000-000000000002","steps":[]}])";
  const std::string want = Scalar(
      su,
      "SELECT format('a:server.refresh mutating=%s attempts=%s known=t; b:no.such.kind mutating=t attempts=7 known=f', "
      "t.mutating, t.max_attempts) FROM job_types t WHERE t.job_type = 'server.refresh'");
  for (const char* mode : {"auto", "force_generic_plan"}) {
    auto conn = tdb.Connect();
    Exec(conn, fmt::format("SET plan_cache_mode = {}", mode));
    for (int round = 0; round < 7; ++round) {
      INFO(mode << ", call " << round);
      CHECK(Scalar(conn,
                   "SELECT string_agg(format('%s:%s mutating=%s attempts=%s known=%s', r.step_key, r.kind, r.mutating, "
                   "r.max_attempts, r.kind_known), '; ' ORDER BY r.pi, r.si) "
                   "FROM dcops_internal.catalog_plan_rows($1::jsonb) r",
                   {plans}) == want);
    }
  }
}

}  // namespace dcops::testing
