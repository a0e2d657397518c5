// End to end, inventory syncs: the real dispatcher and sync agents as processes, real gRPC,
// the private PostgreSQL; the device simulators (OME over HTTPS, vCenter over SOAP) run in
// this process on loopback so each test can change the estate between two syncs.
#include <fmt/format.h>
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <set>

#include "ome_server.hpp"
#include "site.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;

bool AgentsOnline(Site& site, int n) {
  return WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == std::to_string(n); },
                   seconds(30));
}

// An endpoint row of `table` with its credential set stored through the CLI (sealed with the
// site key), its certificate pinned. Returns the endpoint's id.
std::string AddEndpoint(Site& site, const std::string& table, const std::string& kind, const std::string& address,
                        const std::string& user, const std::string& password, const std::string& pin) {
  auto stored = site.Cli({"credentials", "set", kind + "-lab", "--kind", kind, "--user", user, "--password-stdin"},
                         password + "\n");
  INFO(stored.output);
  REQUIRE(stored.exit_code == 0);
  return site.Sql(fmt::format("INSERT INTO {}(name, address, credential_set_id, tls_pin_sha256) VALUES "
                              "($1, $2, (SELECT id FROM credential_sets WHERE name = $3), $4) RETURNING id",
                              table),
                  {kind + "-lab", address, kind + "-lab", pin});
}

std::set<std::string> OmeServerTags(const sim::ome::Model& model) {
  std::set<std::string> tags;
  for (const auto& d : model.AllDevices()) {
    if (d.type == 1000) tags.insert(d.service_tag);
  }
  return tags;
}

std::set<std::string> Rows(Site& site, const std::string& sql) {
  std::set<std::string> out;
  const std::string joined = site.Sql("SELECT coalesce(string_agg(x, '|'), '') FROM (" + sql + ") AS q(x)");
  std::size_t start = 0;
  while (start < joined.size()) {
    const auto bar = joined.find('|', start);
    out.insert(joined.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  return out;
}

TEST_CASE("OME syncs through the CLI: servers written, changes picked up, a broken answer keeps the last inventory",
          "[e2e][sync]") {
  SiteOptions o;
  o.bmcs = 1;
  o.first_bmc = "127.0.78.10";
  o.register_servers = false;
  Site site(o);
  sim::ome::Options estate;
  estate.servers = 25;
  estate.chassis = 2;
  sim::ome::Model model(estate);
  sim::ome::Server ome(model, "127.0.78.1", 18448);
  REQUIRE(ome.Start().empty());
  site.StartAgent(DCOPS_OME_SYNC, "ome-sync-a");
  REQUIRE(AgentsOnline(site, 1));
  const std::string endpoint =
      AddEndpoint(site, "ome_endpoints", "ome", "127.0.78.1:18448", "admin", estate.password, ome.fingerprint());

  auto first = site.Cli({"job", "create", "inventory.ome_sync", "--target", "ome:" + endpoint, "--param", "page_size=10",
                         "--watch"});
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK(Rows(site, "SELECT service_tag FROM servers WHERE source = 'ome'") == OmeServerTags(model));
  CHECK(site.Sql("SELECT count(*) FROM servers WHERE bmc_address NOT LIKE '127.%'") == "0");
  CHECK(model.SessionCount() == 0);  // logged out

  // OME changes: a server leaves, one arrives, one record breaks.
  const auto devices = model.AllDevices();
  const auto& gone = devices[3];
  const auto& broken = devices[4];
  model.RemoveDevice(gone.id);
  model.AddServer("NEWTAG1", "127.0.78.200");
  model.GarbleDevice(broken.id);
  auto second = site.Cli({"job", "create", "inventory.ome_sync", "--target", "ome:" + endpoint, "--watch"});
  INFO(second.output);
  REQUIRE(second.exit_code == 0);
  CHECK(site.Sql("SELECT count(*) FROM servers") == "26");
  CHECK(Rows(site, "SELECT service_tag FROM servers WHERE ome_missing_since IS NOT NULL") ==
        std::set<std::string>{gone.service_tag});
  CHECK(site.Sql("SELECT bmc_address FROM servers WHERE service_tag = 'NEWTAG1'") == "127.0.78.200");
  CHECK(site.Sql("SELECT last_sync_error FROM ome_endpoints") == "1 device(s) could not be read");
  CHECK(site.Sql("SELECT t.result -> 'failed' -> 0 ->> 'id' FROM job_tasks t JOIN jobs j ON j.id = t.job_id "
                 "ORDER BY j.created_at DESC LIMIT 1") == std::to_string(broken.id));

  // A broken answer fails the sync and leaves the inventory as it was.
  const std::string before = site.Sql("SELECT string_agg(service_tag || coalesce(ome_missing_since::text, ''), ',' "
                                      "ORDER BY service_tag) FROM servers");
  ome.SetFault(sim::ome::Fault::kTruncated);
  auto failed = site.Cli({"job", "create", "inventory.ome_sync", "--target", "ome:" + endpoint, "--watch"});
  INFO(failed.output);
  CHECK(failed.exit_code != 0);
  CHECK(site.Sql("SELECT string_agg(service_tag || coalesce(ome_missing_since::text, ''), ',' ORDER BY service_tag) "
                 "FROM servers") == before);
  CHECK(site.Sql("SELECT last_sync_error LIKE 'ome.schema:%' FROM ome_endpoints") == "t");
  CHECK(site.Sql("SELECT count(*) FROM inventory_staging") == "0");
  CHECK(model.SessionCount() == 0);
  CHECK(site.AllLogs().find(estate.password) == std::string::npos);
}

TEST_CASE("A schedule creates a sync job when due and the sync runs", "[e2e][sync]") {
  SiteOptions o;
  o.bmcs = 1;
  o.first_bmc = "127.0.78.20";
  o.register_servers = false;
  Site site(o);
  sim::ome::Options estate;
  estate.servers = 5;
  sim::ome::Model model(estate);
  sim::ome::Server ome(model, "127.0.78.2", 18448);
  REQUIRE(ome.Start().empty());
  site.StartAgent(DCOPS_OME_SYNC, "ome-sync-a");
  REQUIRE(AgentsOnline(site, 1));
  const std::string endpoint =
      AddEndpoint(site, "ome_endpoints", "ome", "127.0.78.2:18448", "admin", estate.password, ome.fingerprint());
  site.Sql("INSERT INTO schedules(name, job_type, target_scope, interval_seconds) VALUES "
           "('ome hourly', 'inventory.ome_sync', jsonb_build_object('ome_endpoint_id', $1::text), 3600) RETURNING 1",
           {endpoint});
  std::string job;
  REQUIRE(WaitUntil([&] {
    job = site.Sql("SELECT coalesce((SELECT id::text FROM jobs WHERE created_via = 'schedule'), '')");
    return !job.empty();
  }, seconds(30)));
  CHECK(site.WaitForJob(job, seconds(60)) == "succeeded");
  CHECK(site.Sql("SELECT count(*) FROM servers WHERE ome_endpoint_id IS NOT NULL") == "5");
  // The next run is an interval away, and the schedule made exactly one job.
  CHECK(site.Sql("SELECT next_run_at > now() + interval '50 minutes' FROM schedules") == "t");
  CHECK(site.Sql("SELECT count(*) FROM jobs WHERE created_via = 'schedule'") == "1");
}

}  // namespace
}  // namespace dcops::e2e
