#include "vc_tasks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace dcops::sim::vcenter {
namespace {

constexpr const char* kInvalidState = "The operation is not allowed in the current state.";

std::string Now() { return FormatDateTime(std::chrono::system_clock::now()); }

TaskStart Refuse(const std::string& fault, const std::string& message, const std::string& detail = "") {
  return TaskStart{"", fault, message, detail};
}

TaskStart NotFound(const std::string& type, const std::string& moref) {
  return Refuse("ManagedObjectNotFound",
                fmt::format("The object 'vim.{}:{}' has already been deleted or has not been completely created", type, moref),
                fmt::format(R"(<obj type="{}">{}</obj>)", type, moref));
}

// A task's timeout in seconds (<= 0: none), scaled by Timings::timeout_scale.
std::optional<std::chrono::steady_clock::time_point> Deadline(int timeout_seconds, double scale) {
  if (timeout_seconds <= 0) return std::nullopt;
  const auto ms = static_cast<std::int64_t>(static_cast<double>(timeout_seconds) * 1000.0 * (scale > 0 ? scale : 1.0));
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
}

bool Active(const Task& t) { return t.state == "queued" || t.state == "running"; }

Task* TaskOf(Model::Writer& w, const std::string& moref) {
  Object* o = w.Edit(moref);
  return o == nullptr ? nullptr : std::get_if<Task>(&o->body);
}

// The task's end, when it is still queued or running; false when it had ended already (canceled).
bool Finish(Model::Writer& w, const std::string& task, const std::string& error_type = "", const std::string& message = "") {
  const Object* o = w.Get(task);
  const auto* now = o == nullptr ? nullptr : std::get_if<Task>(&o->body);
  if (now == nullptr || !Active(*now)) return false;
  Task* t = TaskOf(w, task);
  t->complete_time = Now();
  if (error_type.empty()) {
    t->state = "success";
    t->progress = 100;
  } else {
    t->state = "error";
    t->error_type = error_type;
    t->error_message = message;
  }
  return true;
}

// The task's state now ("" when it does not exist).
std::string StateOf(const Model& model, const std::string& task) {
  const auto o = model.Get(task);
  const auto* t = o ? std::get_if<Task>(&o->body) : nullptr;
  return t == nullptr ? "" : t->state;
}

void PowerOff(Vm& vm) {
  vm.power_state = "poweredOff";
  vm.guest_hostname.clear();
  vm.ips.clear();
  vm.tools_status = "guestToolsNotRunning";
}

// A boot time after `before`: now, or a second past `before` when the clock says otherwise.
std::string NewBootTime(const std::string& before) {
  auto now = std::chrono::system_clock::now();
  if (const auto prev = ParseDateTime(before); prev && *prev >= now) now = *prev + std::chrono::seconds(1);
  return FormatDateTime(now);
}

// Whether DRS moves `vm` (powered on: a vMotion; powered off or suspended: a reregistration)
// off its host by itself. It does not when DRS is off, or not fully automated for the VM (the
// VM's override before the cluster's default; "disabled" is DRS off for the VM); a vMotion
// besides not for a VM with DirectPath I/O or vGPU devices, with Fault Tolerance, with a CD-ROM
// or floppy connected to a host device, or whose vMotion cannot complete (a broken vMotion
// network, which nothing in the inventory shows).
bool Movable(const Vm& vm, const std::string& moref, bool powered_on, const Cluster* cluster) {
  if (cluster == nullptr || !cluster->drs) return false;
  std::string behavior = cluster->drs_behavior;
  if (auto it = cluster->drs_vm_behavior.find(moref); it != cluster->drs_vm_behavior.end()) {
    if (it->second == "disabled") return false;
    behavior = it->second;
  }
  if (behavior != "fullyAutomated") return false;
  if (!powered_on) return true;
  if (vm.migration_stalls || vm.passthrough > 0 || vm.vgpu > 0 || vm.fault_tolerance != "notConfigured") return false;
  return std::none_of(vm.media.begin(), vm.media.end(), [](const Vm::Media& m) { return m.connected && m.backing == "host_device"; });
}

// Whether `vm` may run on `target`: every datastore it uses is mounted there, and the cluster's
// enabled mandatory VM-host rules allow it.
bool Fits(const std::map<std::string, Object>& all, const Vm& vm, const std::string& moref, const std::string& target,
          const Cluster& cluster) {
  for (const auto& ds : vm.datastores) {
    auto it = all.find(ds);
    const auto* d = it == all.end() ? nullptr : std::get_if<Datastore>(&it->second.body);
    if (d != nullptr && !d->hosts.empty() && std::find(d->hosts.begin(), d->hosts.end(), target) == d->hosts.end()) return false;
  }
  for (const auto& r : cluster.rules) {
    if (!r.enabled || !r.mandatory || std::find(r.vms.begin(), r.vms.end(), moref) == r.vms.end()) continue;
    if (!r.affine_hosts.empty() && std::find(r.affine_hosts.begin(), r.affine_hosts.end(), target) == r.affine_hosts.end()) return false;
    if (std::find(r.anti_affine_hosts.begin(), r.anti_affine_hosts.end(), target) != r.anti_affine_hosts.end()) return false;
  }
  return true;
}

// What is left to move off `host`, and the next move DRS makes (vm empty: none can move now).
struct Plan {
  int remaining = 0;
  std::string vm, target;
};

Plan PlanEvacuation(const std::map<std::string, Object>& all, const std::string& host, bool evacuate_powered_off,
                    const std::set<std::string>& evacuating) {
  Plan plan;
  auto hit = all.find(host);
  const auto* h = hit == all.end() ? nullptr : std::get_if<Host>(&hit->second.body);
  if (h == nullptr) return plan;
  const Cluster* cluster = nullptr;
  if (auto c = all.find(h->cluster); !h->cluster.empty() && c != all.end()) cluster = std::get_if<Cluster>(&c->second.body);
  std::map<std::string, int> load;  // usable hosts → their VMs
  if (cluster != nullptr) {
    for (const auto& [moref, o] : all) {
      const auto* other = std::get_if<Host>(&o.body);
      if (other != nullptr && other->cluster == h->cluster && moref != host && other->connection_state == "connected" &&
          other->power_state == "poweredOn" && !other->maintenance && evacuating.count(moref) == 0) {
        load[moref] = 0;
      }
    }
    for (const auto& [_, o] : all) {
      if (const auto* vm = std::get_if<Vm>(&o.body); vm != nullptr) {
        if (auto it = load.find(vm->host); it != load.end()) ++it->second;
      }
    }
  }
  for (const auto& [moref, o] : all) {
    const auto* vm = std::get_if<Vm>(&o.body);
    if (vm == nullptr || vm->host != host) continue;
    const bool on = vm->power_state == "poweredOn";
    if (!on && !evacuate_powered_off) continue;
    ++plan.remaining;
    if (!plan.vm.empty() || !Movable(*vm, moref, on, cluster)) continue;
    std::string best;
    int fewest = 0;
    for (const auto& [target, n] : load) {
      if (!Fits(all, *vm, moref, target, *cluster)) continue;
      if (best.empty() || n < fewest) {
        best = target;
        fewest = n;
      }
    }
    if (!best.empty()) {
      plan.vm = moref;
      plan.target = best;
    }
  }
  return plan;
}

}  // namespace

