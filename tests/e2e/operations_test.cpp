// End to end, the operator's view: the dcops CLI through the dispatcher's API; affinity;
// a dispatcher killed and restarted, a standby taking over, the database going away mid-job.
#include <fmt/format.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <catch2/catch.hpp>

#include "site.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;

const std::string kEveryServerId = "SELECT jsonb_build_object('server_ids', jsonb_agg(id))::text FROM servers";

rapidjson::Document Parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

rapidjson::Document Fleet(Site& site) { return Parse(site.FleetJson()); }

bool AgentsOnline(Site& site, int n) {
  return WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == std::to_string(n); },
                   seconds(30));
}

// Every BMC received exactly one reset request, and it took effect once.
void EveryBmcResetOnce(Site& site) {
  auto fleet = Fleet(site);
  for (const auto& b : fleet.GetArray()) {
    INFO(b["address"].GetString());
    CHECK(b["counters"]["actions"].GetInt() == 1);
    CHECK(b["counters"]["effective_resets"].GetInt() == 1);
  }
}

TEST_CASE("The dcops CLI stores credentials, runs and watches a job, lists and refuses", "[e2e]") {
  Site site({3, "127.0.66.1", 400, 30, "1s"});
  site.StartWorker("worker-a");
  REQUIRE(AgentsOnline(site, 1));

  auto stored = site.Cli({"credentials", "set", "idrac-cli", "--kind", "idrac", "--user", "root", "--password-stdin"},
                         site.bmc_password() + "\n");
  INFO(stored.output);
  REQUIRE(stored.exit_code == 0);
  auto sets = site.Cli({"credentials", "list", "--json"});
  REQUIRE(sets.exit_code == 0);
  CHECK(sets.output.find("\"name\":\"idrac-cli\"") != std::string::npos);
  // The servers use the set the operator just stored.
  site.Sql("UPDATE servers SET credential_set_id = (SELECT id FROM credential_sets WHERE name = 'idrac-cli') "
           "RETURNING 1");

  auto run = site.Cli({"job", "create", "server.power", "--target", "127.0.66.1:18443,127.0.66.2:18443,127.0.66.3:18443",
                       "--param", "action=ForceRestart", "--watch"});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(run.output.find("succeeded: 3 step(s), 0 failed") != std::string::npos);
  CHECK(run.output.find("[idrac:127.0.66.2:18443] sending ResetType ForceRestart") != std::string::npos);
  EveryBmcResetOnce(site);

  auto jobs = site.Cli({"jobs", "--json"});
  REQUIRE(jobs.exit_code == 0);
  auto list = Parse(jobs.output);
  REQUIRE(list.IsArray());
  REQUIRE(list.Size() == 1);
  CHECK(std::string(list[0]["status"].GetString()) == "succeeded");
  auto agents = site.Cli({"agents"});
  CHECK(agents.output.find("worker-a") != std::string::npos);

  // Bad input: a clear error naming what is wrong, and nothing created.
  auto bad = site.Cli({"job", "create", "server.power", "--target", "all", "--param", "action=Explode"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.output.find("target_scope.all_servers: not a target for this job type") != std::string::npos);
  auto bad_param = site.Cli({"job", "create", "server.power", "--target", "127.0.66.1:18443", "--param", "action=Explode"});
  CHECK(bad_param.exit_code == 1);
  CHECK(bad_param.output.find("dcops: params.action:") == 0);
  auto unknown = site.Cli({"job", "create", "server.teleport", "--target", "all"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.output == "dcops: job_type: unknown job type \"server.teleport\"\n");
  CHECK(site.Sql("SELECT count(*) FROM jobs") == "1");

  auto intruder = site.Cli({"jobs"}, "", 0, "not-the-token");
  CHECK(intruder.exit_code == 1);
  CHECK(intruder.output == "dcops: missing or wrong API token (Authorization: Bearer …)\n");

  CHECK(site.AllLogs().find(site.bmc_password()) == std::string::npos);
  CHECK(site.AllLogs().find(site.api_token()) == std::string::npos);
}

TEST_CASE("Firmware, boot and virtual media jobs through the CLI: updated, verified, inventoried, rebooted", "[e2e]") {
  Site site({3, "127.0.71.1", 400, 30, "1s"});
  site.StartWorker("worker-a");
  REQUIRE(AgentsOnline(site, 1));
  const std::string targets = "127.0.71.1:18443,127.0.71.2:18443,127.0.71.3:18443";

  // A BIOS package is staged by the iDRAC and waits for a reboot, which the step sends; a
  // firmware refresh after it writes the new version into the inventory.
  const std::string package = site.AddImage("BIOS_8T4P1_WN64_9.9.9.EXE", kUpdatePackage);
  auto update = site.Cli({"job", "create", "server.firmware_update", "--target", targets, "--param", "method=simple_update",
                          "--param", "image_uri=" + package, "--watch"});
  INFO(update.output);
  REQUIRE(update.exit_code == 0);
  CHECK(update.output.find("succeeded: 6 step(s), 0 failed") != std::string::npos);
  auto updated = Fleet(site);
  for (const auto& b : updated.GetArray()) {
    CHECK(std::string(b["bios_version"].GetString()) == "9.9.9");
    CHECK(b["counters"]["effective_resets"].GetInt() == 1);
    CHECK(b["counters"]["images_fetched"].GetInt() == 1);  // each iDRAC fetched the package itself
  }
  CHECK(site.Sql("SELECT count(*) FROM server_firmware WHERE component_id = 'Installed-159' AND version = '9.9.9'") == "3");

  // A one-time PXE boot with the reboot that uses it: the boot step, then a graceful restart.
  auto boot = site.Cli({"job", "create", "server.boot", "--target", targets, "--param", "mode=once", "--param", "target=Pxe",
                        "--param", "reboot=true", "--watch"});
  INFO(boot.output);
  REQUIRE(boot.exit_code == 0);
  CHECK(boot.output.find("succeeded: 6 step(s), 0 failed") != std::string::npos);
  auto booted = Fleet(site);
  for (const auto& b : booted.GetArray()) {
    CHECK(std::string(b["boot"]["last_boot_source"].GetString()) == "Pxe");
    CHECK(std::string(b["boot"]["enabled"].GetString()) == "Disabled");  // spent by that boot
  }

  // A missing image fails each step with the BMC's message; nothing is rebooted after it.
  auto media = site.Cli({"job", "create", "server.virtual_media", "--target", "127.0.71.1:18443", "--param", "action=insert",
                         "--param", "image_url=http://127.0.0.1:9/missing.iso", "--param", "boot_once=true", "--watch"});
  INFO(media.output);
  CHECK(media.exit_code != 0);
  CHECK(media.output.find("VRM0021") != std::string::npos);
  CHECK(site.Sql("SELECT string_agg(t.step_kind || ' ' || t.status, ', ' ORDER BY t.step_kind) FROM job_tasks t "
                 "JOIN jobs j ON j.id = t.job_id WHERE j.job_type = 'server.virtual_media'") ==
        "server.power skipped, server.virtual_media failed");
}

TEST_CASE("Configuration backups and logs through the CLI: export, import elsewhere, collect logs twice", "[e2e]") {
  Site site({2, "127.0.73.1", 400, 30, "1s"});
  site.StartWorker("worker-a");
  REQUIRE(AgentsOnline(site, 1));

  // An export becomes a backup row; the job keeps its summary, not the profile.
  auto exported = site.Cli({"job", "create", "server.scp_export", "--target", "127.0.73.1:18443", "--param", "format=XML",
                            "--watch"});
  INFO(exported.output);
  REQUIRE(exported.exit_code == 0);
  const std::string backup = site.Sql("SELECT id FROM server_config_backups");
  REQUIRE(backup.size() == 36);
  CHECK(site.Sql("SELECT (content LIKE '<SystemConfiguration%' AND content LIKE '%</SystemConfiguration>%')::text "
                 "FROM server_config_backups") == "true");
  CHECK(site.Sql("SELECT (t.result ->> 'backup_id') = $1 AND NOT t.result ? 'content' FROM job_tasks t "
                 "WHERE t.step_kind = 'server.scp_export'", {backup}) == "t");

  // Imported on the other server: previewed, then applied (nothing differs: unchanged).
  auto imported = site.Cli({"job", "create", "server.scp_import", "--target", "127.0.73.2:18443", "--param",
                            "backup_id=" + backup, "--param", "shutdown_type=NoReboot", "--watch"});
  INFO(imported.output);
  REQUIRE(imported.exit_code == 0);
  CHECK(site.Sql("SELECT t.result ->> 'state' FROM job_tasks t WHERE t.step_kind = 'server.scp_import'") == "unchanged");

  // Logs: everything the first time, only what is new the second time.
  auto first = site.Cli({"job", "create", "server.logs", "--target", "127.0.73.1:18443", "--watch"});
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  const std::string sel_before = site.Sql("SELECT count(*) FROM server_log_entries WHERE log = 'sel'");
  CHECK(sel_before == "1");
  REQUIRE(site.Control("127.0.73.1", "sel", R"({"severity":"Critical","message":"PSU 2 failed","sensor_type":"Power Supply"})"));
  auto second = site.Cli({"job", "create", "server.logs", "--target", "127.0.73.1:18443", "--param", "logs=[\"sel\"]", "--watch"});
  INFO(second.output);
  REQUIRE(second.exit_code == 0);
  CHECK(site.Sql("SELECT count(*) FROM server_log_entries WHERE log = 'sel'") == "2");
  CHECK(site.Sql("SELECT t.result #>> '{logs,0,read}' FROM job_tasks t JOIN jobs j ON j.id = t.job_id "
                 "WHERE t.step_kind = 'server.logs' ORDER BY j.created_at DESC LIMIT 1") == "1");
  CHECK(site.Sql("SELECT message || ' ' || severity FROM server_log_entries WHERE log = 'sel' ORDER BY created DESC, "
                 "entry_id DESC LIMIT 1") == "PSU 2 failed Critical");
}

TEST_CASE("Discovery finds the BMCs in a range, skips a web server, logs in once per set, and refreshes them", "[e2e]") {
  SiteOptions o{4, "127.0.72.1", 400, 30, "1s"};
  o.register_servers = false;
  o.impostors = 1;  // 127.0.72.5
  Site site(o);
  site.StartWorker("worker-a");
  REQUIRE(AgentsOnline(site, 1));
  // A factory-default set is tried first and refused; the site's set opens every BMC.
  auto stored = site.Cli({"credentials", "set", "factory-default", "--kind", "idrac", "--user", "root", "--password-stdin"},
                         "calvin\n");
  REQUIRE(stored.exit_code == 0);
  site.Sql("UPDATE credential_sets SET try_order = 1 WHERE name = 'factory-default' RETURNING 1");

  auto scan = site.Cli({"job", "create", "discovery.scan", "--target", "127.0.72.1-127.0.72.8", "--param", "port=18443",
                        "--watch"});
  INFO(scan.output);
  REQUIRE(scan.exit_code == 0);
  CHECK(site.Sql("SELECT progress_message FROM job_tasks WHERE step_kind = 'discovery.scan'") ==
        "probed 8/8, found 4, authenticated 4");
  CHECK(site.Sql("SELECT (result ->> 'not_redfish') || ' ' || jsonb_array_length(result -> 'found') FROM job_tasks "
                 "WHERE step_kind = 'discovery.scan'") == "1 4");
  CHECK(scan.output.find("4 new server(s); refresh job") != std::string::npos);
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM jobs WHERE job_type = 'server.refresh' AND status = 'succeeded'") == "1"; },
                    seconds(60)));
  auto fleet = Fleet(site);
  for (const auto& b : fleet.GetArray()) {
    const std::string address = std::string(b["address"].GetString()) + ":18443";
    INFO(address);
    CHECK(site.Sql("SELECT service_tag || ' ' || tls_pin_sha256 || ' ' || (model IS NOT NULL) FROM servers WHERE bmc_address = $1",
                   {address}) == fmt::format("{} {} true", b["service_tag"].GetString(), b["certificate_sha256"].GetString()));
    CHECK(b["counters"]["unauthorized"].GetInt() == 1);  // the factory default, once
    CHECK(b["sessions"].GetInt() <= 1);
  }
  CHECK(site.Sql("SELECT count(*) FROM servers") == "4");
  CHECK(site.AllLogs().find(site.bmc_password()) == std::string::npos);
}

