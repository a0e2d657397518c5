// The vCenter simulator's host tasks over real SOAP (the product's vim25 client, raw requests
// where the exact XML matters): maintenance mode entry with DRS migrations, stalls that time
// out, cancellation, exit, reboots; single-object reads and filters; WaitForUpdatesEx waits.
// Synchronisation is on the protocol (WaitForUpdatesEx) or on the model (WaitForChange).
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <set>

#include "dcops/http/transport.hpp"
#include "dcops/vsphere/client.hpp"
#include "vc_server.hpp"

namespace dcops::sim::vcenter {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// One cluster of four hosts, `vms` VMs on each (the 9th VM of the estate is powered off).
Estate Cluster4(int vms = 3) {
  Estate e;
  e.datacenters = 1;
  e.hosts = 4;
  e.hosts_per_cluster = 4;
  e.standalone_hosts = 0;
  e.vms_per_host = vms;
  e.datastores = 2;
  return e;
}

Timings Quick() {
  Timings t;
  t.migration = 30ms;
  t.exit = 30ms;
  t.reboot_down = 60ms;
  t.reboot_up = 120ms;
  return t;
}

// Waits (on the model's change notifications) until `pred` holds; false after `limit`.
bool WaitUntil(const Model& model, const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
  const auto deadline = Steady::now() + limit;
  for (;;) {
    const auto seen = model.version();
    if (pred()) return true;
    const auto now = Steady::now();
    if (now >= deadline) return false;
    model.WaitForChange(seen, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
  }
}

// Each test case its own loopback address and port: ctest runs the cases in parallel.
struct Rig {
  Model model;
  Server server;
  std::string ip;
  int port;
  http::CurlTransport transport;
  http::Client http{http::ClientOptions{}, transport, SystemClock::Instance()};
  std::unique_ptr<vsphere::Client> client_;
  vsphere::Client& client;
  std::string cluster;
  std::vector<std::string> hosts;

  Rig(const char* address, int listen_port, Estate estate = Cluster4(), Timings timings = Quick())
      : model(std::move(estate)), server(model, address, listen_port), ip(address), port(listen_port),
        client_(Start(timings)), client(*client_) {
    REQUIRE(client.Login().ok());
    for (const auto& o : model.Objects("ClusterComputeResource")) cluster = o.moref;
    for (const auto& o : model.Objects("HostSystem")) hosts.push_back(o.moref);
  }
  std::unique_ptr<vsphere::Client> Start(const Timings& timings) {
    model.SetTimings(timings);
    REQUIRE(server.Start().empty());
    return NewClient();
  }
  std::unique_ptr<vsphere::Client> NewClient() {
    vsphere::Endpoint e{fmt::format("https://{}:{}", ip, port), "sync@vsphere.local", "vc-pass", {}};
    e.tls.pinned_sha256 = server.fingerprint();
    return std::make_unique<vsphere::Client>(http, e);
  }
  const vsphere::MoRef& pc() const { return client.content().property_collector; }

  Host HostOf(const std::string& moref) const { return std::get<Host>(model.Get(moref)->body); }
  Vm VmOf(const std::string& moref) const { return std::get<Vm>(model.Get(moref)->body); }
  Task TaskOf(const std::string& moref) const { return std::get<Task>(model.Get(moref)->body); }
  std::vector<std::string> VmsOn(const std::string& host, bool powered_on_only = false) const {
    std::vector<std::string> out;
    for (const auto& o : model.Objects("VirtualMachine")) {
      const auto& vm = std::get<Vm>(o.body);
      if (vm.host == host && (!powered_on_only || vm.power_state == "poweredOn")) out.push_back(o.moref);
    }
    return out;
  }
  void EditVm(const std::string& moref, const std::function<void(Vm&)>& fn) {
    model.Edit(moref, [&](Object& o) { fn(std::get<Vm>(o.body)); });
  }

  // An *_Task operation on a host: the Task it returns.
  Result<vsphere::MoRef> StartTask(const std::string& op, const std::string& host, const std::string& body) {
    auto r = client.Call(op, {"HostSystem", host}, body);
    if (!r) return r.error();
    const pugi::xml_node v = vsphere::Child(r->element(), "returnval");
    return vsphere::MoRef{v.attribute("type").value(), v.text().get()};
  }
  Status Cancel(const std::string& task) {
    auto r = client.Call("CancelTask", {"Task", task}, "");
    if (!r) return r.error();
    return Status();
  }

  // A PropertyFilterSpec on one object itself.
  static std::string Spec(const std::string& type, const std::string& moref, const std::vector<std::string>& paths) {
    std::string p;
    for (const auto& path : paths) p += "<pathSet>" + path + "</pathSet>";
    return fmt::format(R"(<propSet><type>{0}</type>{1}</propSet><objectSet><obj type="{0}">{2}</obj><skip>false</skip></objectSet>)",
                       type, p, moref);
  }
  Result<vsphere::MoRef> Watch(vsphere::Client& c, const std::string& type, const std::string& moref, const std::vector<std::string>& paths) {
    auto r = c.Call("CreateFilter", c.content().property_collector,
                    "<spec>" + Spec(type, moref, paths) + "</spec><partialUpdates>false</partialUpdates>");
    if (!r) return r.error();
    const pugi::xml_node v = vsphere::Child(r->element(), "returnval");
    return vsphere::MoRef{v.attribute("type").value(), v.text().get()};
  }
  Result<vsphere::RetrieveResult> Read(const std::string& type, const std::string& moref, const std::vector<std::string>& paths) {
    auto r = client.Call("RetrievePropertiesEx", pc(), "<specSet>" + Spec(type, moref, paths) + "</specSet><options/>");
    if (!r) return r.error();
    return vsphere::ReadRetrieveResult(*r);
  }

  // Follows a task through a filter on its info (WaitForUpdatesEx, no polling) until it ends;
  // `seen` gets every info that arrives.
  vsphere::TaskInfo Follow(const vsphere::MoRef& task, const std::function<void(const vsphere::TaskInfo&)>& seen = {}) {
    auto filter = Watch(client, "Task", task.value, {"info"});
    REQUIRE(filter.ok());
    vsphere::TaskInfo last;
    std::string version;
    const auto deadline = Steady::now() + 30s;
    for (bool first = true; Steady::now() < deadline; first = false) {
      auto set = client.WaitForUpdates(version, first ? 0 : 10, 100);
      REQUIRE(set.ok());
      if (!*set) continue;
      version = (*set)->version;
      for (const auto& u : (*set)->objects) {
        if (u.obj.value != task.value) continue;
        for (const auto& c : u.changes) {
          if (c.name != "info") continue;
          auto info = vsphere::ReadTaskInfo(c.val);
          REQUIRE(info.ok());
          last = *info;
          if (seen) seen(last);
        }
      }
      if (last.finished()) break;
    }
    REQUIRE(client.Call("DestroyPropertyFilter", *filter, "").ok());
    return last;
  }
};

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_CASE("vcenter-sim: entering maintenance moves the running VMs one at a time to the emptiest hosts, progress rising",
          "[vcenter_sim][tasks][net]") {
  Timings t = Quick();
  t.migration = 150ms;  // room for every progress step to be seen
  Rig rig("127.0.123.1", 18601, Cluster4(), t);
  const std::string host = rig.hosts[0];
  const auto vms = rig.VmsOn(host);
  REQUIRE(vms.size() == 3);
  rig.model.SetVmPower(vms[2], "poweredOff");  // stays: evacuatePoweredOffVms not given
  auto task = rig.StartTask("EnterMaintenanceMode_Task", host, "<timeout>0</timeout>");
  REQUIRE(task.ok());
  CHECK(task->type == "Task");

  std::vector<std::string> states;
  std::vector<int> progress;
  const auto info = rig.Follow(*task, [&](const vsphere::TaskInfo& i) {
    states.push_back(i.state);
    if (i.state == "running") progress.push_back(i.progress);
  });
  CHECK(info.state == "success");
  CHECK(info.description_id == "HostSystem.enterMaintenanceMode");
  CHECK(std::is_sorted(progress.begin(), progress.end()));
  CHECK(std::count(progress.begin(), progress.end(), 50) >= 1);  // one of two moved
  CHECK(states.front() != "success");

  CHECK(rig.HostOf(host).maintenance);
  CHECK(rig.VmsOn(host) == std::vector<std::string>{vms[2]});
  // Each went to a host with the fewest VMs: two different hosts.
  const std::string first = rig.VmOf(vms[0]).host, second = rig.VmOf(vms[1]).host;
  CHECK(first != host);
  CHECK(second != host);
  CHECK(first != second);
  CHECK(rig.model.MaintenanceEntries() == 1);
  CHECK(rig.model.TasksOn(host) == std::vector<std::string>{task->value});

  const auto t0 = rig.TaskOf(task->value);
  CHECK(t0.entity == host);
  CHECK_FALSE(t0.queue_time.empty());
  CHECK_FALSE(t0.start_time.empty());
  CHECK_FALSE(t0.complete_time.empty());
  CHECK(ParseDateTime(t0.complete_time) >= ParseDateTime(t0.start_time));

  // The host's recentTask names the task; its read agrees with the model.
  auto read = rig.Read("HostSystem", host, {"runtime.inMaintenanceMode", "recentTask"});
  REQUIRE(read.ok());
  REQUIRE(read->objects.size() == 1);
  CHECK(vsphere::TrimmedText(read->objects[0].props.at("runtime.inMaintenanceMode")) == "true");
  const auto recent = vsphere::Children(read->objects[0].props.at("recentTask"), "ManagedObjectReference");
  REQUIRE(recent.size() == 1);
  CHECK(std::string(recent[0].attribute("type").value()) == "Task");
  CHECK(vsphere::TrimmedText(recent[0]) == task->value);
  CHECK(rig.server.LiveFilters() == 0);
  rig.client.Logout();
}

TEST_CASE("vcenter-sim: maintenance operations refused as vCenter refuses them", "[vcenter_sim][tasks][net]") {
  Rig rig("127.0.123.2", 18602);
  const std::string host = rig.hosts[0];

  rig.model.SetMaintenance(host, true);
  auto again = rig.StartTask("EnterMaintenanceMode_Task", host, "<timeout>0</timeout>");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == "vsphere.fault");
  CHECK(Contains(again.error().message, "InvalidState: The operation is not allowed in the current state."));

  const std::string other = rig.hosts[1];
  auto not_in = rig.StartTask("ExitMaintenanceMode_Task", other, "<timeout>0</timeout>");
  REQUIRE_FALSE(not_in.ok());
  CHECK(Contains(not_in.error().message, "InvalidState"));

  rig.model.Edit(other, [](Object& o) { std::get<Host>(o.body).connection_state = "disconnected"; });
  auto disconnected = rig.StartTask("EnterMaintenanceMode_Task", other, "<timeout>0</timeout>");
  REQUIRE_FALSE(disconnected.ok());
  CHECK(Contains(disconnected.error().message, "InvalidState"));

  auto unknown = rig.StartTask("EnterMaintenanceMode_Task", "host-1", "<timeout>0</timeout>");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == "vsphere.managed_object_not_found");