TaskEngine::TaskEngine(Model& model) : model_(model) {}

TaskEngine::~TaskEngine() { Stop(); }

void TaskEngine::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void TaskEngine::Stop() {
  stop_ = true;
  model_.WakeWaiters();
  if (thread_.joinable()) thread_.join();
}

bool TaskEngine::HostBusy(const std::string& host) const {
  return std::any_of(jobs_.begin(), jobs_.end(), [&](const Job& j) { return j.host == host; });
}

TaskStart TaskEngine::Submit(Job job, Task task) {
  TaskStart out;
  model_.Change([&](Model::Writer& w) {
    const Object* o = w.Get(job.host);
    const auto* h = o == nullptr ? nullptr : std::get_if<Host>(&o->body);
    if (h == nullptr) {
      out = NotFound("HostSystem", job.host);
      return;
    }
    const bool up = h->connection_state == "connected" && h->power_state == "poweredOn";
    bool refuse = !up || HostBusy(job.host);
    switch (job.kind) {
      case Kind::kEnter: refuse = refuse || h->maintenance; break;
      case Kind::kExit: refuse = refuse || !h->maintenance; break;
      case Kind::kReboot:
      case Kind::kShutdown: refuse = refuse || (!h->maintenance && !job.force); break;
      case Kind::kReconfigure: break;  // not a host's: ReconfigureCluster submits it
    }
    if (refuse) {
      out = Refuse("InvalidState", kInvalidState);
      return;
    }
    task.entity = job.host;
    task.entity_name = h->name;
    task.queue_time = Now();
    task.user = "VSPHERE.LOCAL\\" + model_.username();
    out.task = w.AddTask(std::move(task));
  });
  if (!out.ok()) return out;
  job.task = out.task;
  job.due = Clock::now();
  jobs_.push_back(std::move(job));
  return out;
}