TEST_CASE("Affinity: a target goes back to the agent that served it, so its session is reused", "[e2e]") {
  Site site({8, "127.0.67.1", 400, 30, "1s"});
  site.StartWorker("worker-a", "", false, 4);
  site.StartWorker("worker-b", "", false, 4);
  REQUIRE(AgentsOnline(site, 2));
  // The first job: four BMCs, all taken by whichever agent claims first.
  const std::string first = site.CreateJob("server.refresh",
      R"({"bmc_addresses":["127.0.67.5:18443","127.0.67.6:18443","127.0.67.7:18443","127.0.67.8:18443"]})", "{}");
  REQUIRE(site.WaitForJob(first, seconds(60)) == "succeeded");
  // The second: all eight, in address order. Job order alone would hand 127.0.67.1-4 to the
  // first claimer; affinity sends .5-.8 back to the agent whose sessions are open there.
  const std::string second = site.CreateJob("server.refresh", R"({"all_servers":true})", "{}");
  REQUIRE(site.WaitForJob(second, seconds(60)) == "succeeded");
  auto fleet = Fleet(site);
  REQUIRE(fleet.Size() == 8);
  for (const auto& b : fleet.GetArray()) {
    INFO(b["address"].GetString());
    CHECK(b["counters"]["sessions_created"].GetInt() == 1);
  }
}