  auto missing = rig.StartTask("EnterMaintenanceMode_Task", rig.hosts[2], "");
  REQUIRE_FALSE(missing.ok());
  CHECK(Contains(missing.error().message, "InvalidRequest: Required parameter timeout is missing"));

  auto bad_mode = rig.StartTask("EnterMaintenanceMode_Task", rig.hosts[2],
                            "<timeout>0</timeout><maintenanceSpec><vsanMode><objectAction>everything</objectAction></vsanMode></maintenanceSpec>");
  REQUIRE_FALSE(bad_mode.ok());
  CHECK(bad_mode.error().code == "vsphere.invalid_argument");
  CHECK(rig.model.MaintenanceEntries() == 0);
  CHECK(rig.model.TasksOn(rig.hosts[2]).empty());

  // A vSAN mode vCenter knows is taken and recorded on the task.
  auto vsan = rig.StartTask("EnterMaintenanceMode_Task", rig.hosts[2],
                        "<timeout>0</timeout><evacuatePoweredOffVms>false</evacuatePoweredOffVms><maintenanceSpec>"
                        "<vsanMode><objectAction>evacuateAllData</objectAction></vsanMode></maintenanceSpec>");
  REQUIRE(vsan.ok());
  CHECK(rig.TaskOf(vsan->value).vsan_mode == "evacuateAllData");
  CHECK(rig.model.MaintenanceEntries() == 1);
  // While it runs, a second entry (and an exit) of that host is refused, not a second task.
  auto second = rig.StartTask("EnterMaintenanceMode_Task", rig.hosts[2], "<timeout>0</timeout>");
  REQUIRE_FALSE(second.ok());
  CHECK(Contains(second.error().message, "InvalidState"));
  CHECK(rig.model.MaintenanceEntries() == 1);
  CHECK(rig.Follow(*vsan).state == "success");
  rig.client.Logout();
}

