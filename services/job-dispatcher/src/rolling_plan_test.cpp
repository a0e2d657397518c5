#include "rolling_plan.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <algorithm>

namespace dcops::dispatcher {
namespace {

constexpr const char* kCluster = "c0000000-0000-0000-0000-000000000001";

std::string HostId(int i) { return "a0000000-0000-0000-0000-00000000000" + std::to_string(i); }

// A cluster of `n` linked hosts esx-1 … esx-n, BMCs 127.0.9.<i>.
class ClusterDirectory final : public ServerDirectory {
 public:
  explicit ClusterDirectory(int n) {
    cluster.cluster_id = kCluster;
    cluster.name = "prod";
    for (int i = 1; i <= n; ++i) {
      cluster.hosts.push_back(RollingHost{HostId(i), "esx-" + std::to_string(i), "connected", false, false, true,
                                          ServerRef{"s" + std::to_string(i), "127.0.9." + std::to_string(i), "set-1", true, ""},
                                          ""});
    }
  }
  Result<std::vector<ServerRef>> Resolve(const std::string&, const std::string&) override { return std::vector<ServerRef>{}; }
  Result<std::vector<std::vector<std::string>>> DiscoverySets(const std::vector<std::string>&,
                                                              const std::optional<std::vector<std::string>>&) override {
    return std::vector<std::vector<std::string>>{};
  }
  Result<std::optional<RollingCluster>> RollingHosts(const std::string& site, const std::string& id) override {
    asked_site = site;
    if (id != kCluster) return std::optional<RollingCluster>();
    return std::optional<RollingCluster>(cluster);
  }
  RollingCluster cluster;
  std::string asked_site;
};

JobToPlan Job(const std::string& params, const std::string& scope = std::string(R"({"cluster_id":")") + kCluster + "\"}") {
  return JobToPlan{"j", "default", "cluster.rolling_update", scope, params};
}

const PlannedStep& Step(const Plan& plan, const std::string& key) {
  auto it = std::find_if(plan.begin(), plan.end(), [&](const PlannedStep& s) { return s.key == key; });
  REQUIRE(it != plan.end());
  return *it;
}

rapidjson::Document Params(const PlannedStep& s) {
  rapidjson::Document d;
  d.Parse(s.params_json.c_str());
  REQUIRE(d.IsObject());
  return d;
}

std::vector<std::string> Keys(const Plan& plan) {
  std::vector<std::string> keys;
  for (const auto& s : plan) keys.push_back(s.key);
  return keys;
}

TEST_CASE("A firmware rolling update chains each host's steps, and each host waits for the last one's exit", "[plan][rolling]") {
  ClusterDirectory dir(2);
  auto plan = PlanRollingUpdate(Job(R"({"firmware":{"method":"simple_update","image_uri":"http://127.0.0.1/fw.exe"}})"), dir);
  REQUIRE(plan.ok());
  CHECK(Keys(*plan) == std::vector<std::string>{"check:esx-1", "enter:esx-1", "firmware:esx-1", "refresh:esx-1", "exit:esx-1",
                                                "settle:esx-1", "check:esx-2", "enter:esx-2", "firmware:esx-2", "refresh:esx-2",
                                                "exit:esx-2", "settle:esx-2"});
  CHECK(Step(*plan, "check:esx-1").depends_on.empty());
  CHECK(Step(*plan, "check:esx-2").depends_on == std::vector<std::string>{"exit:esx-1"});
  for (const char* key : {"enter:esx-1", "firmware:esx-1", "refresh:esx-1", "exit:esx-1"}) {
    const auto& s = Step(*plan, key);
    const auto at = std::find_if(plan->begin(), plan->end(), [&](const PlannedStep& p) { return p.key == key; });
    CHECK(s.depends_on == std::vector<std::string>{(at - 1)->key});
  }
  // Nothing without a cancel policy of its own but the firmware (not interrupted once it runs).
  CHECK(Step(*plan, "firmware:esx-1").on_cancel == "finish");
  CHECK(Step(*plan, "enter:esx-1").on_cancel.empty());
  CHECK(Step(*plan, "exit:esx-1").on_cancel.empty());
  // The settle: once the entry and everything after it ended, however it ended (an entry that
  // timed out may have entered after all: the settle judges by the cluster's slot).
  const auto& settle = Step(*plan, "settle:esx-2");
  CHECK(settle.kind == "host.maintenance");
  CHECK(settle.on_cancel == "run");
  CHECK(settle.depends_on.empty());
  CHECK(settle.after_finished == std::vector<std::string>{"enter:esx-2", "firmware:esx-2", "refresh:esx-2", "exit:esx-2"});
  CHECK(std::string(Params(settle)["action"].GetString()) == "settle");
  CHECK(std::string(Params(settle)["_rolling"]["host_id"].GetString()) == HostId(2));
  // No cluster setting asked: nothing changed, nothing to restore.
  CHECK(std::none_of(plan->begin(), plan->end(), [](const PlannedStep& s) { return s.kind == "cluster.settings"; }));
  CHECK(Step(*plan, "enter:esx-1").target == "esxi:" + HostId(1));
  CHECK(Step(*plan, "firmware:esx-2").target == "idrac:127.0.9.2");
  CHECK(Step(*plan, "firmware:esx-2").kind == "server.firmware_update");
  CHECK(dir.asked_site == "default");

  auto fw = Params(Step(*plan, "firmware:esx-1"));
  CHECK(std::string(fw["method"].GetString()) == "simple_update");
  CHECK(std::string(fw["reboot"].GetString()) == "auto");  // applied now, while in maintenance
  CHECK(std::string(fw["_bmc"]["server_id"].GetString()) == "s1");
  CHECK(std::string(fw["_rolling"]["host"].GetString()) == "esx-1");
  CHECK(fw["_rolling"]["position"].GetInt() == 1);
  CHECK(fw["_rolling"]["of"].GetInt() == 2);

  auto enter = Params(Step(*plan, "enter:esx-2"));
  CHECK(std::string(enter["action"].GetString()) == "enter");
  CHECK(std::string(enter["_endpoint"]["id"].GetString()) == HostId(2));
  REQUIRE(enter["_pause_on"].IsArray());
  CHECK(std::string(enter["_pause_on"][0].GetString()) == "esxi.blocked");
  CHECK(enter["_refuse_found_in_maintenance"].GetBool());  // someone else's maintenance is not taken over
  auto check1 = Params(Step(*plan, "check:esx-1"));
  auto check2 = Params(Step(*plan, "check:esx-2"));
  CHECK_FALSE(check1.HasMember("_quiet_seconds"));  // the first host has nothing to settle after
  CHECK(check2["_quiet_seconds"].GetInt() == kDefaultQuietSeconds);
  CHECK(std::string(check2["_pause_on"][0].GetString()) == "*");
  auto exit = Params(Step(*plan, "exit:esx-2"));
  CHECK(std::string(exit["action"].GetString()) == "exit");
  CHECK(exit["_wait_connected_seconds"].GetInt() > 0);
  CHECK(plan->notes.empty());
}

TEST_CASE("An ESXi rolling update upgrades and reboots through vCenter, and with firmware too the firmware goes first", "[plan][rolling]") {
  ClusterDirectory dir(1);
  auto esxi = PlanRollingUpdate(Job(R"({"esxi":{"depot":"/vmfs/volumes/ds1/depot.zip","profile":"ESXi-8.0U2"},"backup":true,"quiet_seconds":0})"), dir);
  REQUIRE(esxi.ok());
  // The upgrade reboots the host itself and proves the build: no reboot step of its own.
  CHECK(Keys(*esxi) == std::vector<std::string>{"check:esx-1", "backup:esx-1", "enter:esx-1", "upgrade:esx-1", "exit:esx-1",
                                                "settle:esx-1"});
  CHECK(Step(*esxi, "upgrade:esx-1").on_cancel == "finish");  // a half-installed image is worse than either
  CHECK(Step(*esxi, "settle:esx-1").after_finished == std::vector<std::string>{"enter:esx-1", "upgrade:esx-1", "exit:esx-1"});
  CHECK(Step(*esxi, "backup:esx-1").target == "idrac:127.0.9.1");
  CHECK(std::string(Params(Step(*esxi, "upgrade:esx-1"))["profile"].GetString()) == "ESXi-8.0U2");

  auto both = PlanRollingUpdate(
      Job(R"({"firmware":{"method":"repository","catalog_url":"http://127.0.0.1/Catalog.xml"},"esxi":{"depot":"/vmfs/volumes/ds1/d.zip","profile":"P"}})"), dir);
  REQUIRE(both.ok());
  // The upgrade needs the host connected: before the firmware restart, after which only the
  // exit waits for the host to come back.
  CHECK(Keys(*both) == std::vector<std::string>{"check:esx-1", "enter:esx-1", "upgrade:esx-1", "firmware:esx-1", "refresh:esx-1",
                                                "exit:esx-1", "settle:esx-1"});

  // A host SSH is not set up for is left out of an upgrade, said why.
  dir.cluster.hosts[0].ssh_ready = false;
  auto no_ssh = PlanRollingUpdate(Job(R"({"esxi":{"depot":"/vmfs/volumes/ds1/d.zip","profile":"P"}})"), dir);
  REQUIRE_FALSE(no_ssh.ok());
  CHECK(no_ssh.error().message.find("host esx-1 is not touched: an ESXi upgrade reaches it over SSH") != std::string::npos);
  auto fw_only = PlanRollingUpdate(Job(R"({"firmware":{"method":"simple_update","image_uri":"http://127.0.0.1/f"}})"), dir);
  CHECK(fw_only.ok());  // firmware goes through the iDRAC: SSH is not needed
}

TEST_CASE("Hosts without a usable server link are left out of a firmware update, and the plan says why", "[plan][rolling]") {
  ClusterDirectory dir(3);
  dir.cluster.hosts[0].server.reset();
  dir.cluster.hosts[0].link_problem = "it is linked to no server (no BMC to update)";
  dir.cluster.hosts[1].server.reset();
  dir.cluster.hosts[1].link_problem = "its server link is in conflict: two servers share tag ABC1234";
  auto plan = PlanRollingUpdate(Job(R"({"firmware":{"method":"simple_update","image_uri":"http://127.0.0.1/f"}})"), dir);
  REQUIRE(plan.ok());
  CHECK(Keys(*plan).front() == "check:esx-3");
  CHECK(plan->size() == 6);
  REQUIRE(plan->notes.size() == 2);
  CHECK(plan->notes[0] == "host esx-1 is not touched: it is linked to no server (no BMC to update)");
  CHECK(plan->notes[1] == "host esx-2 is not touched: its server link is in conflict: two servers share tag ABC1234");

  // An ESXi upgrade reaches the host through vCenter: no BMC needed, every host is planned.
  auto esxi = PlanRollingUpdate(Job(R"({"esxi":{"depot":"/vmfs/volumes/ds/d.zip","profile":"P"}})"), dir);
  REQUIRE(esxi.ok());
  CHECK(Keys(*esxi).front() == "check:esx-1");
  CHECK(esxi->notes.empty());

  // No host left: the job fails with every reason.
  dir.cluster.hosts.pop_back();
  auto none = PlanRollingUpdate(Job(R"({"firmware":{"method":"simple_update","image_uri":"http://127.0.0.1/f"}})"), dir);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == "plan.no_targets");
  CHECK(none.error().message.find("esx-2 is not touched: its server link is in conflict") != std::string::npos);
}

TEST_CASE("The host running vCenter is planned last and a host found in maintenance is not touched", "[plan][rolling]") {
  ClusterDirectory dir(3);
  // The directory orders hosts (vCenter's own last); the planner keeps that order and says so.
  dir.cluster.hosts[2].runs_vcenter = true;
  dir.cluster.hosts[0].maintenance_mode = true;
  auto plan = PlanRollingUpdate(Job(R"({"esxi":{"depot":"/vmfs/volumes/ds/d.zip","profile":"P"}})"), dir);
  REQUIRE(plan.ok());
  CHECK(Keys(*plan) == std::vector<std::string>{"check:esx-2", "enter:esx-2", "upgrade:esx-2", "exit:esx-2", "settle:esx-2",
                                                "check:esx-3", "enter:esx-3", "upgrade:esx-3", "exit:esx-3", "settle:esx-3"});
  CHECK(Step(*plan, "check:esx-3").depends_on == std::vector<std::string>{"exit:esx-2"});
  CHECK(Params(Step(*plan, "check:esx-3"))["_rolling"]["position"].GetInt() == 2);
  REQUIRE(plan->notes.size() == 2);
  CHECK(plan->notes[0] == "host esx-1 is not touched: it is in maintenance already (out of service); update it on its own, "
                          "or bring it back first");
  CHECK(plan->notes[1] == "host esx-3 runs this vCenter's own VM: it is updated last");
}

TEST_CASE("Cluster settings the job changes are applied before the first host and restored after every other step", "[plan][rolling]") {
  ClusterDirectory dir(2);
  auto plan = PlanRollingUpdate(
      Job(R"({"firmware":{"method":"simple_update","image_uri":"http://127.0.0.1/f"},"ha_admission_control":"disable","drs_behavior":"fullyAutomated"})"),
      dir);
  REQUIRE(plan.ok());
  const auto keys = Keys(*plan);
  CHECK(keys.front() == "settings:apply");
  CHECK(keys.back() == "settings:restore");
  const auto& apply = Step(*plan, "settings:apply");
  CHECK(apply.kind == "cluster.settings");
  CHECK(apply.target == std::string("cluster:") + kCluster);
  CHECK(apply.on_cancel == "finish");  // a cancel never leaves the restore without what was found
  auto ap = Params(apply);
  CHECK(std::string(ap["action"].GetString()) == "apply");
  CHECK_FALSE(ap["ha_admission_control"].GetBool());
  CHECK(std::string(ap["drs_behavior"].GetString()) == "fullyAutomated");
  CHECK(std::string(ap["_endpoint"]["id"].GetString()) == kCluster);
  CHECK(Step(*plan, "check:esx-1").depends_on == std::vector<std::string>{"settings:apply"});
  const auto& restore = Step(*plan, "settings:restore");
  CHECK(restore.on_cancel == "run");
  CHECK(restore.depends_on.empty());
  // Every other step, however it ends: on success, on failure, on cancel.
  CHECK(restore.after_finished == std::vector<std::string>(keys.begin(), keys.end() - 1));
  auto rp = Params(restore);
  CHECK(std::string(rp["action"].GetString()) == "restore");
  CHECK_FALSE(rp["ha_admission_control"].GetBool());  // what the apply set: only that is put back

  auto keep = PlanRollingUpdate(
      Job(R"({"firmware":{"method":"simple_update","image_uri":"http://127.0.0.1/f"},"ha_admission_control":"keep","drs_behavior":"keep"})"),
      dir);
  REQUIRE(keep.ok());
  CHECK(Keys(*keep).front() == "check:esx-1");
  CHECK(std::none_of(keep->begin(), keep->end(), [](const PlannedStep& s) { return s.kind == "cluster.settings"; }));
}

TEST_CASE("Hosts go in parallel only when asked, never on vSAN, and never below what the cluster must keep up", "[plan][rolling]") {
  ClusterDirectory dir(6);
  dir.cluster.hosts[5].runs_vcenter = true;
  const std::string fw = R"("firmware":{"method":"simple_update","image_uri":"http://127.0.0.1/f"})";
  auto plan = PlanRollingUpdate(Job("{" + fw + R"(,"parallel_hosts":2})"), dir);
  REQUIRE(plan.ok());
  // Waves of two, each after every exit of the one before (a failure or a pause anywhere stops
  // the next wave); vCenter's own host after all of them, alone.
  CHECK(Step(*plan, "check:esx-1").depends_on.empty());
  CHECK(Step(*plan, "check:esx-2").depends_on.empty());
  for (const char* key : {"check:esx-3", "check:esx-4"}) {
    CHECK(Step(*plan, key).depends_on == std::vector<std::string>{"exit:esx-1", "exit:esx-2"});
  }
  CHECK(Step(*plan, "check:esx-5").depends_on == std::vector<std::string>{"exit:esx-3", "exit:esx-4"});
  CHECK(Step(*plan, "check:esx-6").depends_on == std::vector<std::string>{"exit:esx-5"});
  CHECK_FALSE(Params(Step(*plan, "check:esx-2")).HasMember("_quiet_seconds"));
  CHECK(Params(Step(*plan, "check:esx-3")).HasMember("_quiet_seconds"));
  CHECK(Params(Step(*plan, "check:esx-6")).HasMember("_quiet_seconds"));
  // Each entry may share the cluster's maintenance with the other lane.
  CHECK(Params(Step(*plan, "enter:esx-1"))["max_hosts_in_maintenance"].GetInt() == 2);

  auto one = PlanRollingUpdate(Job("{" + fw + "}"), dir);
  REQUIRE(one.ok());
  CHECK_FALSE(Params(Step(*one, "enter:esx-1")).HasMember("max_hosts_in_maintenance"));

  // 6 hosts up, 4 must stay: 2 at a time is the most.
  auto margin = PlanRollingUpdate(Job("{" + fw + R"(,"parallel_hosts":3,"min_hosts_up":4})"), dir);
  REQUIRE_FALSE(margin.ok());
  CHECK(margin.error().code == "plan.params");
  CHECK(margin.error().message.find("would leave 3 up; it needs 4") != std::string::npos);
  CHECK(PlanRollingUpdate(Job("{" + fw + R"(,"parallel_hosts":2,"min_hosts_up":4})"), dir).ok());

  dir.cluster.vsan_enabled = true;
  auto vsan = PlanRollingUpdate(Job("{" + fw + R"(,"parallel_hosts":2})"), dir);
  REQUIRE_FALSE(vsan.ok());
  CHECK(vsan.error().message.find("runs vSAN") != std::string::npos);
  CHECK(PlanRollingUpdate(Job("{" + fw + R"(,"parallel_hosts":1})"), dir).ok());
}

TEST_CASE("A rolling update's scope and params are checked before anything is planned", "[plan][rolling]") {
  ClusterDirectory dir(2);
  const std::string fw = R"({"firmware":{"method":"simple_update","image_uri":"http://127.0.0.1/f"}})";
  // create_job refuses these (the params schema); a plan made anyway refuses them too.
  auto nothing = PlanRollingUpdate(Job("{}"), dir);
  REQUIRE_FALSE(nothing.ok());
  CHECK(nothing.error().code == "plan.params");
  auto later = PlanRollingUpdate(Job(R"({"firmware":{"method":"simple_update","reboot":"next_reset"}})"), dir);
  REQUIRE_FALSE(later.ok());
  CHECK(later.error().message.find("firmware.reboot") != std::string::npos);
  auto preview = PlanRollingUpdate(Job(R"({"firmware":{"method":"simple_update","image_uri":"http://127.0.0.1/f","dry_run":true}})"), dir);
  REQUIRE_FALSE(preview.ok());
  CHECK(preview.error().message.find("firmware.dry_run") != std::string::npos);
  auto no_scope = PlanRollingUpdate(Job(fw, R"({"cluster_id":"prod"})"), dir);
  REQUIRE_FALSE(no_scope.ok());
  CHECK(no_scope.error().code == "plan.scope");
  auto unknown = PlanRollingUpdate(Job(fw, R"({"cluster_id":"c0000000-0000-0000-0000-000000000009"})"), dir);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message.find("no cluster") != std::string::npos);
}

}  // namespace
}  // namespace dcops::dispatcher
