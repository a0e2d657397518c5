// cluster.rolling_update end to end: the real dispatcher, idrac-worker, vcenter-sync and
// esxi-worker as processes; a 4-host cluster in the vCenter simulator whose hosts are simulated
// BMCs (linked to them by the inventory: service tag + system UUID, or serial + UUID);
// PostgreSQL with the real migrations. Jobs are created, watched and resumed through the CLI.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include <csignal>

#include "site.hpp"
#include "vc_server.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;
namespace vc = sim::vcenter;

// A BIOS update from the site's share; `with_settings` adds HA admission control off and DRS
// fully automated for the job's length.
std::string BiosParams(Site& site, bool with_settings = false) {
  const std::string uri = site.AddImage("BIOS_8T4P1_WN64_9.9.9.EXE", kUpdatePackage);
  return R"({"firmware":{"method":"simple_update","image_uri":")" + uri + R"("},"quiet_seconds":1)" +
         (with_settings ? R"(,"ha_admission_control":"disable","drs_behavior":"fullyAutomated"})" : "}");
}

// A site whose 4 BMCs are the hardware of a 4-host cluster, inventoried and linked.
struct ClusterSite {
  ClusterSite(const std::string& first_bmc, const std::string& vc_address, int vc_port, std::vector<std::string> sim_args = {},
              std::chrono::milliseconds migration = std::chrono::milliseconds(50), int lease_seconds = 30, int restart_ms = 400)
      : site(Options(first_bmc, std::move(sim_args), lease_seconds, restart_ms)), model(Estate(site)), vcenter(model, vc_address, vc_port) {
    vc::Timings t;
    t.migration = migration;
    model.SetTimings(t);
    for (const auto& o : model.Objects("HostSystem")) {
      morefs.push_back(o.moref);
      model.Edit(o.moref, [](vc::Object& h) { std::get<vc::Host>(h.body).maintenance = false; });
    }
    REQUIRE(vcenter.Start().empty());
    idrac_worker = &site.StartWorker("idrac-a");
    site.StartAgent(DCOPS_VCENTER_SYNC, "vcenter-sync-a");
    esxi_worker = &site.StartAgent(DCOPS_ESXI_WORKER, "esxi-worker-a");
    REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "3"; }, seconds(30)));
    auto refresh = site.Cli({"job", "create", "server.refresh", "--target", "all", "--watch"});
    INFO(refresh.output);
    REQUIRE(refresh.exit_code == 0);
    const std::string vc_id = site.AddEndpoint("vcenters", "vcenter", vc_address + ":" + std::to_string(vc_port),
                                               "sync@vsphere.local", "vc-pass", vcenter.fingerprint());
    auto sync = site.Cli({"job", "create", "inventory.vcenter_sync", "--target", "vcenter:" + vc_id, "--watch"});
    INFO(sync.output);
    REQUIRE(sync.exit_code == 0);
    REQUIRE(site.Sql("SELECT count(*) FROM vcenter_hosts WHERE server_id IS NOT NULL") == "4");
    cluster = site.Sql("SELECT id FROM vcenter_clusters");
  }
  static SiteOptions Options(const std::string& first_bmc, std::vector<std::string> sim_args, int lease_seconds, int restart_ms) {
    SiteOptions o;
    o.bmcs = 4;
    o.first_bmc = first_bmc;
    o.sim_args = std::move(sim_args);
    o.lease_seconds = lease_seconds;
    o.restart_ms = restart_ms;
    return o;
  }
  // The cluster's hardware is the simulated fleet's: host n runs on BMC n.
  static vc::Estate Estate(Site& site) {
    vc::Estate e;
    e.datacenters = 1;
    e.hosts = 4;
    e.hosts_per_cluster = 4;
    e.standalone_hosts = 0;
    e.vms_per_host = 2;
    e.datastores = 1;
    e.networks = 1;
    rapidjson::Document fleet;
    fleet.Parse(site.FleetJson().c_str());
    REQUIRE(fleet.IsArray());
    for (const auto& b : fleet.GetArray()) {
      const std::string vendor = b["vendor"].GetString();
      e.hardware.push_back({vendor == "dell" ? "Dell Inc." : "Contoso", b["service_tag"].GetString(),
                            b["serial_number"].GetString(), b["system_uuid"].GetString()});
    }
    return e;
  }
  rapidjson::Document Fleet() {
    rapidjson::Document d;
    d.Parse(site.FleetJson().c_str());
    return d;
  }
  vc::Cluster Cluster() {
    const auto clusters = model.Objects("ClusterComputeResource");
    REQUIRE(clusters.size() == 1);
    return std::get<vc::Cluster>(clusters.front().body);
  }
  vc::Host Host(const std::string& moref) {
    for (const auto& o : model.Objects("HostSystem")) {
      if (o.moref == moref) return std::get<vc::Host>(o.body);
    }
    FAIL("no host " << moref);
    return {};
  }
  // The i-th host in the order the job takes them (by name), its moref and its server's BMC.
  std::string HostName(int i) {
    return site.Sql("SELECT name FROM vcenter_hosts ORDER BY name OFFSET $1 LIMIT 1", {std::to_string(i)});
  }
  std::string MorefOf(const std::string& name) { return site.Sql("SELECT moref FROM vcenter_hosts WHERE name = $1", {name}); }
  std::string BmcOf(const std::string& name) {
    return site.Sql("SELECT s.bmc_address FROM vcenter_hosts h JOIN servers s ON s.id = h.server_id WHERE h.name = $1", {name});
  }
  // The simulator's record of the BMC at `bmc_address` ("127.0.x.y:port").
  std::string BiosOf(const std::string& bmc_address) {
    auto fleet = Fleet();
    for (const auto& b : fleet.GetArray()) {
      if (std::string(b["address"].GetString()) + ":18443" == bmc_address) return b["bios_version"].GetString();
    }
    FAIL("no BMC " << bmc_address);
    return "";
  }
  std::string Status(const std::string& job, const std::string& key) {
    return site.Sql("SELECT status FROM job_tasks WHERE job_id = $1 AND step_key = $2", {job, key});
  }
  Site site;
  vc::Model model;
  vc::Server vcenter;
  // Waits until the step `key` of `job` has saved a checkpoint whose `field` is `value`.
  void AwaitCheckpoint(const std::string& job, const std::string& key, const std::string& field, const std::string& value) {
    const bool seen = WaitUntil([&] {
      return site.Sql("SELECT count(*) FROM job_tasks WHERE job_id = $1 AND step_key = $2 AND status = 'running' "
                      "AND checkpoint ->> $3 = $4",
                      {job, key, field, value}) == "1";
    }, seconds(120));
    INFO("waiting for " << key << " with checkpoint " << field << " = " << value << "; steps: "
         << site.Sql("SELECT string_agg(step_key || ' ' || status || ' ' || coalesce(checkpoint::text, '-'), '; ' ORDER BY seq) "
                     "FROM job_tasks WHERE job_id = $1", {job}));
    REQUIRE(seen);
  }
  std::vector<std::string> morefs;
  std::string cluster;
  Process* idrac_worker = nullptr;
  Process* esxi_worker = nullptr;
};

