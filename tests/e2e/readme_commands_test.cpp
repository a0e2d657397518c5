// The server job types the README lists that no other end-to-end test runs (the ones its CLI
// examples show have their own: power, refresh, boot, firmware by URI, backups, logs), each
// run once end to end through the dcops CLI (table-driven):
// the dispatcher plans it, an idrac-worker runs it against the Redfish simulator over gRPC, and
// each row checks the effect where it shows (the simulated BMC, or the step's result).
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>

#include "site.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;

rapidjson::Document Bmc(Site& site, const std::string& address) {
  rapidjson::Document fleet;
  fleet.Parse(site.FleetJson().c_str());
  REQUIRE(fleet.IsArray());
  for (auto& b : fleet.GetArray()) {
    if (std::string(b["address"].GetString()) == address) {
      rapidjson::Document one;
      one.CopyFrom(b, one.GetAllocator());
      return one;
    }
  }
  FAIL("no simulated BMC at " << address);
  return rapidjson::Document();
}

// The result of the newest job of `job_type`'s step of `step_kind`, at `path` (a jsonb path).
std::string LastResult(Site& site, const std::string& job_type, const std::string& path) {
  return site.Sql("SELECT t.result #>> $2::text[] FROM job_tasks t JOIN jobs j ON j.id = t.job_id "
                  "WHERE j.job_type = $1 AND t.step_kind = $1 ORDER BY j.created_at DESC LIMIT 1",
                  {job_type, path});
}

struct Row {
  const char* what;
  std::vector<std::string> args;  // after "job create"; the target and --watch are added
  std::function<void(Site&)> effect;
};

TEST_CASE("Each README server job without another end-to-end test runs once through the CLI, and its effect shows",
          "[e2e]") {
  Site site({1, "127.0.135.1", 400, 30, "1s"});
  const std::string bmc = "127.0.135.1", target = bmc + ":18443";
  // Packages to push live in the worker's DCOPS_PACKAGE_DIR, as in a deployment.
  const std::string packages = site.dir() + "/packages";
  std::filesystem::create_directories(packages);
  std::ofstream(packages + "/BIOS_8T4P1_WN64_2.1.0.EXE") << "MZ bios";
  site.StartAgent(DCOPS_IDRAC_WORKER, "worker-a", "", false, 8,
                  {{"DCOPS_POLL_INTERVAL", "100ms"}, {"DCOPS_STATE_DIR", site.dir() + "/state"},
                   {"DCOPS_PACKAGE_DIR", packages}});
  REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "1"; }, seconds(20)));
  const long sessions_before = Bmc(site, bmc)["counters"]["sessions_created"].GetInt64();

  const std::vector<Row> rows = {
      {"credential test: a login proven, nothing changed",
       {"server.credential_test"},
       [&](Site& s) {
         CHECK(Bmc(s, bmc)["counters"]["sessions_created"].GetInt64() > sessions_before);
         CHECK(Bmc(s, bmc)["counters"]["effective_resets"].GetInt() == 0);
       }},
      {"BIOS read", {"server.bios"},
       [](Site& s) { CHECK(LastResult(s, "server.bios", "{attributes,MemTest}") == "Disabled"); }},
      {"BIOS apply now, then read back",
       {"server.bios", "--params-json", R"({"attributes":{"MemTest":"Enabled"},"apply_time":"Immediate"})"},
       [&](Site& s) {
         auto read = s.Cli({"job", "create", "server.bios", "--target", target, "--watch"});
         REQUIRE(read.exit_code == 0);
         CHECK(LastResult(s, "server.bios", "{attributes,MemTest}") == "Enabled");
       }},
      {"iDRAC settings",
       {"server.idrac_settings", "--params-json",
        R"({"attributes":{"NTPConfigGroup.1.NTPEnable":"Enabled","NTPConfigGroup.1.NTP1":"127.0.0.1"}})"},
       [&](Site& s) {
         auto read = s.Cli({"job", "create", "server.idrac_settings", "--target", target, "--watch"});
         REQUIRE(read.exit_code == 0);
         CHECK(LastResult(s, "server.idrac_settings", "{attributes,NTPConfigGroup.1.NTPEnable}") == "Enabled");
         CHECK(LastResult(s, "server.idrac_settings", "{attributes,NTPConfigGroup.1.NTP1}") == "127.0.0.1");
       }},
      {"virtual media insert", {"server.virtual_media", "--param", "action=insert", "--param", "image_url=http://127.0.0.1/esxi-8.0.iso"},
       [&](Site& s) {
         std::string inserted;
         const auto state = Bmc(s, bmc);  // kept: the loop walks into it
         for (const auto& m : state["virtual_media"].GetObject()) inserted += m.value.GetString();
         CHECK(inserted == "http://127.0.0.1/esxi-8.0.iso");
       }},
      {"virtual media eject", {"server.virtual_media", "--param", "action=eject"},
       [&](Site& s) {
         std::string inserted;
         const auto state = Bmc(s, bmc);  // kept: the loop walks into it
         for (const auto& m : state["virtual_media"].GetObject()) inserted += m.value.GetString();
         CHECK(inserted.empty());
       }},
      {"firmware pushed from the package directory",
       {"server.firmware_update", "--param", "method=push", "--param", R"(package_paths=["BIOS_8T4P1_WN64_2.1.0.EXE"])"},
       [&](Site& s) {
         CHECK(std::string(Bmc(s, bmc)["bios_version"].GetString()) == "2.1.0");
         CHECK(Bmc(s, bmc)["jobs"].GetInt() > 0);  // what the next row clears
       }},
      {"job queue clear", {"server.job_queue_clear", "--param", "force=true"},
       [&](Site& s) { CHECK(Bmc(s, bmc)["jobs"].GetInt() == 0); }},
      {"iDRAC reset, waited out", {"server.idrac_reset", "--param", "type=GracefulRestart"},
       [&](Site& s) { CHECK(Bmc(s, bmc)["counters"]["idrac_resets"].GetInt() == 1); }},
  };
  for (const auto& row : rows) {
    INFO(row.what);
    std::vector<std::string> args = {"job", "create"};
    args.insert(args.end(), row.args.begin(), row.args.end());
    args.insert(args.end(), {"--target", target, "--watch"});
    auto run = site.Cli(args);
    INFO(run.output);
    REQUIRE(run.exit_code == 0);
    row.effect(site);
  }
}

}  // namespace
}  // namespace dcops::e2e
