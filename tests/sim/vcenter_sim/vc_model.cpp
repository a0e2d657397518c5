#include "vc_model.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <ctime>

namespace dcops::sim::vcenter {

bool IsA(const std::string& type, const std::string& view_type) {
  if (type == view_type) return true;
  if (type == "Task" || type == "HostServiceSystem") return false;  // no ManagedEntity
  if (view_type == "Network") return type == "DistributedVirtualPortgroup";
  if (view_type == "ComputeResource") return type == "ClusterComputeResource";
  if (view_type == "ManagedEntity") return true;
  return false;
}

Model::Model(Estate e, std::string username, std::string password)
    : username_(std::move(username)), password_(std::move(password)) {
  std::vector<std::string> folders, datastores, networks;
  std::vector<std::string> nested;  // a folder inside each host folder: clusters live at both depths
  for (int d = 0; d < e.datacenters; ++d) {
    const std::string dc = fmt::format("datacenter-{}", 1 + d);
    const std::string folder = fmt::format("group-h{}", 10 + d);
    folders.push_back(folder);
    nested.push_back(fmt::format("group-h{}", 100 + d));
    Put("Datacenter", dc, Datacenter{fmt::format("dc-{:02d}", d + 1), folder});
    Put("Folder", folder, Folder{"host", dc});
    Put("Folder", nested.back(), Folder{"production", folder});
  }
  for (int i = 0; i < e.datastores; ++i) {
    const std::string moref = fmt::format("datastore-{}", 100 + i);
    datastores.push_back(moref);
    const std::int64_t tib = std::int64_t{1} << 40;
    Put("Datastore", moref, Datastore{fmt::format("ds-{:03d}", i), i % 4 == 3 ? "vsan" : "VMFS", 8 * tib, (8 - i % 7) * tib / 2, i % 10 != 9});
  }
  for (int i = 0; i < e.networks; ++i) {
    const bool dvpg = i % 2 == 1;
    const std::string moref = fmt::format("{}-{}", dvpg ? "dvportgroup" : "network", 200 + i);
    networks.push_back(moref);
    Put(dvpg ? "DistributedVirtualPortgroup" : "Network", moref, Network{fmt::format("pg-{:03d}", i), dvpg, dvpg ? 100 + i : 0});
  }
  const int clustered = e.hosts - e.standalone_hosts;
  const int clusters = std::max(1, (clustered + e.hosts_per_cluster - 1) / e.hosts_per_cluster);
  for (int c = 0; c < clusters; ++c) {
    const auto& parent = c % 3 == 2 ? nested : folders;
    Put("ClusterComputeResource", fmt::format("domain-c{}", 1000 + c),
        Cluster{fmt::format("cluster-{:03d}", c), parent[static_cast<std::size_t>(c) % parent.size()], true, c % 3 != 2, c % 4 == 0});
  }
  int vm = 0;
  for (int h = 0; h < e.hosts; ++h) {
    Host host;
    host.name = fmt::format("esx-{:05d}.lab", h);
    host.cluster = h < clustered ? fmt::format("domain-c{}", 1000 + h / e.hosts_per_cluster) : "";
    host.uuid = fmt::format("4c4c4544-0000-1000-8000-{:012d}", h);
    host.service_tag = h < static_cast<int>(e.service_tags.size()) ? e.service_tags[static_cast<std::size_t>(h)]
                                                                   : fmt::format("{}{:05d}", e.service_tag_prefix, h);
    host.serial = host.service_tag;
    host.tag_in_identifying_info = h % 5 != 4;
    if (!e.shared_service_tag.empty() && (e.shared_tag_hosts <= 0 || h < e.shared_tag_hosts)) {
      host.service_tag = e.shared_service_tag;  // the serial keeps the host's own
      host.tag_in_identifying_info = true;
    }
    if (h < static_cast<int>(e.hardware.size())) {
      const auto& hw = e.hardware[static_cast<std::size_t>(h)];
      if (!hw.vendor.empty()) host.vendor = hw.vendor;
      if (!hw.service_tag.empty()) host.service_tag = hw.service_tag;
      if (!hw.serial.empty()) host.serial = hw.serial;
      if (!hw.uuid.empty()) host.uuid = hw.uuid;
      // Other makes' hosts carry no Dell service tag; a tag given is reported.
      if (!hw.vendor.empty() && hw.vendor.find("Dell") == std::string::npos) host.tag_in_identifying_info = false;
      if (!hw.service_tag.empty()) host.tag_in_identifying_info = true;
    }
    host.maintenance = h % 50 == 49;
    host.build = h % 3 == 0 ? "22380479" : "21813344";
    host.version = h % 3 == 0 ? "8.0.2" : "8.0.1";
    const std::string moref = fmt::format("host-{}", 5000 + h);
    if (host.cluster.empty()) Put("ComputeResource", "domain-s" + moref.substr(5), Folder{host.name, folders[0]});
    Put("HostSystem", moref, host);
    Put("HostServiceSystem", "serviceSystem-" + moref, ServiceSystem{moref});
    for (int v = 0; v < e.vms_per_host; ++v, ++vm) {
      Vm m;
      m.name = fmt::format("vm-{:06d}", vm);
      m.host = moref;
      m.instance_uuid = fmt::format("5003{:04x}-0000-4000-8000-{:012d}", vm % 65536, vm);
      m.num_cpu = 1 << (vm % 4);
      m.memory_mb = 2048 * (1 + vm % 8);
      m.datastores = {datastores[vm % datastores.size()]};
      if (vm % 9 == 8) {
        m.power_state = "poweredOff";
        m.tools_status = "guestToolsNotRunning";
      } else {
        m.guest_hostname = m.name + ".lab";
        m.ips = {fmt::format("127.{}.{}.{}", 200 + vm / 65536, vm / 256 % 256, vm % 256)};
      }
      Put("VirtualMachine", fmt::format("vm-{}", 100000 + vm), m);
    }
  }
  next_id_ = 100000 + vm;
}

std::string FormatDateTime(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
}

std::optional<std::chrono::system_clock::time_point> ParseDateTime(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  std::size_t at = static_cast<std::size_t>(consumed);
  int ms = 0, digits = 0;
  if (at < text.size() && text[at] == '.') {
    for (++at; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, ++digits) {
      if (digits < 3) ms = ms * 10 + (text[at] - '0');
    }
    for (int d = digits; d < 3; ++d) ms *= 10;
  }
  if (at + 1 != text.size() || text[at] != 'Z') return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::time_t secs = timegm(&tm);
  return std::chrono::system_clock::from_time_t(secs) + std::chrono::milliseconds(ms);
}

std::uint64_t Model::Bump() {
  ++version_;
  changed_.notify_all();
  return version_;
}

void Model::Put(std::string type, std::string moref, Body body) {
  Bump();
  Object o{std::move(type), moref, version_, version_, std::move(body)};
  objects_[moref] = std::move(o);
}

Object* Model::Find(const std::string& moref) {
  auto it = objects_.find(moref);
  return it == objects_.end() ? nullptr : &it->second;
}

std::optional<std::string> Model::Login(const std::string& user, const std::string& password) {
  std::lock_guard lock(mu_);
  if (user != username_ || password != password_) return std::nullopt;
  std::string key = fmt::format("52{:06d}-5b1e-4a7c-9d2f-e6a1c0{:06d}", next_session_, next_session_);
  ++next_session_;
  sessions_.insert(key);
  return key;
}

bool Model::Valid(const std::string& session) const {
  std::lock_guard lock(mu_);
  return sessions_.count(session) != 0;
}

void Model::Logout(const std::string& session) {
  std::lock_guard lock(mu_);
  sessions_.erase(session);
}

void Model::ExpireSessions() {
  std::lock_guard lock(mu_);
  sessions_.clear();
}

int Model::SessionCount() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(sessions_.size());
}