TaskStart TaskEngine::EnterMaintenance(const std::string& host, int timeout_seconds, bool evacuate_powered_off,
                                       const std::string& vsan_mode) {
  std::lock_guard lock(mu_);
  Job job;
  job.kind = Kind::kEnter;
  job.host = host;
  job.evacuate_powered_off = evacuate_powered_off;
  job.deadline = Deadline(timeout_seconds, model_.timings().timeout_scale);
  Task t;
  t.description_id = "HostSystem.enterMaintenanceMode";
  t.vsan_mode = vsan_mode;
  return Submit(std::move(job), std::move(t));
}

TaskStart TaskEngine::ExitMaintenance(const std::string& host, int timeout_seconds) {
  std::lock_guard lock(mu_);
  Job job;
  job.kind = Kind::kExit;
  job.host = host;
  job.deadline = Deadline(timeout_seconds, model_.timings().timeout_scale);
  Task t;
  t.description_id = "HostSystem.exitMaintenanceMode";
  return Submit(std::move(job), std::move(t));
}

TaskStart TaskEngine::Reboot(const std::string& host, bool force, bool shutdown) {
  std::lock_guard lock(mu_);
  Job job;
  job.kind = shutdown ? Kind::kShutdown : Kind::kReboot;
  job.host = host;
  job.force = force;
  Task t;
  t.description_id = shutdown ? "HostSystem.shutdown" : "HostSystem.reboot";
  t.cancelable = false;
  return Submit(std::move(job), std::move(t));
}

TaskStart TaskEngine::ReconfigureCluster(const std::string& cluster, ClusterChange change) {
  std::lock_guard lock(mu_);
  TaskStart out;
  model_.Change([&](Model::Writer& w) {
    const Object* o = w.Get(cluster);
    const auto* c = o == nullptr ? nullptr : std::get_if<Cluster>(&o->body);
    if (c == nullptr) {
      out = NotFound("ClusterComputeResource", cluster);
      return;
    }
    Task t;
    t.description_id = "ClusterComputeResource.reconfigureEx";
    t.entity = cluster;
    t.entity_name = c->name;
    t.entity_type = "ClusterComputeResource";
    t.cancelable = false;
    t.queue_time = Now();
    t.user = "VSPHERE.LOCAL\\" + model_.username();
    out.task = w.AddTask(std::move(t));
  });
  if (!out.ok()) return out;
  Job job;
  job.kind = Kind::kReconfigure;
  job.host = cluster;  // the task's entity
  job.task = out.task;
  job.change = std::move(change);
  job.due = Clock::now();
  jobs_.push_back(std::move(job));
  return out;
}