TEST_CASE("vcenter-sim: an entry a VM cannot leave stalls, then times out with the host not in maintenance",
          "[vcenter_sim][tasks][net]") {
  Timings t = Quick();
  t.timeout_scale = 0.1;  // the 3 s timeout passes in 300 ms
  Rig rig("127.0.123.3", 18603, Cluster4(), t);
  const std::string host = rig.hosts[1];
  const auto vms = rig.VmsOn(host);
  REQUIRE(vms.size() == 3);
  rig.EditVm(vms[1], [](Vm& vm) { vm.migration_stalls = true; });  // nothing in the inventory shows it
  auto task = rig.StartTask("EnterMaintenanceMode_Task", host, "<timeout>3</timeout>");
  REQUIRE(task.ok());
  int last_progress = -1;
  const auto info = rig.Follow(*task, [&](const vsphere::TaskInfo& i) {
    if (i.state == "running") last_progress = i.progress;
  });
  CHECK(info.state == "error");
  CHECK(info.fault == "Timedout");
  CHECK(info.error == "Operation timed out.");
  CHECK_FALSE(info.cancelled);
  CHECK(last_progress == 66);  // the two others moved before the stall ran out
  CHECK_FALSE(rig.HostOf(host).maintenance);
  CHECK(rig.VmsOn(host) == std::vector<std::string>{vms[1]});  // what moved stays moved
  CHECK(rig.model.MaintenanceEntries() == 1);
  const Task end = rig.TaskOf(task->value);
  CHECK(end.error_type == "Timedout");
  CHECK(end.error_message == "Operation timed out.");
  rig.client.Logout();
}

