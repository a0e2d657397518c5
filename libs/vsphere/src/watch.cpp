#include "dcops/vsphere/watch.hpp"

#include <algorithm>

namespace dcops::vsphere {

Result<std::unique_ptr<ObjectWatch>> ObjectWatch::Open(Client& client, MoRef object, std::vector<std::string> properties) {
  auto filter = client.WatchObject(object, properties);
  if (!filter) return filter.error();
  return std::unique_ptr<ObjectWatch>(new ObjectWatch(client, std::move(object), std::move(*filter)));
}

ObjectWatch::~ObjectWatch() {
  // A filter left behind would only live as long as the session, which the step ends anyway.
  (void)client_.DestroyFilter(filter_);
}

Result<bool> ObjectWatch::Next(std::chrono::seconds max_wait) {
  bool changed = false;
  for (;;) {
    auto set = client_.WaitForUpdates(version_, static_cast<int>(std::max<long long>(max_wait.count(), 0)), 100);
    if (!set) return set.error();
    if (!*set) return changed;
    version_ = (*set)->version;
    for (const auto& update : (*set)->objects) {
      if (update.obj.value != object_.value) continue;
      for (const auto& change : update.changes) {
        values_[change.name] = Held{(*set)->document, change.op == "remove" ? pugi::xml_node() : change.val};
        changed = true;
      }
    }
    if (!(*set)->truncated) return changed;
    max_wait = std::chrono::seconds(0);  // the rest of a truncated set is there already
  }
}

pugi::xml_node ObjectWatch::Value(const std::string& property) const {
  auto it = values_.find(property);
  return it == values_.end() ? pugi::xml_node() : it->second.node;
}

namespace {
// The next wait: at most `slice`, at most what is left, at least one second.
std::chrono::seconds NextWait(Clock& clock, Clock::SteadyTime deadline, std::chrono::seconds slice) {
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - clock.Steady());
  return std::clamp(left, std::chrono::seconds(1), slice);
}
}  // namespace

Result<FollowedTask> FollowTask(Client& client, const MoRef& task, Clock& clock, std::chrono::milliseconds limit,
                                const std::function<bool()>& stop, const std::function<void(const TaskInfo&)>& on_change,
                                std::chrono::seconds slice) {
  auto watch = ObjectWatch::Open(client, task, {"info"});
  if (!watch) return watch.error();
  const auto deadline = clock.Steady() + limit;
  FollowedTask out;
  for (bool first = true;; first = false) {
    auto changed = (*watch)->Next(first ? std::chrono::seconds(0) : NextWait(clock, deadline, slice));
    if (!changed) return changed.error();
    if (*changed) {
      const pugi::xml_node info = (*watch)->Value("info");
      if (!info) return MakeError("vsphere.managed_object_not_found", "task " + task.value + ": vCenter reports no info");
      auto parsed = ReadTaskInfo(info);
      if (!parsed) return parsed.error();
      out.info = *parsed;
      if (on_change) on_change(out.info);
      if (out.info.finished()) return out;
    }
    if (stop && stop()) {
      out.end = TaskWaitEnd::kStopped;
      return out;
    }
    if (clock.Steady() >= deadline) {
      out.end = TaskWaitEnd::kLimit;
      return out;
    }
  }
}

Result<bool> WaitForObject(Client& client, const MoRef& object, const std::vector<std::string>& properties, Clock& clock,
                           std::chrono::milliseconds limit, const std::function<bool()>& stop,
                           const std::function<bool(const ObjectWatch&)>& ready, bool* stopped, std::chrono::seconds slice) {
  if (stopped != nullptr) *stopped = false;
  auto watch = ObjectWatch::Open(client, object, properties);
  if (!watch) return watch.error();
  const auto deadline = clock.Steady() + limit;
  for (bool first = true;; first = false) {
    auto changed = (*watch)->Next(first ? std::chrono::seconds(0) : NextWait(clock, deadline, slice));
    if (!changed) return changed.error();
    if (ready(**watch)) return true;
    if (stop && stop()) {
      if (stopped != nullptr) *stopped = true;
      return false;
    }
    if (clock.Steady() >= deadline) return false;
  }
}

}  // namespace dcops::vsphere
