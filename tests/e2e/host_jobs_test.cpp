// host.maintenance and host.reboot end to end: the real dispatcher, vcenter-sync and
// esxi-worker as processes, the vCenter simulator (DRS migrations that take time, reboots that
// disconnect the host), PostgreSQL with the real migrations. Hosts come into the inventory by a
// sync; jobs are created through the CLI on them.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <csignal>

#include "esxcli_host.hpp"
#include "site.hpp"
#include "sshd_fixture.hpp"
#include "vc_server.hpp"

namespace dcops::e2e {
namespace {

using std::chrono::seconds;
namespace vc = sim::vcenter;

// A synced site with one 4-host cluster; `timings` are the simulated vCenter's.
struct HostSite {
  HostSite(const std::string& first_bmc, const std::string& vc_address, int vc_port, vc::Timings timings, int lease_seconds = 30)
      : site(Options(first_bmc, lease_seconds)), model(Estate()), vcenter(model, vc_address, vc_port) {
    model.SetTimings(timings);
    for (const auto& o : model.Objects("HostSystem")) {
      morefs.push_back(o.moref);
      model.Edit(o.moref, [](vc::Object& h) { std::get<vc::Host>(h.body).maintenance = false; });
    }
    REQUIRE(vcenter.Start().empty());
    site.StartAgent(DCOPS_VCENTER_SYNC, "vcenter-sync-a");
    esxi_worker = &site.StartAgent(DCOPS_ESXI_WORKER, "esxi-worker-a");
    REQUIRE(WaitUntil([&] { return site.Sql("SELECT count(*) FROM agents WHERE status = 'online'") == "2"; }, seconds(30)));
    const std::string vc_id = site.AddEndpoint("vcenters", "vcenter", vc_address + ":" + std::to_string(vc_port),
                                               "sync@vsphere.local", "vc-pass", vcenter.fingerprint());
    auto sync = site.Cli({"job", "create", "inventory.vcenter_sync", "--target", "vcenter:" + vc_id, "--watch"});
    INFO(sync.output);
    REQUIRE(sync.exit_code == 0);
  }
  static SiteOptions Options(const std::string& first_bmc, int lease_seconds) {
    SiteOptions o;
    o.bmcs = 1;
    o.first_bmc = first_bmc;
    o.register_servers = false;
    o.lease_seconds = lease_seconds;
    return o;
  }
  static vc::Estate Estate() {
    vc::Estate e;
    e.datacenters = 1;
    e.hosts = 4;
    e.hosts_per_cluster = 4;
    e.standalone_hosts = 0;
    e.vms_per_host = 3;
    e.datastores = 2;
    return e;
  }
  std::string HostId(const std::string& moref) { return site.Sql("SELECT id FROM vcenter_hosts WHERE moref = $1", {moref}); }
  vc::Host Host(const std::string& moref) {
    for (const auto& o : model.Objects("HostSystem")) {
      if (o.moref == moref) return std::get<vc::Host>(o.body);
    }
    FAIL("no host " << moref);
    return {};
  }
  std::string VmOn(const std::string& host) {
    for (const auto& o : model.Objects("VirtualMachine")) {
      if (std::get<vc::Vm>(o.body).host == host) return o.moref;
    }
    return "";
  }
  Site site;
  vc::Model model;
  vc::Server vcenter;
  std::vector<std::string> morefs;
  Process* esxi_worker = nullptr;
};

TEST_CASE("A host enters maintenance after its safety check, reboots through a disconnect, and leaves maintenance", "[e2e][esxi]") {
  vc::Timings t;
  t.migration = std::chrono::milliseconds(100);
  t.reboot_down = std::chrono::milliseconds(300);
  t.reboot_up = std::chrono::milliseconds(900);
  HostSite hs("127.0.125.40", "127.0.125.41", 18460, t);
  const std::string moref = hs.morefs[0], host = hs.HostId(moref);
  REQUIRE(host.size() == 36);

  auto enter = hs.site.Cli({"job", "create", "host.maintenance", "--target", "esxi:" + host, "--param", "action=enter", "--watch"});
  INFO(enter.output);
  REQUIRE(enter.exit_code == 0);
  CHECK(hs.Host(moref).maintenance);
  CHECK(hs.model.MaintenanceEntries() == 1);
  const std::string job = hs.site.Sql("SELECT job_id FROM job_tasks WHERE step_kind = 'host.maintenance'");
  // The check ran first, on the host, and its report is stored.
  CHECK(hs.site.Sql("SELECT result #>> '{verdicts,0,host}' FROM job_tasks WHERE job_id = $1 AND step_kind = 'cluster.safety_check'",
                    {job}) == moref);
  CHECK(hs.site.Sql("SELECT result ->> 'outcome' FROM job_tasks WHERE job_id = $1 AND step_kind = 'host.maintenance'", {job}) ==
        "entered");
  CHECK(hs.site.Sql("SELECT count(*) FROM cluster_maintenance_slots WHERE host_id = $1 AND entered", {host}) == "1");

  const std::string boot_before = hs.Host(moref).boot_time;
  auto reboot = hs.site.Cli({"job", "create", "host.reboot", "--target", "esxi:" + host, "--watch"});
  INFO(reboot.output);
  REQUIRE(reboot.exit_code == 0);
  CHECK(hs.Host(moref).boot_time != boot_before);
  CHECK(hs.site.Sql("SELECT result ->> 'disconnect_seen' FROM job_tasks WHERE step_kind = 'host.reboot'") == "true");

  // Another host of the cluster waits for the slot while the first is in maintenance.
  const std::string other = hs.HostId(hs.morefs[1]);
  auto waiting = hs.site.Cli({"job", "create", "host.maintenance", "--target", "esxi:" + other, "--param", "action=enter"});
  REQUIRE(waiting.exit_code == 0);
  REQUIRE(WaitUntil([&] {
    return hs.site.Sql("SELECT count(*) FROM job_events WHERE message LIKE 'waiting: % of cluster % is in maintenance through job " + job + "%'") == "1";
  }, seconds(30)));
  CHECK_FALSE(hs.Host(hs.morefs[1]).maintenance);

  auto exit = hs.site.Cli({"job", "create", "host.maintenance", "--target", "esxi:" + host, "--param", "action=exit", "--watch"});
  INFO(exit.output);
  REQUIRE(exit.exit_code == 0);
  CHECK_FALSE(hs.Host(moref).maintenance);
  // The slot is free: the waiting entry goes ahead.
  REQUIRE(WaitUntil([&] { return hs.Host(hs.morefs[1]).maintenance; }, seconds(60)));
  CHECK(hs.model.MaintenanceEntries() == 2);
}

TEST_CASE("A blocked entry times out clearly and leaves the host out of maintenance", "[e2e][esxi]") {
  vc::Timings t;
  t.migration = std::chrono::milliseconds(50);
  t.timeout_scale = 0.05;  // vCenter's 60 s timeout passes in 3 s
  HostSite hs("127.0.125.42", "127.0.125.43", 18461, t);
  const std::string moref = hs.morefs[2], host = hs.HostId(moref);
  hs.model.Edit(hs.VmOn(moref), [](vc::Object& o) { std::get<vc::Vm>(o.body).migration_stalls = true; });
  auto enter = hs.site.Cli({"job", "create", "host.maintenance", "--target", "esxi:" + host, "--param", "action=enter",
                            "--param", "timeout_seconds=60", "--watch"});
  INFO(enter.output);
  CHECK(enter.exit_code != 0);
  CHECK(enter.output.find("did not enter maintenance within 60 s") != std::string::npos);
  CHECK_FALSE(hs.Host(moref).maintenance);
  CHECK(hs.site.Sql("SELECT error_code FROM job_tasks WHERE step_kind = 'host.maintenance'") == "esxi.maintenance_timeout");
  CHECK(hs.model.MaintenanceEntries() == 1);  // not retried: a timeout is an answer
  // An entry that failed holds nothing: another host of the cluster enters at once.
  auto next = hs.site.Cli({"job", "create", "host.maintenance", "--target", "esxi:" + hs.HostId(hs.morefs[0]), "--param",
                           "action=enter", "--watch"});
  INFO(next.output);
  CHECK(next.exit_code == 0);
  CHECK(next.output.find("waiting:") == std::string::npos);
  CHECK(hs.Host(hs.morefs[0]).maintenance);
}

TEST_CASE("The esxi-worker killed mid-entry: the retry follows vCenter's task, never a second entry", "[e2e][esxi]") {
  vc::Timings t;
  t.migration = std::chrono::milliseconds(1500);  // three VMs: the entry runs for seconds
  HostSite hs("127.0.125.44", "127.0.125.45", 18462, t, 5);
  const std::string moref = hs.morefs[3], host = hs.HostId(moref);
  auto created = hs.site.Cli({"job", "create", "host.maintenance", "--target", "esxi:" + host, "--param", "action=enter"});
  REQUIRE(created.exit_code == 0);
  REQUIRE(WaitUntil([&] {
    return hs.site.Sql("SELECT count(*) FROM job_tasks WHERE step_kind = 'host.maintenance' AND checkpoint ->> 'phase' = 'sent'") == "1";
  }, seconds(60)));
  // vCenter has the task and the dispatcher its "sent" checkpoint: the worker dies without a word.
  hs.esxi_worker->Signal(SIGKILL);
  hs.site.StartAgent(DCOPS_ESXI_WORKER, "esxi-worker-rescuer");
  const std::string job = hs.site.Sql("SELECT job_id FROM job_tasks WHERE step_kind = 'host.maintenance'");
  REQUIRE(hs.site.WaitForJob(job, seconds(90)) == "succeeded");
  CHECK(hs.model.MaintenanceEntries() == 1);
  CHECK(hs.Host(moref).maintenance);
  CHECK(hs.site.Sql("SELECT attempt FROM job_tasks WHERE step_kind = 'host.maintenance'") == "2");
  CHECK(hs.site.Sql("SELECT count(*) FROM job_events WHERE job_id = $1 AND message LIKE 'resuming:%'", {job}) == "1");
}

TEST_CASE("An ESXi upgrade through the CLI: a wrong host key is refused, then the pinned host is upgraded and its build recorded",
          "[e2e][esxi]") {
  sim::sshd::Sshd sshd("127.0.125.48", 18464, "/tmp/dcops-e2e-sshd-127.0.125.48-" + std::to_string(::getpid()));
  REQUIRE(sshd.Start() == "");
  sim::esxcli::EsxcliHost esxcli(sshd);
  vc::Timings t;
  t.reboot_down = std::chrono::milliseconds(200);
  t.reboot_up = std::chrono::milliseconds(600);
  t.on_boot = esxcli.BootHook();
  HostSite hs("127.0.125.49", "127.0.125.50", 18465, t);
  const std::string moref = hs.morefs[0], host = hs.HostId(moref);
  hs.model.SetMaintenance(moref, true);
  auto stored = hs.site.Cli({"credentials", "set", "esx-root", "--kind", "esxi", "--user", "root", "--key-stdin"}, sshd.client_key());
  INFO(stored.output);
  REQUIRE(stored.exit_code == 0);
  hs.site.Sql("UPDATE vcenter_hosts SET ssh_address = $1, ssh_port = $2, ssh_host_key = $3, "
              "ssh_credential_set_id = (SELECT id FROM credential_sets WHERE name = 'esx-root') WHERE id = $4 RETURNING id",
              {sshd.address(), std::to_string(sshd.port()), "SHA256:" + std::string(43, 'A'), host});
  const std::vector<std::string> upgrade = {"job", "create", "host.esxi_upgrade", "--target", "esxi:" + host, "--param",
                                            std::string("depot=") + sim::esxcli::kDepot, "--param",
                                            std::string("profile=") + sim::esxcli::kProfile, "--watch"};
  auto wrong = hs.site.Cli(upgrade);
  INFO(wrong.output);
  CHECK(wrong.exit_code != 0);
  CHECK(wrong.output.find("not the pinned") != std::string::npos);
  CHECK(esxcli.Calls("system") == 0);  // nothing ran on a host that is not the one pinned
  CHECK(hs.Host(moref).build == sim::esxcli::kBuildBefore);

  hs.site.Sql("UPDATE vcenter_hosts SET ssh_host_key = $1 WHERE id = $2 RETURNING id", {sshd.host_key_fingerprint(), host});
  auto ok = hs.site.Cli(upgrade);
  INFO(ok.output);
  REQUIRE(ok.exit_code == 0);
  CHECK(hs.Host(moref).build == sim::esxcli::kBuildAfter);
  CHECK(esxcli.Calls("profile update") == 1);
  CHECK(hs.site.Sql("SELECT esxi_build FROM vcenter_hosts WHERE id = $1", {host}) == sim::esxcli::kBuildAfter);
  CHECK(hs.site.Sql("SELECT result ->> 'outcome' FROM job_tasks WHERE step_kind = 'host.esxi_upgrade' AND status = 'succeeded'") ==
        "upgraded");
  // The key never reached a log or an event.
  const std::string key_line = sshd.client_key().substr(sshd.client_key().find('\n') + 1, 40);
  CHECK(hs.site.AllLogs().find(key_line) == std::string::npos);
  CHECK(hs.site.Sql("SELECT count(*) FROM job_events WHERE position($1 in message) > 0", {key_line}) == "0");
}

}  // namespace
}  // namespace dcops::e2e