TEST_CASE("A rolling firmware update takes a 4-host cluster host by host, each in maintenance only for its own update",
          "[e2e][rolling]") {
  ClusterSite cs("127.0.126.1", "127.0.126.10", 18470);
  // DRS asks before it moves a VM: every entry would be blocked. The job makes it fully
  // automated (and HA admission control off) while it runs, and puts both back.
  const std::string cluster_moref = cs.model.Objects("ClusterComputeResource").front().moref;
  cs.model.Edit(cluster_moref, [](vc::Object& c) { std::get<vc::Cluster>(c.body).drs_behavior = "partiallyAutomated"; });
  auto run = cs.site.Cli({"job", "create", "cluster.rolling_update", "--target", "cluster:" + cs.cluster, "--params-json",
                          BiosParams(cs.site, true), "--watch"});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const std::string job = cs.site.Sql("SELECT id FROM jobs WHERE job_type = 'cluster.rolling_update'");
  // 6 steps per host (check, enter, firmware, refresh, exit, settle), the settings' 2.
  CHECK(cs.site.Sql("SELECT steps_succeeded || '/' || steps_total FROM jobs WHERE id = $1", {job}) == "26/26");
  CHECK(cs.Cluster().drs_behavior == "partiallyAutomated");
  CHECK(cs.Cluster().admission_control);
  CHECK(cs.site.Sql("SELECT result ->> 'changed' FROM job_tasks WHERE job_id = $1 AND step_key = 'settings:apply'", {job}) ==
        R"(["ha_admission_control", "drs_behavior"])");
  CHECK(cs.site.Sql("SELECT result #>> '{before,drs_behavior}' FROM job_tasks WHERE job_id = $1 AND step_key = 'settings:apply'",
                    {job}) == "partiallyAutomated");
  CHECK(cs.site.Sql("SELECT result ->> 'restored' FROM job_tasks WHERE job_id = $1 AND step_key = 'settings:restore'", {job}) ==
        R"(["ha_admission_control", "drs_behavior"])");
  // Every host was taken in while DRS was fully automated: the restore came after the last exit.
  CHECK(cs.site.Sql("SELECT count(*) FROM job_tasks r, job_tasks x WHERE r.job_id = $1 AND x.job_id = $1 "
                    "AND r.step_key = 'settings:restore' AND x.step_kind = 'host.maintenance' AND r.started_at < x.finished_at",
                    {job}) == "0");
  // The settles found their hosts brought back by their exits: nothing to do.
  CHECK(cs.site.Sql("SELECT count(*) FROM job_tasks WHERE job_id = $1 AND step_key LIKE 'settle:%' "
                    "AND result ->> 'outcome' = 'exited_before'", {job}) == "4");

  // Every server runs the new BIOS, rebooted once for it; the inventory says so.
  auto fleet = cs.Fleet();
  for (const auto& b : fleet.GetArray()) {
    CHECK(std::string(b["bios_version"].GetString()) == "9.9.9");
    CHECK(b["counters"]["effective_resets"].GetInt() == 1);
  }
  CHECK(cs.site.Sql("SELECT count(*) FROM server_firmware WHERE component_id = 'Installed-159' AND version = '9.9.9'") == "4");
  // Each host entered maintenance once and is out again.
  CHECK(cs.model.MaintenanceEntries() == 4);
  for (const auto& m : cs.morefs) CHECK_FALSE(cs.Host(m).maintenance);

  // Host by host: a host's check starts only after the host before it left maintenance, and
  // its firmware is sent only while it is in maintenance.
  const std::string order = cs.site.Sql(
      "SELECT string_agg(step_key, ',' ORDER BY started_at) FROM job_tasks WHERE job_id = $1 AND step_key LIKE 'check:%'", {job});
  CHECK(order == fmt::format("check:{},check:{},check:{},check:{}", cs.HostName(0), cs.HostName(1), cs.HostName(2), cs.HostName(3)));
  CHECK(cs.site.Sql("SELECT count(*) FROM job_tasks n JOIN job_tasks p ON p.job_id = n.job_id "
                    "AND p.step_key = 'exit:' || (p.params #>> '{_rolling,host}') "
                    "AND (n.params #>> '{_rolling,position}')::int = (p.params #>> '{_rolling,position}')::int + 1 "
                    "WHERE n.job_id = $1 AND n.step_kind = 'cluster.safety_check' AND n.started_at >= p.finished_at",
                    {job}) == "3");
  CHECK(cs.site.Sql("SELECT count(*) FROM job_tasks f JOIN job_tasks e ON e.job_id = f.job_id "
                    "AND e.step_key = 'enter:' || (f.params #>> '{_rolling,host}') "
                    "JOIN job_tasks x ON x.job_id = f.job_id AND x.step_key = 'exit:' || (f.params #>> '{_rolling,host}') "
                    "WHERE f.job_id = $1 AND f.step_kind = 'server.firmware_update' "
                    "AND f.started_at >= e.finished_at AND f.finished_at <= x.started_at",
                    {job}) == "4");
  // The hosts after the first waited out the quiet period.
  CHECK(cs.site.Sql("SELECT count(*) FROM job_events WHERE job_id = $1 AND message LIKE 'quiet period of 1 s%'", {job}) == "3");
}