TEST_CASE("vcenter-sim: DRS leaves VMs it cannot or may not move, and moves powered-off ones when asked", "[vcenter_sim][tasks][net]") {
  Timings t = Quick();
  t.timeout_scale = 0.1;
  Rig rig("127.0.123.4", 18604, Cluster4(5), t);
  const std::string host = rig.hosts[0];
  const auto vms = rig.VmsOn(host);
  REQUIRE(vms.size() == 5);
  rig.EditVm(vms[0], [](Vm& vm) { vm.passthrough = 1; });
  rig.model.Edit(rig.cluster, [&](Object& o) { std::get<Cluster>(o.body).drs_vm_behavior[vms[1]] = "disabled"; });
  rig.EditVm(vms[2], [](Vm& vm) { vm.media.push_back({"cdrom", "host_device", "", true}); });
  rig.model.SetVmPower(vms[3], "poweredOff");
  // vms[4] and vms[3] use a datastore only hosts[0] and hosts[2] mount: they can only go there.
  rig.EditVm(vms[4], [](Vm& vm) { vm.datastores = {"datastore-101"}; });
  rig.EditVm(vms[3], [](Vm& vm) { vm.datastores = {"datastore-101"}; });
  rig.model.Edit("datastore-101", [&](Object& o) { std::get<Datastore>(o.body).hosts = {rig.hosts[0], rig.hosts[2]}; });

  auto task = rig.StartTask("EnterMaintenanceMode_Task", host, "<timeout>2</timeout><evacuatePoweredOffVms>true</evacuatePoweredOffVms>");
  REQUIRE(task.ok());
  const auto info = rig.Follow(*task);
  CHECK(info.fault == "Timedout");
  CHECK_FALSE(rig.HostOf(host).maintenance);
  CHECK(rig.VmsOn(host) == std::vector<std::string>{vms[0], vms[1], vms[2]});
  CHECK(rig.VmOf(vms[3]).host == rig.hosts[2]);
  CHECK(rig.VmOf(vms[3]).power_state == "poweredOff");
  CHECK(rig.VmOf(vms[4]).host == rig.hosts[2]);
  CHECK(rig.TaskOf(task->value).progress == 40);

  // A cluster whose DRS only recommends: nothing moves by itself.
  rig.model.Edit(rig.cluster, [](Object& o) { std::get<Cluster>(o.body).drs_behavior = "partiallyAutomated"; });
  const std::string next = rig.hosts[1];
  const auto before = rig.VmsOn(next);
  auto manual = rig.StartTask("EnterMaintenanceMode_Task", next, "<timeout>1</timeout>");
  REQUIRE(manual.ok());
  CHECK(rig.Follow(*manual).fault == "Timedout");
  CHECK(rig.VmsOn(next) == before);
  rig.client.Logout();
}

