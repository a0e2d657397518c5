#pragma once
// The simulated vCenter's tasks on hosts: EnterMaintenanceMode (DRS evacuating the host's VMs
// one vMotion at a time), ExitMaintenanceMode, RebootHost, ShutdownHost, and Task.CancelTask.
//
// Each operation either refuses at once (the SOAP fault vCenter answers: InvalidState,
// ManagedObjectNotFound, NotSupported) or creates a Task in the Model (state queued) and hands
// it to the engine's thread, which moves it on in simulated time (Model::timings()):
// queued → running → success or error. Every step is a Model change, so WaitForUpdatesEx and
// Model::WaitForChange see it.
//
// Entering maintenance mode, as vCenter with DRS does it: the powered-on VMs (and, with
// evacuatePoweredOffVms, the powered-off and suspended ones) move one at a time, each to the
// usable host of the same cluster (connected, powered on, not in or entering maintenance mode,
// holding the VM's datastores, allowed by the cluster's mandatory VM-host rules) with the fewest
// VMs; progress is the share moved. A VM that cannot move (see Blocker in vc_tasks.cpp) leaves
// the task running at its progress until the timeout: then error Timedout, the host not in
// maintenance mode and the VMs moved so far where they went. A change to the model (a test
// powering the VM off, clearing its blocker) is looked at again at once.
//
// Thread-safety: every public method may be called from any thread. Lock order: the engine's
// mutex, then the Model's.
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "vc_model.hpp"

namespace dcops::sim::vcenter {

// What an operation answers: a task, or the fault vCenter sends instead.
struct TaskStart {
  std::string task;                    // "task-N" (empty on a fault, and for a CancelTask that worked)
  std::string fault, message, detail;  // fault type ("InvalidState"), faultstring, the fault's content
  bool ok() const { return fault.empty(); }
};

class TaskEngine {
 public:
  explicit TaskEngine(Model& model);
  ~TaskEngine();
  TaskEngine(const TaskEngine&) = delete;
  TaskEngine& operator=(const TaskEngine&) = delete;
  void Start();
  void Stop();  // tasks still running stay as they are

  // HostSystem.EnterMaintenanceMode_Task: `timeout_seconds` <= 0 is no timeout; `vsan_mode` is
  // maintenanceSpec.vsanMode.objectAction ("" when not given), recorded on the task.
  TaskStart EnterMaintenance(const std::string& host, int timeout_seconds, bool evacuate_powered_off,
                             const std::string& vsan_mode);
  TaskStart ExitMaintenance(const std::string& host, int timeout_seconds);
  // RebootHost_Task (shutdown false) and ShutdownHost_Task.
  TaskStart Reboot(const std::string& host, bool force, bool shutdown);
  // ClusterComputeResource.ReconfigureComputeResource_Task (modify=true): the settings named
  // change when the task ends (after Timings::exit), not when it is asked for, as vCenter
  // applies a reconfiguration while its task runs.
  struct ClusterChange {
    std::optional<bool> admission_control;
    std::optional<std::string> drs_behavior;
  };
  TaskStart ReconfigureCluster(const std::string& cluster, ClusterChange change);
  // Task.CancelTask: an empty TaskStart when the task was canceled.
  TaskStart Cancel(const std::string& task);

 private:
  using Clock = std::chrono::steady_clock;
  enum class Kind { kEnter, kExit, kReboot, kShutdown, kReconfigure };
  struct Job {
    Kind kind = Kind::kEnter;
    std::string task, host;
    bool evacuate_powered_off = false;  // EnterMaintenanceMode
    bool force = false;                 // RebootHost, ShutdownHost
    std::optional<Clock::time_point> deadline;  // the task's timeout
    Clock::time_point due;                      // when it next has something to do
    int phase = 0;                              // 0: queued; then per kind
    std::string moving_vm, target;              // the vMotion in flight
    int moved = 0;
    ClusterChange change;                       // ReconfigureComputeResource
  };

  void Run();
  // Moves every job on as far as `now` allows; returns when the next one is due.
  Clock::time_point Step(Clock::time_point now);
  bool StepEnter(Job& j, Clock::time_point now);  // false: the job is over
  bool StepExit(Job& j, Clock::time_point now);
  bool StepPower(Job& j, Clock::time_point now);
  bool StepReconfigure(Job& j, Clock::time_point now);
  bool HostBusy(const std::string& host) const;  // under mu_
  TaskStart Submit(Job job, Task task);           // under mu_

  Model& model_;
  std::mutex mu_;
  std::vector<Job> jobs_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace dcops::sim::vcenter