TEST_CASE("A blocker pauses the rolling update with nothing sent for that host, and the operator clears it and resumes",
          "[e2e][rolling]") {
  ClusterSite cs("127.0.126.21", "127.0.126.30", 18471);
  // The second host has a VM with a host CD-ROM connected: it cannot be moved.
  std::string stuck_vm;
  const std::string second = cs.MorefOf(cs.HostName(1));
  for (const auto& o : cs.model.Objects("VirtualMachine")) {
    if (std::get<vc::Vm>(o.body).host == second && stuck_vm.empty()) stuck_vm = o.moref;
  }
  REQUIRE_FALSE(stuck_vm.empty());
  cs.model.Edit(stuck_vm, [](vc::Object& vm) {
    std::get<vc::Vm>(vm.body).media = {vc::Vm::Media{"cdrom", "host_device", "", true}};
  });
  auto run = cs.site.Cli({"job", "create", "cluster.rolling_update", "--target", "cluster:" + cs.cluster, "--params-json", BiosParams(cs.site),
                          "--watch"});
  INFO(run.output);
  CHECK(run.exit_code == 3);  // watch ends: the job is paused
  const std::string job = cs.site.Sql("SELECT id FROM jobs WHERE job_type = 'cluster.rolling_update'");
  CHECK(cs.site.Sql("SELECT status FROM jobs WHERE id = $1", {job}) == "paused");
  const std::string h1 = cs.HostName(0), h2 = cs.HostName(1);
  CHECK(cs.Status(job, "exit:" + h1) == "succeeded");
  CHECK(cs.Status(job, "enter:" + h2) == "paused");
  CHECK(cs.site.Sql("SELECT pause ->> 'error_code' FROM jobs WHERE id = $1", {job}) == "esxi.blocked");
  CHECK(run.output.find("paused at step enter:" + h2) != std::string::npos);
  CHECK(cs.site.Sql("SELECT count(*) FROM job_events WHERE job_id = $1 AND message LIKE 'job paused at step enter:%connected_media%'", {job}) == "1");
  CHECK_FALSE(cs.Host(cs.MorefOf(h2)).maintenance);  // nothing was sent for it

  // The operator disconnects the CD-ROM and retries: the job goes on to the end.
  cs.model.Edit(stuck_vm, [](vc::Object& vm) { std::get<vc::Vm>(vm.body).media.clear(); });
  auto resume = cs.site.Cli({"job", "resume", job, "--retry"});
  INFO(resume.output);
  REQUIRE(resume.exit_code == 0);
  CHECK(resume.output.find("running") != std::string::npos);
  CHECK(cs.site.WaitForJob(job, seconds(180)) == "succeeded");
  CHECK(cs.model.MaintenanceEntries() == 4);
  CHECK(cs.site.Sql("SELECT count(*) FROM audit_log WHERE action = 'job.resume' AND object_id = $1", {job}) == "1");
}