bool TaskEngine::StepReconfigure(Job& j, Clock::time_point now) {
  if (j.phase == 0) {
    model_.Change([&](Model::Writer& w) {
      if (Task* t = TaskOf(w, j.task)) {
        t->state = "running";
        t->start_time = Now();
      }
    });
    j.phase = 1;
    j.due = now + model_.timings().exit;
  }
  if (now < j.due) return true;
  model_.Change([&](Model::Writer& w) {
    if (Object* o = w.Edit(j.host)) {
      auto& c = std::get<Cluster>(o->body);
      if (j.change.admission_control) c.admission_control = *j.change.admission_control;
      if (j.change.drs_behavior) c.drs_behavior = *j.change.drs_behavior;
    }
    Finish(w, j.task);
  });
  return false;
}

TaskStart TaskEngine::Cancel(const std::string& task) {
  std::lock_guard lock(mu_);
  TaskStart out;
  model_.Change([&](Model::Writer& w) {
    const Object* o = w.Get(task);
    const auto* t = o == nullptr ? nullptr : std::get_if<Task>(&o->body);
    if (t == nullptr) {
      out = NotFound("Task", task);
    } else if (!Active(*t)) {
      out = Refuse("InvalidState", kInvalidState);
    } else if (!t->cancelable) {
      out = Refuse("NotSupported", "The operation is not supported on the object.");
    } else {
      Finish(w, task, "RequestCanceled", "The task was canceled by a user.");
      TaskOf(w, task)->cancelled = true;
    }
  });
  return out;  // the job sees its task ended at its next step
}

void TaskEngine::Run() {
  while (!stop_) {
    const std::uint64_t seen = model_.version();
    Clock::time_point next;
    {
      std::lock_guard lock(mu_);
      next = Step(Clock::now());
    }
    if (stop_) break;
    const auto now = Clock::now();
    if (next <= now) continue;
    const auto wait = std::min<Clock::duration>(next - now, std::chrono::hours(1));
    model_.WaitForChange(seen, std::chrono::duration_cast<std::chrono::milliseconds>(wait) + std::chrono::milliseconds(1), &stop_);
  }
}

TaskEngine::Clock::time_point TaskEngine::Step(Clock::time_point now) {
  auto next = Clock::time_point::max();
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    Job& j = *it;
    bool alive = false;
    switch (j.kind) {
      case Kind::kEnter: alive = StepEnter(j, now); break;
      case Kind::kExit: alive = StepExit(j, now); break;
      case Kind::kReconfigure: alive = StepReconfigure(j, now); break;
      case Kind::kReboot:
      case Kind::kShutdown: alive = StepPower(j, now); break;
    }
    if (!alive) {
      it = jobs_.erase(it);
      continue;
    }
    next = std::min(next, j.due);
    if (j.deadline) next = std::min(next, *j.deadline);
    ++it;
  }
  return next;
}

bool TaskEngine::StepEnter(Job& j, Clock::time_point now) {
  const std::string state = StateOf(model_, j.task);
  if (state != "queued" && state != "running") return false;  // canceled
  if (j.phase == 0) {
    model_.Change([&](Model::Writer& w) {
      if (Task* t = TaskOf(w, j.task)) {
        t->state = "running";
        t->start_time = Now();
      }
    });
    j.phase = 1;
  }
  if (j.deadline && now >= *j.deadline) {
    // The host stays out of maintenance mode; what moved stays moved.
    model_.Change([&](Model::Writer& w) { Finish(w, j.task, "Timedout", "Operation timed out."); });
    return false;
  }
  if (!j.moving_vm.empty()) {
    if (now < j.due) return true;
    bool moved = false;
    model_.Change([&](Model::Writer& w) {
      const Object* t = w.Get(j.task);
      const Object* vm = w.Get(j.moving_vm);
      if (t == nullptr || std::get<Task>(t->body).state != "running" || vm == nullptr || std::get<Vm>(vm->body).host != j.host) {
        return;  // canceled meanwhile, or the VM went elsewhere
      }
      std::get<Vm>(w.Edit(j.moving_vm)->body).host = j.target;
      moved = true;
    });
    if (moved) ++j.moved;
    j.moving_vm.clear();
  }
  std::set<std::string> evacuating;
  for (const auto& other : jobs_) {
    if (other.kind == Kind::kEnter) evacuating.insert(other.host);
  }
  Plan plan;
  model_.Read([&](const std::map<std::string, Object>& all, const std::vector<Tombstone>&, std::uint64_t) {
    plan = PlanEvacuation(all, j.host, j.evacuate_powered_off, evacuating);
  });
  if (plan.remaining == 0) {
    model_.Change([&](Model::Writer& w) {
      const Object* t = w.Get(j.task);
      if (t == nullptr || std::get<Task>(t->body).state != "running") return;
      if (Object* h = w.Edit(j.host)) std::get<Host>(h->body).maintenance = true;
      Finish(w, j.task);
    });
    return false;
  }
  const int progress = std::min(99, j.moved * 100 / (j.moved + plan.remaining));
  model_.Change([&](Model::Writer& w) {
    const Object* o = w.Get(j.task);
    const auto* t = o == nullptr ? nullptr : std::get_if<Task>(&o->body);
    if (t != nullptr && t->state == "running" && progress > t->progress) TaskOf(w, j.task)->progress = progress;
  });
  if (!plan.vm.empty()) {
    j.moving_vm = plan.vm;
    j.target = plan.target;
    j.due = now + model_.timings().migration;
  } else {
    j.due = Clock::time_point::max();  // stalled: until the timeout, or a change frees a VM
  }
  return true;
}

