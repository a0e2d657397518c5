// The operator console end to end: the real job-dispatcher serving its page, an idrac-worker
// and the Redfish simulator doing the work, and Debian's chromium driven by puppeteer-core
// (tests/console/console_test.mjs) doing what an operator does. The browser reaches the
// dispatcher on loopback only; the script refuses any other request.
#include <catch2/catch.hpp>
#include <filesystem>

#include "site.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;

TEST_CASE("The operator console in a real browser: login, a job watched live, events, create and cancel, "
          "inventory search", "[e2e][console]") {
  Site site({3, "127.0.134.1", 400, 30, "1s"});
  site.StartWorker("worker-a");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; },
                    seconds(20)));
  // The servers' identities first (a refresh), then what the inventory would hold after a
  // vCenter sync: a host on the second server (same service tag: a link later refreshes keep)
  // with two VMs, and an identity conflict naming the third (rows as the sync and resolver
  // write them).
  REQUIRE(site.WaitForJob(site.CreateJob("server.refresh", R"({"all_servers":true})", "{}"), seconds(60)) == "succeeded");
  const std::string linked = site.Sql("SELECT id FROM servers WHERE bmc_address LIKE '127.0.134.2%'");
  const std::string disputed = site.Sql("SELECT id FROM servers WHERE bmc_address LIKE '127.0.134.3%'");
  const std::string other = site.Sql("SELECT id FROM servers WHERE bmc_address LIKE '127.0.134.1%'");
  REQUIRE(!linked.empty());
  REQUIRE(!disputed.empty());
  const std::string vc = site.Sql("INSERT INTO vcenters(site, name, address) VALUES ('default', 'vc-lab', '127.0.134.50') "
                                  "RETURNING id");
  const std::string host = site.Sql(
      "INSERT INTO vcenter_hosts(vcenter_id, moref, name, service_tag, server_id, link_evidence, connection_state) "
      "SELECT $1, 'host-21', 'esx-21.lab', s.service_tag, s.id, 'service tag', 'connected' FROM servers s WHERE s.id = $2 "
      "RETURNING id", {vc, linked});
  site.Sql("INSERT INTO vcenter_vms(vcenter_id, host_id, moref, name, power_state) "
           "VALUES ($1, $2, 'vm-1', 'billing-db', 'poweredOn'), ($1, $2, 'vm-2', 'billing-web', 'poweredOn') RETURNING 1",
           {vc, host});
  site.Sql("INSERT INTO server_identity_conflicts(site, kind, subject, message, server_ids) "
           "VALUES ('default', 'might_be_same', 'serial:CN7475', 'two servers report serial CN7475', $1::uuid[]) RETURNING 1",
           {"{" + disputed + "," + other + "}"});
  site.Sql("INSERT INTO schedules(site, name, job_type, target_scope, interval_seconds, next_run_at) "
           "VALUES ('default', 'nightly-refresh', 'server.refresh', '{\"all_servers\":true}', 86400, now() + interval '1 day') "
           "RETURNING 1");
  // An OME endpoint with no ome-sync connected: a sync of it waits, to be cancelled.
  const std::string ome = site.Sql(
      "INSERT INTO ome_endpoints(site, name, address) VALUES ('default', 'ome-lab', '127.0.134.60:18443') RETURNING id");

  // A real iDRAC takes a good part of a second per request: with that, the browser's refresh
  // runs for seconds, long enough for the page to show it unfinished before it succeeds.
  for (const char* bmc : {"127.0.134.1", "127.0.134.2", "127.0.134.3"}) {
    REQUIRE(site.SetFaults(bmc, R"({"latency_ms":400})"));
  }
  const std::string shots = DCOPS_CONSOLE_SCREENSHOTS;
  std::filesystem::remove_all(shots);
  std::filesystem::create_directories(shots);
  Process browser("console-test", {"/usr/bin/node", DCOPS_CONSOLE_TEST_SCRIPT},
                  {{"HOME", site.dir()},
                   {"DCOPS_CONSOLE_URL", "http://127.0.0.1:" + std::to_string(site.dispatcher_http_port())},
                   {"DCOPS_OPERATOR_TOKEN", site.api_token()},
                   {"DCOPS_VIEWER_TOKEN", site.viewer_token()},
                   {"DCOPS_SCREENSHOT_DIR", shots},
                   {"DCOPS_CHROMIUM", "/usr/bin/chromium"},
                   {"DCOPS_SEARCH_TEXT", "127.0.134.2"},
                   {"DCOPS_CONFLICT_SERVER_ID", disputed},
                   {"DCOPS_REFRESH_JOB_TYPE", "server.refresh"},
                   {"DCOPS_SLOW_JOB_TYPE", "inventory.ome_sync"},
                   {"DCOPS_SLOW_SCOPE_KIND", "ome_endpoint_id"},
                   {"DCOPS_SLOW_SCOPE_VALUE", ome}},
                  site.dir() + "/console-test.log");
  // The script bounds itself (4 minutes); this only keeps a hung browser from hanging ctest.
  REQUIRE(WaitUntil([&] { return !browser.Running(); }, seconds(300)));
  INFO(browser.Log());
  REQUIRE(browser.exit_code() == 0);

  // What the browser did, as the control plane saw it: two jobs, made by the operator's
  // console session under its login name; the refresh done, the sync cancelled.
  const std::string by_console =
      "SELECT string_agg(j.job_type || ' ' || j.status, ',' ORDER BY j.created_at) FROM jobs j "
      "JOIN audit_log a ON a.object_id = j.id::text AND a.action = 'job.create' "
      "WHERE a.actor_role = 'dispatcher:console:browser-test'";
  CHECK(site.Sql(by_console) == "server.refresh succeeded,inventory.ome_sync cancelled");
  // Nothing else: the viewer's session made nothing (the third job is the harness's refresh).
  CHECK(site.Sql("SELECT count(*) FROM jobs") == "3");
  for (const char* view : {"login", "jobs", "job", "new-job", "agents", "inventory", "schedules", "conflicts"}) {
    INFO(view);
    CHECK(std::filesystem::file_size(shots + "/console-" + view + ".png") > 1000);
  }
  const std::string logs = site.AllLogs() + browser.Log();
  CHECK(logs.find(site.api_token()) == std::string::npos);
  CHECK(logs.find(site.viewer_token()) == std::string::npos);
}

}  // namespace
}  // namespace dcops::e2e