TEST_CASE("vcenter-sim: a cancelled entry ends RequestCanceled out of maintenance, and a second cancel is InvalidState",
          "[vcenter_sim][tasks][net]") {
  Rig rig("127.0.123.5", 18605);
  const std::string host = rig.hosts[3];
  const auto vms = rig.VmsOn(host);
  rig.EditVm(vms[0], [](Vm& vm) { vm.migration_stalls = true; });
  auto task = rig.StartTask("EnterMaintenanceMode_Task", host, "<timeout>0</timeout>");
  REQUIRE(task.ok());
  // Stalled: the two others moved, the task runs on at 66 %.
  REQUIRE(WaitUntil(rig.model, [&] {
    const Task t = rig.TaskOf(task->value);
    return t.state == "running" && t.progress == 66;
  }));
  REQUIRE(rig.Cancel(task->value).ok());
  auto info = rig.client.ReadTask(*task);
  REQUIRE(info.ok());
  CHECK(info->state == "error");
  CHECK(info->fault == "RequestCanceled");
  CHECK(info->error == "The task was canceled by a user.");
  CHECK(info->cancelled);
  CHECK_FALSE(rig.HostOf(host).maintenance);

  auto twice = rig.Cancel(task->value);
  REQUIRE_FALSE(twice.ok());
  CHECK(Contains(twice.error().message, "CancelTask: InvalidState"));
  auto unknown = rig.Cancel("task-999");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == "vsphere.managed_object_not_found");

  // The host is free again: a new entry may start (the stalled VM is fixed meanwhile).
  rig.EditVm(vms[0], [](Vm& vm) { vm.migration_stalls = false; });
  auto retry = rig.StartTask("EnterMaintenanceMode_Task", host, "<timeout>0</timeout>");
  REQUIRE(retry.ok());
  CHECK(rig.Follow(*retry).state == "success");
  CHECK(rig.HostOf(host).maintenance);
  CHECK(rig.model.MaintenanceEntries() == 2);
  CHECK(rig.model.TasksOn(host) == std::vector<std::string>{task->value, retry->value});
  rig.client.Logout();
}

TEST_CASE("vcenter-sim: exiting maintenance clears the flag, and a cancelled exit leaves it", "[vcenter_sim][tasks][net]") {
  Rig rig("127.0.123.6", 18606);
  const std::string host = rig.hosts[3];
  rig.model.SetMaintenance(host, true);
  auto task = rig.StartTask("ExitMaintenanceMode_Task", host, "<timeout>0</timeout>");
  REQUIRE(task.ok());
  const auto info = rig.Follow(*task);
  CHECK(info.state == "success");
  CHECK(info.description_id == "HostSystem.exitMaintenanceMode");
  CHECK_FALSE(rig.HostOf(host).maintenance);
  auto again = rig.StartTask("ExitMaintenanceMode_Task", host, "<timeout>0</timeout>");
  REQUIRE_FALSE(again.ok());
  CHECK(Contains(again.error().message, "InvalidState"));

  Timings slow = Quick();
  slow.exit = 1h;
  rig.model.SetTimings(slow);
  rig.model.SetMaintenance(host, true);
  auto slow_exit = rig.StartTask("ExitMaintenanceMode_Task", host, "<timeout>0</timeout>");
  REQUIRE(slow_exit.ok());
  REQUIRE(WaitUntil(rig.model, [&] { return rig.TaskOf(slow_exit->value).state == "running"; }));
  REQUIRE(rig.Cancel(slow_exit->value).ok());
  CHECK(rig.TaskOf(slow_exit->value).error_type == "RequestCanceled");
  CHECK(rig.HostOf(host).maintenance);
  rig.client.Logout();
}