TEST_CASE("A failed firmware update on host 2 stops the job: host 1 done, host 2 left in maintenance, hosts 3 and 4 untouched, HA restored",
          "[e2e][rolling]") {
  ClusterSite cs("127.0.126.41", "127.0.126.50", 18472);
  const std::string h1 = cs.HostName(0), h2 = cs.HostName(1), h3 = cs.HostName(2), h4 = cs.HostName(3);
  // Host 2's iDRAC starts answering HTML error pages: its update cannot be done or proved.
  REQUIRE(cs.site.SetFaults(cs.BmcOf(h2).substr(0, cs.BmcOf(h2).find(':')), R"({"mode":"html"})"));
  auto run = cs.site.Cli({"job", "create", "cluster.rolling_update", "--target", "cluster:" + cs.cluster, "--params-json",
                          BiosParams(cs.site, true), "--watch"});
  INFO(run.output);
  CHECK(run.exit_code == 1);
  const std::string job = cs.site.Sql("SELECT id FROM jobs WHERE job_type = 'cluster.rolling_update'");
  CHECK(cs.site.Sql("SELECT status FROM jobs WHERE id = $1", {job}) == "failed");
  CHECK(cs.Status(job, "exit:" + h1) == "succeeded");
  CHECK(cs.Status(job, "firmware:" + h2) == "failed");
  CHECK(cs.site.Sql("SELECT error_message FROM job_tasks WHERE job_id = $1 AND step_key = $2", {job, "firmware:" + h2})
            .find("HTML page instead of JSON") != std::string::npos);
  CHECK(cs.Status(job, "exit:" + h2) == "skipped");
  CHECK(cs.Host(cs.MorefOf(h2)).maintenance);  // a host whose update failed stays out of service
  CHECK(cs.site.Sql("SELECT result ->> 'outcome' FROM job_tasks WHERE job_id = $1 AND step_key = $2", {job, "settle:" + h2}) ==
        "left_in_maintenance");
  CHECK(cs.site.Sql("SELECT count(*) FROM job_events WHERE job_id = $1 AND level = 'warn' AND message LIKE $2",
                    {job, "%" + h2 + " is left in maintenance: step firmware:" + h2 + " failed%"}) == "1");
  // The cluster's HA admission control is back on: the restore ran after the failure.
  CHECK(cs.Cluster().admission_control);
  CHECK(cs.Status(job, "settings:restore") == "succeeded");
  for (const auto& h : {h3, h4}) {
    CHECK(cs.site.Sql("SELECT count(*) FROM job_tasks WHERE job_id = $1 AND params #>> '{_rolling,host}' = $2 AND status <> 'skipped' "
                      "AND step_key <> 'settle:' || $2",
                      {job, h}) == "0");
    // Its settle found an entry that never reached vCenter: nothing to settle, nothing sent.
    CHECK(cs.site.Sql("SELECT result ->> 'outcome' FROM job_tasks WHERE job_id = $1 AND step_key = 'settle:' || $2", {job, h}) ==
          "never_entered");
    CHECK(cs.model.TasksOn(cs.MorefOf(h)).empty());
    CHECK_FALSE(cs.Host(cs.MorefOf(h)).maintenance);
    CHECK(cs.BiosOf(cs.BmcOf(h)) != "9.9.9");
  }
  CHECK(cs.model.MaintenanceEntries() == 2);
  CHECK(cs.BiosOf(cs.BmcOf(h1)) == "9.9.9");
}