TEST_CASE("The dispatcher killed mid-job and restarted: the job finishes, nothing runs twice", "[e2e]") {
  Site site({6, "127.0.68.1", 3000, 30, "1s"});
  site.StartWorker("worker-a");
  REQUIRE(AgentsOnline(site, 1));
  const std::string job = site.CreateJob("server.power", site.Sql(kEveryServerId), R"({"action":"ForceRestart"})");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) >= 3 FROM job_tasks WHERE checkpoint ->> 'phase' = 'sent'") == "t"; },
                    seconds(30)));
  site.dispatcher(0)->Signal(SIGKILL);
  REQUIRE(WaitUntil([&] { return !site.dispatcher(0)->Running(); }, seconds(10)));
  site.StartDispatcher(0);
  REQUIRE(site.WaitForJob(job, seconds(90)) == "succeeded");
  EveryBmcResetOnce(site);
  // (Events the killed dispatcher held in memory are gone with it; results and checkpoints
  // are not, since agents keep them until a dispatcher acknowledges them.)
}

TEST_CASE("A standby dispatcher takes over when the leader dies", "[e2e]") {
  Site site({4, "127.0.69.1", 3000, 30, "1s"});
  site.StartDispatcher(1, /*expect_standby=*/true);
  // grpc.health.v1 tells load balancers and probes which one leads.
  CHECK(WaitUntil([&] { return site.GrpcHealth(0) == "SERVING"; }, seconds(10)));
  CHECK(site.GrpcHealth(1) == "NOT_SERVING");
  site.StartWorker("worker-a");
  REQUIRE(AgentsOnline(site, 1));
  const std::string job = site.CreateJob("server.power", site.Sql(kEveryServerId), R"({"action":"ForceRestart"})");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) >= 2 FROM job_tasks WHERE checkpoint ->> 'phase' = 'sent'") == "t"; },
                    seconds(30)));
  site.dispatcher(0)->Signal(SIGKILL);
  REQUIRE(WaitUntil([&] { return site.Readyz(1) == "ready\n"; }, seconds(30)));
  CHECK(WaitUntil([&] { return site.GrpcHealth(1) == "SERVING"; }, seconds(10)));
  REQUIRE(site.WaitForJob(job, seconds(90)) == "succeeded");
  EveryBmcResetOnce(site);
  CHECK(AgentsOnline(site, 1));
  CHECK(site.AllLogs().find("adopted") != std::string::npos);
}