TEST_CASE("vcenter-sim: a reboot is refused outside maintenance without force, then the host drops and returns with a new boot time",
          "[vcenter_sim][tasks][net]") {
  Rig rig("127.0.123.7", 18607);
  const std::string host = rig.hosts[0];
  auto refused = rig.StartTask("RebootHost_Task", host, "<force>false</force>");
  REQUIRE_FALSE(refused.ok());
  CHECK(Contains(refused.error().message, "RebootHost_Task: InvalidState"));
  auto refused_shutdown = rig.StartTask("ShutdownHost_Task", host, "<force>false</force>");
  REQUIRE_FALSE(refused_shutdown.ok());
  CHECK(Contains(refused_shutdown.error().message, "InvalidState"));
  CHECK(rig.model.TasksOn(host).empty());

  rig.model.SetMaintenance(host, true);
  const std::string boot_before = rig.HostOf(host).boot_time;
  CHECK(boot_before == "2026-11-01T08:00:00Z");
  auto filter = rig.Watch(rig.client, "HostSystem", host, {"runtime.connectionState", "runtime.powerState", "runtime.bootTime"});
  REQUIRE(filter.ok());
  auto first = rig.client.WaitForUpdates("", 0, 100);
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  std::string version = (*first)->version;

  auto task = rig.StartTask("RebootHost_Task", host, "<force>false</force>");
  REQUIRE(task.ok());
  std::set<std::string> seen;  // "connectionState/powerState"
  std::map<std::string, std::string> now;
  const auto deadline = Steady::now() + 20s;
  bool down = false, back = false;
  while (!back && Steady::now() < deadline) {
    auto set = rig.client.WaitForUpdates(version, 10, 100);
    REQUIRE(set.ok());
    if (!*set) continue;
    version = (*set)->version;
    for (const auto& u : (*set)->objects) {
      CHECK(u.kind == "modify");
      for (const auto& c : u.changes) now[c.name] = vsphere::TrimmedText(c.val);
    }
    seen.insert(now["runtime.connectionState"] + "/" + now["runtime.powerState"]);
    down = down || now["runtime.connectionState"] == "notResponding";
    back = down && now["runtime.connectionState"] == "connected";
  }
  CHECK(seen.count("notResponding/unknown") == 1);
  REQUIRE(back);
  CHECK(now["runtime.powerState"] == "poweredOn");
  const auto before = ParseDateTime(boot_before), after = ParseDateTime(now["runtime.bootTime"]);
  REQUIRE(after);
  CHECK(*after > *before);
  CHECK(rig.HostOf(host).boot_time == now["runtime.bootTime"]);
  CHECK(rig.HostOf(host).maintenance);  // maintenance mode outlives a reboot
  auto info = rig.client.ReadTask(*task);
  REQUIRE(info.ok());
  CHECK(info->state == "success");
  CHECK(info->description_id == "HostSystem.reboot");

  // Forced, outside maintenance: its running VMs come back powered off.
  const std::string forced = rig.hosts[1];
  const auto running = rig.VmsOn(forced, true);
  REQUIRE_FALSE(running.empty());
  auto force = rig.StartTask("RebootHost_Task", forced, "<force>true</force>");
  REQUIRE(force.ok());
  REQUIRE(WaitUntil(rig.model, [&] {
    const Host h = rig.HostOf(forced);
    return h.connection_state == "connected" && h.boot_time != boot_before;
  }));
  for (const auto& vm : running) CHECK(rig.VmOf(vm).power_state == "poweredOff");

  // A shutdown: the host stops answering, powered off.
  const std::string off = rig.hosts[2];
  auto shutdown = rig.StartTask("ShutdownHost_Task", off, "<force>true</force>");
  REQUIRE(shutdown.ok());
  REQUIRE(WaitUntil(rig.model, [&] { return rig.HostOf(off).connection_state == "notResponding"; }));
  CHECK(rig.HostOf(off).power_state == "poweredOff");
  CHECK(rig.TaskOf(shutdown->value).description_id == "HostSystem.shutdown");
  CHECK(rig.TaskOf(shutdown->value).state == "success");
  auto gone = rig.StartTask("RebootHost_Task", off, "<force>true</force>");  // nothing answers to reboot
  REQUIRE_FALSE(gone.ok());
  CHECK(Contains(gone.error().message, "InvalidState"));
  rig.client.Logout();
}