TEST_CASE("A cancel mid-firmware lets the firmware finish, brings the healthy host back and restores the cluster's settings",
          "[e2e][rolling]") {
  // Servers take 3 s to restart: the cancel lands while the first host's firmware is applied.
  ClusterSite cs("127.0.126.81", "127.0.126.90", 18474, {}, std::chrono::milliseconds(50), 30, 3000);
  const std::string job =
      cs.site.CreateJob("cluster.rolling_update", R"({"cluster_id":")" + cs.cluster + "\"}", BiosParams(cs.site, true));
  const std::string h1 = cs.HostName(0);
  // The update is under way: the image staged, the restart that applies it sent (the step
  // follows the server through it, 3 s here, to prove the new version).
  cs.AwaitCheckpoint(job, "firmware:" + h1, "phase", "rebooted");
  CHECK_FALSE(cs.Cluster().admission_control);  // off while the job runs
  auto cancel = cs.site.Cli({"job", "cancel", job});
  INFO(cancel.output);
  REQUIRE(cancel.exit_code == 0);
  REQUIRE(cs.site.WaitForJob(job, seconds(180)) == "cancelled");

  // The firmware was not interrupted: it finished and was proved, in its one attempt, with one
  // restart of its server.
  CHECK(cs.Status(job, "firmware:" + h1) == "succeeded");
  CHECK(cs.site.Sql("SELECT attempt FROM job_tasks WHERE job_id = $1 AND step_key = $2", {job, "firmware:" + h1}) == "1");
  CHECK(cs.BiosOf(cs.BmcOf(h1)) == "9.9.9");
  auto fleet = cs.Fleet();
  for (const auto& b : fleet.GetArray()) {
    if (std::string(b["address"].GetString()) + ":18443" == cs.BmcOf(h1)) CHECK(b["counters"]["effective_resets"].GetInt() == 1);
  }
  // The host is healthy: its settle took it out of maintenance.
  CHECK(cs.Status(job, "exit:" + h1) == "cancelled");
  CHECK(cs.site.Sql("SELECT result ->> 'outcome' FROM job_tasks WHERE job_id = $1 AND step_key = $2", {job, "settle:" + h1}) ==
        "exited");
  for (const auto& m : cs.morefs) CHECK_FALSE(cs.Host(m).maintenance);
  // Nothing else was started, and the cluster is as the job found it.
  CHECK(cs.model.MaintenanceEntries() == 1);
  for (int i = 1; i < 4; ++i) CHECK(cs.BiosOf(cs.BmcOf(cs.HostName(i))) != "9.9.9");
  CHECK(cs.Cluster().admission_control);
  CHECK(cs.Status(job, "settings:restore") == "succeeded");
  CHECK(cs.site.Sql("SELECT count(*) FROM job_tasks WHERE job_id = $1 AND status = 'cancelled'", {job}) != "0");
}