std::uint64_t Model::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

bool Model::WaitForChange(std::uint64_t after_version, std::chrono::milliseconds max_wait) const {
  return WaitForChange(after_version, max_wait, nullptr);
}

bool Model::WaitForChange(std::uint64_t after_version, std::chrono::milliseconds max_wait, const std::atomic<bool>* abort) const {
  std::unique_lock lock(mu_);
  if (max_wait.count() > 0) {
    const auto deadline = std::chrono::steady_clock::now() + max_wait;
    changed_.wait_until(lock, deadline, [&] { return version_ > after_version || (abort != nullptr && abort->load()); });
  }
  return version_ > after_version;
}

void Model::WakeWaiters() const {
  std::lock_guard lock(mu_);
  changed_.notify_all();
}

std::optional<Object> Model::Get(const std::string& moref) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(moref);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Model::TasksOn(const std::string& entity) const {
  std::lock_guard lock(mu_);
  auto it = tasks_by_entity_.find(entity);
  return it == tasks_by_entity_.end() ? std::vector<std::string>{} : it->second;
}

int Model::MaintenanceEntries() const {
  std::lock_guard lock(mu_);
  return maintenance_entries_;
}

void Model::SetTimings(Timings t) {
  std::lock_guard lock(mu_);
  timings_ = t;
}