TEST_CASE("vcenter-sim: WaitForUpdatesEx on a single Task answers when it changes, and nothing after maxWaitSeconds",
          "[vcenter_sim][tasks][net]") {
  Timings t = Quick();
  t.exit = 400ms;
  Rig rig("127.0.123.8", 18608, Cluster4(), t);
  const std::string host = rig.hosts[1];
  rig.model.SetMaintenance(host, true);
  auto task = rig.StartTask("ExitMaintenanceMode_Task", host, "<timeout>0</timeout>");
  REQUIRE(task.ok());
  auto filter = rig.Watch(rig.client, "Task", task->value, {"info.state", "info.descriptionId"});
  REQUIRE(filter.ok());
  auto first = rig.client.WaitForUpdates("", 0, 100);
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  REQUIRE((*first)->objects.size() == 1);
  CHECK((*first)->objects[0].kind == "enter");
  CHECK((*first)->objects[0].obj.type == "Task");
  std::string version = (*first)->version;

  std::string state;
  bool modified = false;
  for (int i = 0; i < 10 && state != "success"; ++i) {
    const auto start = Steady::now();
    auto set = rig.client.WaitForUpdates(version, 10, 100);
    REQUIRE(set.ok());
    CHECK(Steady::now() - start < 9s);  // it answered the change, not the end of the wait
    REQUIRE(set->has_value());
    version = (*set)->version;
    for (const auto& u : (*set)->objects) {
      modified = modified || u.kind == "modify";
      for (const auto& c : u.changes) {
        if (c.name == "info.state") state = vsphere::TrimmedText(c.val);
        if (c.name == "info.descriptionId") CHECK(vsphere::TrimmedText(c.val) == "HostSystem.exitMaintenanceMode");
      }
    }
  }
  CHECK(state == "success");
  CHECK(modified);

  // Nothing changes now: after maxWaitSeconds, no UpdateSet.
  const auto start = Steady::now();
  auto quiet = rig.client.WaitForUpdates(version, 1, 100);
  REQUIRE(quiet.ok());
  CHECK_FALSE(quiet->has_value());
  CHECK(Steady::now() - start >= 900ms);
  // A change elsewhere in the inventory is not one of this filter's: still nothing.
  rig.model.SetVmPower(rig.VmsOn(rig.hosts[0], true)[0], "poweredOff");
  auto unrelated = rig.client.WaitForUpdates(version, 1, 100);
  REQUIRE(unrelated.ok());
  CHECK_FALSE(unrelated->has_value());
  // 0 answers at once.
  auto now = rig.client.WaitForUpdates(version, 0, 100);
  REQUIRE(now.ok());

  auto negative = rig.client.Call("WaitForUpdatesEx", rig.pc(),
                                  "<version>" + version + "</version><options><maxWaitSeconds>-1</maxWaitSeconds></options>");
  REQUIRE_FALSE(negative.ok());
  CHECK(negative.error().code == "vsphere.invalid_argument");
  REQUIRE(rig.client.Call("DestroyPropertyFilter", *filter, "").ok());
  CHECK(rig.server.LiveFilters() == 0);
  rig.client.Logout();
}

TEST_CASE("vcenter-sim: a waiting WaitForUpdatesEx holds up no other request, and sees a host's change", "[vcenter_sim][tasks][net]") {
  Timings t = Quick();
  t.exit = 100ms;
  Rig rig("127.0.123.9", 18609, Cluster4(), t);
  const std::string host = rig.hosts[2];
  rig.model.SetMaintenance(host, true);
  auto filter = rig.Watch(rig.client, "HostSystem", host, {"runtime.inMaintenanceMode"});
  REQUIRE(filter.ok());
  auto first = rig.client.WaitForUpdates("", 0, 100);
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  const std::string version = (*first)->version;

  rig.server.gate().HoldNext("WaitForUpdatesEx");
  const auto start = Steady::now();
  auto waiting = std::async(std::launch::async, [&] { return rig.client.WaitForUpdates(version, 30, 100); });
  REQUIRE(rig.server.gate().WaitUntilHeld(10s));
  rig.server.gate().Release();
  // Another session reads and starts a task while the first one waits.
  auto other = rig.NewClient();
  REQUIRE(other->Login().ok());
  auto exit = other->Call("ExitMaintenanceMode_Task", {"HostSystem", host}, "<timeout>0</timeout>");
  REQUIRE(exit.ok());
  auto set = waiting.get();
  CHECK(Steady::now() - start < 25s);
  REQUIRE(set.ok());
  REQUIRE(set->has_value());
  REQUIRE((*set)->objects.size() == 1);
  const auto& u = (*set)->objects[0];
  CHECK(u.kind == "modify");
  CHECK(u.obj.value == host);
  REQUIRE(u.changes.size() == 1);
  CHECK(u.changes[0].name == "runtime.inMaintenanceMode");
  CHECK(vsphere::TrimmedText(u.changes[0].val) == "false");
  other->Logout();
  rig.client.Logout();
}