TEST_CASE("The database away while a host's firmware is applied: the rolling update goes on and repeats no effect",
          "[e2e][rolling]") {
  // Servers take 3 s to restart: the outage covers the update's end on the agent.
  ClusterSite cs("127.0.127.1", "127.0.127.10", 18475, {}, std::chrono::milliseconds(50), 30, 3000);
  const std::string job = cs.site.CreateJob("cluster.rolling_update", R"({"cluster_id":")" + cs.cluster + "\"}", BiosParams(cs.site, true));
  const std::string h2 = cs.HostName(1);
  cs.AwaitCheckpoint(job, "firmware:" + h2, "phase", "rebooted");
  cs.site.CutDatabase();
  REQUIRE(WaitUntil([&] { return cs.site.Readyz(0) == "database unreachable\n"; }, seconds(30)));
  // Host 2's update step ends on the agent (host 1's ended before) while the dispatcher has
  // no database: it cannot confirm the step's next checkpoint, so the attempt ends, its result
  // waiting for the database.
  auto updates_ended = [&cs] {
    const std::string log = cs.idrac_worker->Log();
    int n = 0;
    for (auto at = log.find("server.firmware_update finished: "); at != std::string::npos;
         at = log.find("server.firmware_update finished: ", at + 1)) {
      ++n;
    }
    return n;
  };
  const bool ended = WaitUntil([&] { return updates_ended() >= 2; }, seconds(60));
  cs.site.RestoreDatabase();
  REQUIRE(ended);
  REQUIRE(cs.site.WaitForJob(job, seconds(240)) == "succeeded");
  CHECK(cs.model.MaintenanceEntries() == 4);
  for (const auto& m : cs.morefs) CHECK_FALSE(cs.Host(m).maintenance);
  auto fleet = cs.Fleet();
  for (const auto& b : fleet.GetArray()) {
    CHECK(std::string(b["bios_version"].GetString()) == "9.9.9");
    CHECK(b["counters"]["effective_resets"].GetInt() == 1);
  }
  // The attempt the outage ended was retried and continued from its checkpoint: one reset.
  CHECK(cs.site.Sql("SELECT attempt >= 2 FROM job_tasks WHERE job_id = $1 AND step_key = $2", {job, "firmware:" + h2}) == "t");
  CHECK(cs.Status(job, "firmware:" + h2) == "succeeded");
  CHECK(cs.Cluster().admission_control);
}

