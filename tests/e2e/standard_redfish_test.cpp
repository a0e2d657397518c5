// End to end, every operation of README's list against three readings of Redfish: the Dell
// personality of redfish-sim, and redfish-tree-sim serving a generic BMC (none of Dell's
// conventions: other ids, basic auth only, SimpleStorage, no Model, action targets elsewhere,
// a ForceRestart that never shows) and DMTF's public rack-server mockup. Each operation
// succeeds, or it refuses clearly; docs/REDFISH.md is this table.
#include <fmt/format.h>
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "site.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;

// One redfish-tree-sim process serving `tree` on `address`:18443, with the site's BMC password.
struct TreeBmc {
  std::unique_ptr<Process> process;
  std::string address;
  std::string pin;
  std::string server_id;
};

TreeBmc StartTree(Site& site, const std::string& tree, const std::string& address,
                  const std::vector<std::string>& extra) {
  const std::string dir = std::filesystem::temp_directory_path() / ("dcops-tree-" + address);
  std::filesystem::remove_all(dir);  // the log is appended to: no ready line of an earlier run
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/password") << site.bmc_password();
  std::vector<std::string> argv{DCOPS_REDFISH_TREE_SIM, "--tree", std::string(DCOPS_REDFISH_FIXTURES) + "/" + tree,
                                "--address", address, "--port", "18443", "--user", "root",
                                "--password-file", dir + "/password", "--restart-ms", "3000"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  TreeBmc bmc{std::make_unique<Process>("tree-" + address, argv, std::map<std::string, std::string>{}, dir + "/sim.log"),
              address, "", ""};
  REQUIRE(WaitUntil([&bmc] { return bmc.process->Log().find("\"ready\": true") != std::string::npos; }, seconds(20)));
  rapidjson::Document ready;
  const std::string log = bmc.process->Log();
  ready.Parse(log.substr(log.find('{'), log.find('\n', log.find('{')) - log.find('{')).c_str());
  REQUIRE(ready.IsObject());
  bmc.pin = ready["certificate_sha256"].GetString();
  bmc.server_id = site.Sql(
      "INSERT INTO servers(bmc_address, tls_pin_sha256, credential_set_id) "
      "VALUES ($1, $2, (SELECT credential_set_id FROM servers LIMIT 1)) RETURNING id",
      {address + ":18443", bmc.pin});
  return bmc;
}

struct Outcome {
  std::string status;  // the job's
  std::string code;    // the step's error code ("" on success)
  std::string message;
  std::string result;
  std::string view;  // the job as the API shows it (dispatcher_v1_get_job)
};

Outcome RunOne(Site& site, const std::string& server_id, const std::string& type, const std::string& params) {
  const std::string job = site.CreateJob(type, fmt::format(R"({{"server_ids":["{}"]}})", server_id), params);
  REQUIRE_FALSE(job.empty());
  Outcome o;
  o.status = site.WaitForJob(job, seconds(90));
  // The job's own step (a firmware update also plans a refresh after it).
  o.code = site.Sql("SELECT coalesce(error_code, '') FROM job_tasks WHERE job_id = $1 AND step_kind = $2", {job, type});
  o.message =
      site.Sql("SELECT coalesce(error_message, '') FROM job_tasks WHERE job_id = $1 AND step_kind = $2", {job, type});
  // Compact JSON, so the table can name {"key":"value"} pairs.
  o.result = site.Sql("SELECT coalesce(replace(replace(result::text, '\": ', '\":'), ', \"', ',\"'), '') "
                      "FROM job_tasks WHERE job_id = $1 AND step_kind = $2", {job, type});
  o.view = site.Sql("SELECT dispatcher_v1_get_job($1)::text", {job});
  return o;
}

// What an operation must do on one personality: succeed (with `result` in its result), or fail
// with `code` and `message` in the error.
struct Expect {
  bool ok = true;
  std::string code = "";
  std::string text = "";  // in the result (success) or the message (failure)
};

struct Case {
  std::string type;
  std::string params;
  Expect dell;
  Expect generic;
  Expect dmtf;
};

Expect Ok(std::string text = "") { return {true, "", std::move(text)}; }
Expect Refused(std::string code, std::string text) { return {false, std::move(code), std::move(text)}; }

TEST_CASE("Every operation runs against Dell, a generic BMC and DMTF's mockup: it succeeds or refuses clearly",
          "[e2e][redfish]") {
  SiteOptions options;
  options.bmcs = 1;
  options.first_bmc = "127.0.122.1";
  Site site(options);
  const std::string dell = site.Sql("SELECT id FROM servers WHERE bmc_address = '127.0.122.1:18443'");
  TreeBmc generic = StartTree(site, "generic-bmc", "127.0.122.2", {"--invisible-restart", "--page-size", "25"});
  TreeBmc dmtf = StartTree(site, "dmtf-public-rackmount1", "127.0.122.3", {});
  site.StartWorker("worker-std");
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; }, seconds(30)));

  const Expect not_idrac_generic = Refused("redfish.not_idrac", "not an iDRAC: Acme (no model)");
  const Expect not_idrac_dmtf = Refused("redfish.not_idrac", "not an iDRAC: Contoso 3500");
  const std::vector<Case> cases = {
      {"server.credential_test", "{}", Ok(), Ok(), Ok()},
      {"server.refresh", "{}", Ok("\"manufacturer\":\"Dell Inc.\""), Ok("\"manufacturer\":\"Acme\""),
       Ok("\"manufacturer\":\"Contoso\"")},
      {"server.power", R"({"action":"ForceOff"})", Ok("\"outcome\":\"verified\""), Ok("\"outcome\":\"verified\""),
       Ok("\"outcome\":\"verified\"")},
      {"server.power", R"({"action":"On"})", Ok("\"final_state\":\"On\""), Ok("\"final_state\":\"On\""),
       Ok("\"final_state\":\"On\"")},
      // The generic BMC accepts ForceRestart and shows nothing: unverified, never a plain success.
      {"server.power", R"({"action":"ForceRestart","restart_observe_seconds":5})", Ok("\"outcome\":\"verified\""),
       Ok("\"outcome\":\"unverified\""), Ok("\"outcome\":\"verified\"")},
      {"server.boot", R"({"mode":"once","target":"Pxe"})", Ok("applied"), Ok("applied"), Ok("applied")},
      {"server.virtual_media", R"({"action":"insert","image_url":"http://127.0.0.1/os.iso"})", Ok("inserted"),
       Ok("inserted"),
       // The mockup's virtual media (a CD already inserted) advertise no actions.
       Refused("redfish.unsupported", "offers no #VirtualMedia.")},
      {"server.bios", "{}", Ok("\"attributes\""), Ok("\"attributes\""), Ok("\"attributes\"")},
      {"server.logs", "{}", Ok("\"log\":\"lifecycle\""), Ok("\"log\":\"system\""), Ok("\"log\":\"manager\"")},
      // Neither tree's manager reports LastResetTime, and its 503s carry a Retry-After that
      // outlasts the restart: nothing can show it happened.
      {"server.idrac_reset", R"({"restart_observe_seconds":5})", Ok("\"outcome\":\"verified\""),
       Ok("\"outcome\":\"unverified\""), Ok("\"outcome\":\"unverified\"")},
      {"server.firmware_update",
       R"({"method":"simple_update","image_uri":")" + site.AddImage("BIOS_1.2.3.EXE", kUpdatePackage) + "\"}",
       Ok("\"state\":\"updated\""),
       // Accepted (204, no task), and no installed version changed: not proven, so failed.
       Refused("firmware.not_applied", "no installed version changed"),
       Refused("firmware.not_applied", "no installed version changed")},
      // The iDRAC tries to fetch the catalog (nothing serves it here) and says so.
      {"server.firmware_update", R"({"method":"repository","catalog_url":"http://127.0.0.1/Catalog.xml","dry_run":true})",
       Refused("firmware.catalog_failed", "could not be used"), not_idrac_generic, not_idrac_dmtf},
      {"server.job_queue_clear", "{}", Ok("\"deleted\""), not_idrac_generic, not_idrac_dmtf},
      {"server.idrac_settings", "{}", Ok(), not_idrac_generic, not_idrac_dmtf},
      {"server.scp_export", R"({"format":"XML"})", Ok(), not_idrac_generic, not_idrac_dmtf},
  };
  // Last, server.scp_import of the profile the export stored (the others refuse before reading it).
  auto with_import = cases;
  with_import.push_back({"server.scp_import", "", Ok(), not_idrac_generic, not_idrac_dmtf});
  for (auto& c : with_import) {
    if (c.type == "server.scp_import") {
      const std::string backup = site.Sql("SELECT id FROM server_config_backups WHERE server_id = $1", {dell});
      REQUIRE_FALSE(backup.empty());
      c.params = fmt::format(R"({{"backup_id":"{}","shutdown_type":"Graceful"}})", backup);
    }
    for (const auto& [name, server, expect] :
         {std::tuple{"dell", dell, c.dell}, std::tuple{"generic", generic.server_id, c.generic},
          std::tuple{"dmtf", dmtf.server_id, c.dmtf}}) {
      INFO(c.type << " " << c.params << " on " << name);
      const Outcome o = RunOne(site, server, c.type, c.params);
      INFO("status " << o.status << ", " << o.code << ": " << o.message << "; result " << o.result);
      if (expect.ok) {
        CHECK(o.status == "succeeded");
        CHECK(o.result.find(expect.text) != std::string::npos);
        if (expect.text.find("unverified") != std::string::npos) {
          CHECK(o.view.find("\"outcome\": \"unverified\"") != std::string::npos);  // visible in the job
        }
      } else {
        CHECK(o.status == "failed");
        CHECK(o.code == expect.code);
        CHECK(o.message.find(expect.text) != std::string::npos);
      }
    }
  }
  // What the refresh stored: the manufacturer of each, the generic BMC's SimpleStorage drives
  // and its four firmware entries that share one Id.
  CHECK(site.Sql("SELECT manufacturer FROM servers WHERE id = $1", {generic.server_id}) == "Acme");
  CHECK(site.Sql("SELECT manufacturer FROM servers WHERE id = $1", {dmtf.server_id}) == "Contoso");
  CHECK(site.Sql("SELECT count(*) FROM server_drives WHERE server_id = $1", {generic.server_id}) == "2");
  CHECK(site.Sql("SELECT count(*) FROM server_firmware WHERE server_id = $1", {generic.server_id}) == "4");
  // The generic BMC's 80 system log entries, read across pages of 25.
  CHECK(site.Sql("SELECT count(*) FROM server_log_entries WHERE server_id = $1 AND log = 'system'",
                 {generic.server_id}) == "80");
}

}  // namespace
}  // namespace dcops::e2e