TEST_CASE("The database going away mid-job: the dispatcher reconnects, no event or result is lost", "[e2e]") {
  Site site({6, "127.0.70.1", 2500, 30, "1s"});
  auto& worker = site.StartWorker("worker-a");
  REQUIRE(AgentsOnline(site, 1));
  const std::string job = site.CreateJob("server.power", site.Sql(kEveryServerId), R"({"action":"ForceRestart"})");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) >= 2 FROM job_tasks WHERE checkpoint ->> 'phase' = 'sent'") == "t"; },
                    seconds(30)));
  site.CutDatabase();
  const bool noticed = WaitUntil([&] { return site.Readyz(0) == "database unreachable\n"; }, seconds(30));
  // The outage lasts until steps that were past their checkpoint have finished on the agent:
  // their results reach the dispatcher while it has no database.
  auto finished = [&worker] {
    const std::string log = worker.Log();
    int n = 0;
    for (auto at = log.find("server.power finished: SUCCEEDED"); at != std::string::npos;
         at = log.find("server.power finished: SUCCEEDED", at + 1)) {
      ++n;
    }
    return n;
  };
  const bool results_during_outage = WaitUntil([&] { return finished() >= 2; }, seconds(30));
  CHECK(site.Readyz(0) == "database unreachable\n");
  site.RestoreDatabase();
  REQUIRE(noticed);
  REQUIRE(results_during_outage);
  const std::string status = site.WaitForJob(job, seconds(90));
  INFO(site.Sql("SELECT coalesce(string_agg(DISTINCT error_code || ': ' || error_message, ' | '), '') "
                "FROM job_tasks WHERE job_id = $1", {job}));
  REQUIRE(status == "succeeded");
  EveryBmcResetOnce(site);
  CHECK(site.Sql("SELECT count(*) FROM job_tasks WHERE job_id = $1 AND status = 'succeeded'", {job}) == "6");
  CHECK(site.Sql("SELECT count(*) FROM job_events WHERE job_id = $1 AND message LIKE 'sending ResetType%'", {job}) == "6");
  CHECK(site.Sql("SELECT count(*) FROM job_events WHERE job_id = $1 AND message LIKE 'job succeeded: 6 of 6 step(s) succeeded'", {job}) == "1");
}

}  // namespace
}  // namespace dcops::e2e