TEST_CASE("Killed mid-host — the idrac-worker, the esxi-worker, the dispatcher — the rolling update resumes and repeats no effect",
          "[e2e][rolling]") {
  // Entries take seconds (1.5 s per VM) and servers 3 s to restart, so each kill lands mid-step.
  ClusterSite cs("127.0.126.61", "127.0.126.70", 18473, {}, std::chrono::milliseconds(1500), 5, 3000);
  const std::string job = cs.site.CreateJob("cluster.rolling_update", R"({"cluster_id":")" + cs.cluster + "\"}", BiosParams(cs.site));
  const std::string h1 = cs.HostName(0), h2 = cs.HostName(1), h3 = cs.HostName(2);

  // Host 1: the idrac-worker dies while the server restarts into its new BIOS (the restart is
  // sent: the step follows the update through it).
  cs.AwaitCheckpoint(job, "firmware:" + h1, "phase", "rebooted");
  cs.idrac_worker->Signal(SIGKILL);
  cs.site.StartWorker("idrac-b");
  // Host 2: the esxi-worker dies while vCenter evacuates the host.
  cs.AwaitCheckpoint(job, "enter:" + h2, "phase", "sent");
  cs.esxi_worker->Signal(SIGKILL);
  cs.site.StartAgent(DCOPS_ESXI_WORKER, "esxi-worker-b");
  // Host 3: the dispatcher dies while the host enters maintenance.
  cs.AwaitCheckpoint(job, "enter:" + h3, "phase", "sent");
  cs.site.dispatcher(0)->Signal(SIGKILL);
  REQUIRE(WaitUntil([&] { return !cs.site.dispatcher(0)->Running(); }, seconds(10)));
  cs.site.StartDispatcher(0);

  REQUIRE(cs.site.WaitForJob(job, seconds(300)) == "succeeded");
  // No effect twice: one entry per host, one restart per server, every BIOS updated.
  CHECK(cs.model.MaintenanceEntries() == 4);
  for (const auto& m : cs.morefs) CHECK_FALSE(cs.Host(m).maintenance);
  auto fleet = cs.Fleet();
  for (const auto& b : fleet.GetArray()) {
    CHECK(std::string(b["bios_version"].GetString()) == "9.9.9");
    CHECK(b["counters"]["effective_resets"].GetInt() == 1);
  }
  // The killed steps ran again and took up where they were.
  CHECK(cs.site.Sql("SELECT attempt FROM job_tasks WHERE job_id = $1 AND step_key = $2", {job, "firmware:" + h1}) == "2");
  CHECK(cs.site.Sql("SELECT attempt FROM job_tasks WHERE job_id = $1 AND step_key = $2", {job, "enter:" + h2}) == "2");
  CHECK(cs.site.Sql("SELECT count(*) FROM job_events WHERE job_id = $1 AND task_id = "
                    "(SELECT id FROM job_tasks WHERE job_id = $1 AND step_key = $2) AND message LIKE 'resuming:%'",
                    {job, "enter:" + h2}) == "1");
  // Host 3's entry went on while no dispatcher ran: one entry task and one exit task in vCenter.
  CHECK(cs.model.TasksOn(cs.MorefOf(h3)).size() == 2);
  CHECK(cs.Status(job, "exit:" + h3) == "succeeded");
}

}  // namespace
}  // namespace dcops::e2e