bool TaskEngine::StepExit(Job& j, Clock::time_point now) {
  const std::string state = StateOf(model_, j.task);
  if (state != "queued" && state != "running") return false;
  if (j.phase == 0) {
    model_.Change([&](Model::Writer& w) {
      if (Task* t = TaskOf(w, j.task)) {
        t->state = "running";
        t->start_time = Now();
      }
    });
    j.phase = 1;
    j.due = now + model_.timings().exit;
  }
  if (j.deadline && now >= *j.deadline && now < j.due) {
    model_.Change([&](Model::Writer& w) { Finish(w, j.task, "Timedout", "Operation timed out."); });
    return false;
  }
  if (now < j.due) return true;
  model_.Change([&](Model::Writer& w) {
    const Object* t = w.Get(j.task);
    if (t == nullptr || std::get<Task>(t->body).state != "running") return;
    if (Object* h = w.Edit(j.host)) std::get<Host>(h->body).maintenance = false;
    Finish(w, j.task);
  });
  return false;
}

bool TaskEngine::StepPower(Job& j, Clock::time_point now) {
  const Timings timings = model_.timings();
  if (j.phase == 0) {
    // vCenter reports the reboot (shutdown) started: the task succeeds, the host goes later.
    model_.Change([&](Model::Writer& w) {
      if (Task* t = TaskOf(w, j.task)) {
        t->state = "running";
        t->start_time = Now();
        Finish(w, j.task);
      }
    });
    j.phase = 1;
    j.due = now + timings.reboot_down;
  }
  if (j.phase == 1 && now >= j.due) {
    model_.Change([&](Model::Writer& w) {
      if (Object* o = w.Edit(j.host)) {
        auto& h = std::get<Host>(o->body);
        h.connection_state = "notResponding";
        h.power_state = j.kind == Kind::kShutdown ? "poweredOff" : "unknown";
      }
    });
    if (j.kind == Kind::kShutdown) return false;
    j.phase = 2;
    j.due = now + timings.reboot_up;
  }
  if (j.phase == 2 && now >= j.due) {
    model_.Change([&](Model::Writer& w) {
      Object* o = w.Edit(j.host);
      if (o == nullptr) return;
      auto& h = std::get<Host>(o->body);
      h.connection_state = "connected";
      h.power_state = "poweredOn";
      h.boot_time = NewBootTime(h.boot_time);
      if (timings.on_boot) timings.on_boot(j.host, h);
      std::vector<std::string> running;
      for (const auto& [moref, obj] : w.objects()) {
        const auto* vm = std::get_if<Vm>(&obj.body);
        if (vm != nullptr && vm->host == j.host && vm->power_state == "poweredOn") running.push_back(moref);
      }
      for (const auto& vm : running) PowerOff(std::get<Vm>(w.Edit(vm)->body));
    });
    return false;
  }
  return true;
}

}  // namespace dcops::sim::vcenter