TEST_CASE("vcenter-sim: single objects read by themselves, and an unknown one is ManagedObjectNotFound naming it",
          "[vcenter_sim][tasks][net]") {
  Rig rig("127.0.123.10", 18610);
  const std::string host = rig.hosts[0];
  auto read = rig.Read("HostSystem", host, {"name", "runtime.connectionState", "runtime.bootTime", "recentTask"});
  REQUIRE(read.ok());
  REQUIRE(read->objects.size() == 1);
  const auto& o = read->objects[0];
  CHECK(o.obj.type == "HostSystem");
  CHECK(o.obj.value == host);
  CHECK(vsphere::TrimmedText(o.props.at("name")) == "esx-00000.lab");
  CHECK(vsphere::TrimmedText(o.props.at("runtime.connectionState")) == "connected");
  CHECK(vsphere::TrimmedText(o.props.at("runtime.bootTime")) == "2026-11-01T08:00:00Z");
  CHECK(vsphere::XsiType(o.props.at("runtime.bootTime")) == std::optional<std::string>("dateTime"));
  CHECK(vsphere::Children(o.props.at("recentTask"), "ManagedObjectReference").empty());

  // A Task reads like any object now (the whole TaskInfo in the WSDL's order).
  rig.model.SetMaintenance(host, true);
  auto task = rig.StartTask("ExitMaintenanceMode_Task", host, "<timeout>0</timeout>");
  REQUIRE(task.ok());
  REQUIRE(rig.Follow(*task).state == "success");
  auto info = rig.Read("Task", task->value, {"info"});
  REQUIRE(info.ok());
  REQUIRE(info->objects.size() == 1);
  std::vector<std::string> order;
  for (auto c : info->objects[0].props.at("info").children()) order.push_back(vsphere::LocalName(c));
  CHECK(order == std::vector<std::string>{"key", "task", "descriptionId", "entity", "entityName", "state", "cancelled", "cancelable",
                                          "reason", "queueTime", "startTime", "completeTime", "eventChainId"});

  // Unknown: the fault names the object (raw, to see the detail as sent).
  http::Request req;
  req.method = http::Method::kPost;
  req.url = fmt::format("https://{}:{}/sdk", rig.ip, rig.port);
  req.tls = http::TlsOptions{};
  req.tls->pinned_sha256 = rig.server.fingerprint();
  req.headers = {{"Content-Type", "text/xml; charset=utf-8"}};
  req.body = vsphere::RequestEnvelope("Login", {"SessionManager", "SessionManager"},
                                      "<userName>sync@vsphere.local</userName><password>vc-pass</password>");
  auto login = rig.http.Execute(req);
  REQUIRE(login.ok());
  const std::string cookie = login->Header("Set-Cookie").substr(0, login->Header("Set-Cookie").find(';'));
  req.headers.emplace_back("Cookie", cookie);
  req.body = vsphere::RequestEnvelope("RetrievePropertiesEx", rig.pc(),
                                      "<specSet>" + Rig::Spec("HostSystem", "host-99999", {"name"}) + "</specSet><options/>");
  auto missing = rig.http.Execute(req);
  REQUIRE(missing.ok());
  CHECK(missing->status == 500);
  CHECK(Contains(missing->body, "ManagedObjectNotFound"));
  CHECK(Contains(missing->body, R"(<obj type="HostSystem">host-99999</obj>)"));
  auto via_client = rig.Read("Task", "task-4242", {"info"});
  REQUIRE_FALSE(via_client.ok());
  CHECK(via_client.error().code == "vsphere.managed_object_not_found");
  auto no_filter = rig.Watch(rig.client, "Task", "task-4242", {"info"});
  REQUIRE_FALSE(no_filter.ok());
  CHECK(no_filter.error().code == "vsphere.managed_object_not_found");

  // Tasks are in no view: a HostSystem read still finds four hosts, and no ManagedEntity is a Task.
  int hosts = 0;
  REQUIRE(rig.client.ReadAll("HostSystem", {"name"}, 100, [&](const vsphere::RetrieveResult& page) {
    hosts += static_cast<int>(page.objects.size());
    return Status();
  }).ok());
  CHECK(hosts == 4);
  CHECK_FALSE(IsA("Task", "ManagedEntity"));
  for (const auto& e : rig.model.Objects("ManagedEntity")) CHECK(e.type != "Task");
  CHECK(rig.model.Objects("Task").size() == 1);
  rig.client.Logout();
}

TEST_CASE("vcenter-sim: xsd:dateTime round trip", "[vcenter_sim][tasks]") {
  const auto t = ParseDateTime("2026-11-01T08:00:00Z");
  REQUIRE(t);
  CHECK(FormatDateTime(*t) == "2026-11-01T08:00:00.000Z");
  CHECK(ParseDateTime("2026-12-03T22:18:34.123Z") > t);
  CHECK(FormatDateTime(*ParseDateTime("2026-12-03T22:18:34.123Z")) == "2026-12-03T22:18:34.123Z");
  CHECK_FALSE(ParseDateTime("yesterday"));
  CHECK_FALSE(ParseDateTime("2026-11-01T08:00:00"));
}

}  // namespace
}  // namespace dcops::sim::vcenter
