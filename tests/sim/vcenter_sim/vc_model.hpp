#pragma once
// A simulated vCenter's inventory and sessions, protocol-independent (vc_server.cpp puts
// vim25 SOAP on it): datacenters, clusters, hosts, VMs, datastores, networks and distributed
// port groups, generated to any scale (2,500 hosts and 40,000 VMs is the benchmark estate).
//
// Change tracking is what WaitForUpdatesEx needs: a model version bumped by every change,
// each object's creation and last-change versions, and tombstones for removed objects.
//
// Tasks (objects "task-N", type "Task") are model objects too: every step of one bumps the
// version, so WaitForUpdatesEx and WaitForChange see it like any other change.
//
// Thread-safety: every public method locks; Read() and Change() run a function under the lock.
// WaitForChange() blocks on a condition variable every change notifies.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace dcops::sim::vcenter {

struct Datacenter {
  std::string name, host_folder;
};
// A Folder (type "Folder") or a standalone host's ComputeResource (type "ComputeResource").
struct Folder {
  std::string name, parent;  // parent: a Datacenter or a Folder
};
struct Cluster {
  std::string name, parent;  // parent: the datacenter's host folder, or a folder in it
  bool ha = true, drs = true, vsan = false;
  // HA admission control: "failover_level", "resources_percent", "failover_hosts" or "" (off).
  std::string admission_policy = "failover_level";
  bool admission_control = true;  // dasConfig.admissionControlEnabled (with a policy)
  int failover_level = 1;
  int cpu_reserve_percent = 25, memory_reserve_percent = 25;
  int current_cpu_percent = 70, current_memory_percent = 60;  // summary.admissionControlInfo
  std::vector<std::string> failover_hosts{};
  std::string drs_behavior = "fullyAutomated";
  std::map<std::string, std::string> drs_vm_behavior{};  // VM → behavior, or "disabled"
  struct Rule {
    std::string name;
    bool enabled = true, mandatory = true;
    std::vector<std::string> vms{}, affine_hosts{}, anti_affine_hosts{};
  };
  std::vector<Rule> rules{};  // VM-host rules (each with its own VM and host groups)
};
struct Host {
  std::string name, cluster;  // cluster "" for a standalone host (parent: a ComputeResource)
  std::string vendor = "Dell Inc.", model = "PowerEdge R750", uuid, service_tag, serial;
  bool tag_in_identifying_info = true;  // false: only systemInfo.serialNumber carries it (a quirk)
  std::string version = "8.0.2", build = "22380479";
  std::string connection_state = "connected", power_state = "poweredOn";
  bool maintenance = false;
  std::string boot_time = "2026-11-01T08:00:00Z";  // runtime.bootTime (xsd:dateTime, UTC)
};
struct Vm {
  std::string name, host, power_state = "poweredOn", guest_full_name = "Ubuntu Linux (64-bit)";
  int num_cpu = 2, memory_mb = 4096;
  std::string instance_uuid, guest_hostname;
  std::vector<std::string> ips, datastores;
  std::string tools_status = "guestToolsRunning";
  std::string fault_tolerance = "notConfigured";  // runtime.faultToleranceState
  int passthrough = 0, vgpu = 0;                  // VirtualPCIPassthrough devices
  struct Media {
    std::string kind = "cdrom", backing = "remote", datastore{};  // backing: host_device, file, remote
    bool connected = false;
  };
  std::vector<Media> media{};
  bool migration_stalls = false;  // a vMotion of it never completes (a broken vMotion network)
};
struct Datastore {
  std::string name, type = "VMFS";
  std::int64_t capacity = 0, free = 0;
  bool accessible = true;
  std::vector<std::string> hosts{};  // mounted on these hosts; empty: every host
};
struct Network {
  std::string name;
  bool distributed = false;  // a DistributedVirtualPortgroup (with a VLAN) rather than a Network
  int vlan = 0;
};
// A vSphere task (type "Task", moref "task-N"): what TaskInfo reports. Not a ManagedEntity:
// no view holds one.
struct Task {
  std::string description_id, entity, entity_name, state = "queued";  // queued, running, success, error
  int progress = 0;  // reported only while running
  bool cancelable = true, cancelled = false;
  std::string error_type, error_message;  // the fault (Timedout, RequestCanceled) when state is error
  std::string queue_time, start_time, complete_time;  // xsd:dateTime, "" when not yet
  std::string vsan_mode;  // EnterMaintenanceMode: maintenanceSpec.vsanMode.objectAction ("" when not given)
  std::string entity_type = "HostSystem";
  std::string user;  // TaskInfo.reason (TaskReasonUser.userName)
};
// A host's HostServiceSystem ("serviceSystem-<host moref>"): the services vCenter starts and
// stops on it; SSH (TSM-SSH) is what the upgrade step needs.
struct ServiceSystem {
  std::string host;
  bool ssh_running = false;
  std::string ssh_policy = "off";  // on, off, automatic
};
using Body = std::variant<Datacenter, Cluster, Host, Vm, Datastore, Network, Folder, Task, ServiceSystem>;

struct Object {
  std::string type;  // the managed object type: "HostSystem", "DistributedVirtualPortgroup", …
  std::string moref;
  std::uint64_t created = 0, changed = 0;
  Body body;
};

struct Tombstone {
  std::string type, moref;
  std::uint64_t created = 0, removed = 0;
};