Timings Model::timings() const {
  std::lock_guard lock(mu_);
  return timings_;
}

const Object* Model::Writer::Get(const std::string& moref) const {
  auto it = model_.objects_.find(moref);
  return it == model_.objects_.end() ? nullptr : &it->second;
}

Object* Model::Writer::Edit(const std::string& moref) {
  Object* o = model_.Find(moref);
  if (o != nullptr) edited_.insert(moref);
  return o;
}

std::string Model::Writer::AddTask(Task task) {
  const std::string moref = fmt::format("task-{}", model_.next_task_++);
  if (task.description_id == "HostSystem.enterMaintenanceMode") ++model_.maintenance_entries_;
  model_.tasks_by_entity_[task.entity].push_back(moref);
  if (model_.Find(task.entity) != nullptr) edited_.insert(task.entity);  // its recentTask
  model_.objects_[moref] = Object{"Task", moref, 0, 0, std::move(task)};
  edited_.insert(moref);
  return moref;
}

const std::map<std::string, Object>& Model::Writer::objects() const { return model_.objects_; }

void Model::Change(const std::function<void(Writer&)>& fn) {
  std::lock_guard lock(mu_);
  Writer w(*this);
  fn(w);
  if (w.edited_.empty()) return;
  const std::uint64_t v = Bump();
  for (const auto& moref : w.edited_) {
    if (Object* o = Find(moref)) {
      if (o->created == 0) o->created = v;
      o->changed = v;
    }
  }
}

void Model::Read(const std::function<void(const std::map<std::string, Object>&, const std::vector<Tombstone>&,
                                          std::uint64_t)>& fn) const {
  std::lock_guard lock(mu_);
  fn(objects_, tombstones_, version_);
}

std::vector<Object> Model::Objects(const std::string& view_type) const {
  std::lock_guard lock(mu_);
  std::vector<Object> out;
  for (const auto& [_, o] : objects_) {
    if (IsA(o.type, view_type)) out.push_back(o);
  }
  return out;
}

std::string Model::AddHost(const std::string& cluster, const std::string& service_tag) {
  std::lock_guard lock(mu_);
  Host h;
  const int n = next_id_++;
  h.name = fmt::format("esx-new-{}.lab", n);
  h.cluster = cluster;
  h.uuid = fmt::format("4c4c4544-0000-1000-8000-{:012d}", n);
  h.service_tag = service_tag;
  h.serial = service_tag;
  const std::string moref = fmt::format("host-{}", n);
  Put("HostSystem", moref, h);
  Put("HostServiceSystem", "serviceSystem-" + moref, ServiceSystem{moref});
  return moref;
}

void Model::RemoveObject(const std::string& moref) {
  std::lock_guard lock(mu_);
  Object* o = Find(moref);
  if (o == nullptr) return;
  Bump();
  tombstones_.push_back({o->type, moref, o->created, version_});
  objects_.erase(moref);
}

void Model::MoveHost(const std::string& host, const std::string& cluster) {
  std::lock_guard lock(mu_);
  if (Object* o = Find(host)) {
    std::get<Host>(o->body).cluster = cluster;
    o->changed = Bump();
  }
}

void Model::SetMaintenance(const std::string& host, bool on) {
  std::lock_guard lock(mu_);
  if (Object* o = Find(host)) {
    std::get<Host>(o->body).maintenance = on;
    o->changed = Bump();
  }
}

void Model::Edit(const std::string& moref, const std::function<void(Object&)>& fn) {
  std::lock_guard lock(mu_);
  if (Object* o = Find(moref)) {
    fn(*o);
    o->changed = Bump();
  }
}

void Model::SetVmPower(const std::string& vm, const std::string& state) {
  std::lock_guard lock(mu_);
  if (Object* o = Find(vm)) {
    auto& m = std::get<Vm>(o->body);
    m.power_state = state;
    if (state != "poweredOn") {
      m.guest_hostname.clear();
      m.ips.clear();
      m.tools_status = "guestToolsNotRunning";
    }
    o->changed = Bump();
  }
}

std::vector<std::string> Model::TouchVms(int count) {
  std::vector<std::string> touched;
  {
    std::lock_guard lock(mu_);
    for (const auto& [moref, o] : objects_) {
      if (static_cast<int>(touched.size()) == count) break;
      if (o.type == "VirtualMachine" && std::get<Vm>(o.body).power_state == "poweredOn") touched.push_back(moref);
    }
  }
  for (const auto& m : touched) SetVmPower(m, "poweredOff");
  return touched;
}

}  // namespace dcops::sim::vcenter