struct Estate {
  int datacenters = 2;
  int hosts = 40;
  int hosts_per_cluster = 16;
  int vms_per_host = 16;
  int datastores = 8;
  int networks = 6;  // half of them distributed port groups
  int standalone_hosts = 1;
  std::string service_tag_prefix = "VC";  // host n's tag: <prefix><n, 5 digits>
  std::vector<std::string> service_tags;  // or the n-th of these (servers the hosts run on)
  // Non-empty: hosts report this one tag as otherIdentifyingInfo ServiceTag (vSphere's own
  // simulators and some OEM builds do), while their UUIDs and serial numbers (serialNumber,
  // EnclosureSerialNumberTag: the tag each would have had otherwise) stay distinct.
  std::string shared_service_tag;
  int shared_tag_hosts = 0;  // how many hosts, from the first, report it; 0: every host
  // Host n's hardware as a given fleet has it (n < size): its non-empty fields replace the
  // generated vendor, service tag, serial number and SMBIOS UUID (HPE hardware under ESXi,
  // hosts that run on a simulated BMC fleet's servers). A make other than Dell reports no
  // service tag unless one is given.
  struct Hardware {
    std::string vendor, service_tag, serial, uuid;
  };
  std::vector<Hardware> hardware;
};

// True when an object of `type` is in a view of `view_type` (a port group is a Network). A Task
// is no ManagedEntity: it is only ever a Task.
bool IsA(const std::string& type, const std::string& view_type);

// How long the simulated vCenter's tasks take.
struct Timings {
  std::chrono::milliseconds migration{150};    // one VM's vMotion while a host enters maintenance mode
  std::chrono::milliseconds exit{100};         // ExitMaintenanceMode
  std::chrono::milliseconds reboot_down{300};  // RebootHost/ShutdownHost: until the host stops answering
  std::chrono::milliseconds reboot_up{600};    // RebootHost: until it is connected again
  // A task's timeout argument (EnterMaintenanceMode's, ExitMaintenanceMode's) passes this much
  // faster: 0.02 makes vCenter's 60 s pass in 1.2 s.
  double timeout_scale = 1.0;
  // Called under the model's lock when a rebooted host is connected again (a test applies the
  // build an update installed, as the new boot would run it).
  std::function<void(const std::string& host, Host& h)> on_boot{};
};

// xsd:dateTime in UTC with milliseconds ("2026-12-03T22:18:34.123Z"), and back (nullopt when
// it is not one).
std::string FormatDateTime(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> ParseDateTime(const std::string& text);

class Model {
 public:
  explicit Model(Estate estate, std::string username = "sync@vsphere.local", std::string password = "vc-pass");

  // ---- sessions
  std::optional<std::string> Login(const std::string& user, const std::string& password);  // a session key
  bool Valid(const std::string& session) const;
  void Logout(const std::string& session);
  void ExpireSessions();  // vCenter restarted: every session is gone
  int SessionCount() const;

  // ---- reads (under the lock)
  std::uint64_t version() const;
  // Blocks until version() > after_version (true) or max_wait passes (false). The overload also
  // ends (false unless changed) once `*abort` is true and WakeWaiters() is called.
  bool WaitForChange(std::uint64_t after_version, std::chrono::milliseconds max_wait) const;
  bool WaitForChange(std::uint64_t after_version, std::chrono::milliseconds max_wait, const std::atomic<bool>* abort) const;
  void WakeWaiters() const;  // a server or task engine stopping: waiters re-check their abort flag
  std::optional<Object> Get(const std::string& moref) const;
  std::vector<std::string> TasksOn(const std::string& entity) const;  // task morefs, in creation order
  int MaintenanceEntries() const;  // EnterMaintenanceMode tasks ever created
  const std::string& username() const { return username_; }
  void SetTimings(Timings t);
  Timings timings() const;
  void Read(const std::function<void(const std::map<std::string, Object>& objects,
                                     const std::vector<Tombstone>& tombstones, std::uint64_t version)>& fn) const;
  std::vector<Object> Objects(const std::string& view_type) const;

  // ---- changes (each bumps the version)
  std::string AddHost(const std::string& cluster, const std::string& service_tag);
  void RemoveObject(const std::string& moref);
  void MoveHost(const std::string& host, const std::string& cluster);
  void SetMaintenance(const std::string& host, bool on);
  void SetVmPower(const std::string& vm, const std::string& state);
  // Any other change to one object (a test's estate): `fn` edits it under the lock.
  void Edit(const std::string& moref, const std::function<void(Object&)>& fn);  // a powered-off VM has no guest identity
  // Changes `count` VMs' power state (the incremental benchmark's "10 changes").
  std::vector<std::string> TouchVms(int count);

  // Several objects changed at once (a task's end with its host's state): `fn` runs under the
  // lock; what it edits or adds gets one new version together (none when it changed nothing).
  class Writer {
   public:
    const Object* Get(const std::string& moref) const;
    Object* Edit(const std::string& moref);  // nullptr when absent; the object counts as changed
    std::string AddTask(Task task);          // a new "task-N" (its entity's recentTask changes too)
    const std::map<std::string, Object>& objects() const;

   private:
    friend class Model;
    explicit Writer(Model& model) : model_(model) {}
    Model& model_;
    std::set<std::string> edited_;
  };
  void Change(const std::function<void(Writer&)>& fn);

 private:
  void Put(std::string type, std::string moref, Body body);
  Object* Find(const std::string& moref);
  std::uint64_t Bump();  // a new version, waiters woken (under the lock)

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::string username_, password_;
  std::map<std::string, Object> objects_;
  std::vector<Tombstone> tombstones_;
  std::uint64_t version_ = 0;
  std::set<std::string> sessions_;
  int next_session_ = 1;
  int next_id_ = 100000;
  int next_task_ = 1;
  int maintenance_entries_ = 0;
  std::map<std::string, std::vector<std::string>> tasks_by_entity_;
  Timings timings_;
};

}  // namespace dcops::sim::vcenter
