#pragma once
// Following one object through the property collector: a PropertyFilter on the object and
// WaitForUpdatesEx long polls, so changes arrive when vCenter has them and nothing polls.
// FollowTask builds on it for vSphere tasks (info updates until success or error).
//
// One ObjectWatch per session at a time: every filter of a session shares the collector's
// version sequence, and a second watch would consume the first one's updates.
//
// Ownership: borrows the Client (which must outlive it) and destroys its filter on
// destruction. Thread-safety: one user at a time. Blocking: Next() blocks up to its wait.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dcops/common/clock.hpp"
#include "dcops/vsphere/client.hpp"

namespace dcops::vsphere {

class ObjectWatch {
 public:
  // Creates the filter; the first Next() returns every property's current value.
  static Result<std::unique_ptr<ObjectWatch>> Open(Client& client, MoRef object, std::vector<std::string> properties);
  ~ObjectWatch();
  ObjectWatch(const ObjectWatch&) = delete;
  ObjectWatch& operator=(const ObjectWatch&) = delete;

  // Waits up to `max_wait` (whole seconds; 0 answers at once) for changes; true when some arrived.
  Result<bool> Next(std::chrono::seconds max_wait);
  // The latest value of `property` (an empty node when unset or not yet read). Valid until the
  // next Next().
  pugi::xml_node Value(const std::string& property) const;
  std::string Text(const std::string& property) const { return TrimmedText(Value(property)); }
  const MoRef& object() const { return object_; }

 private:
  ObjectWatch(Client& client, MoRef object, MoRef filter) : client_(client), object_(std::move(object)), filter_(std::move(filter)) {}
  Client& client_;
  MoRef object_, filter_;
  std::string version_;
  struct Held {
    std::shared_ptr<const pugi::xml_document> document;
    pugi::xml_node node;
  };
  std::map<std::string, Held> values_;
};

// How a wait on a task ended.
enum class TaskWaitEnd {
  kFinished,  // success or error: see the TaskInfo
  kStopped,   // `stop` said so (the step was cancelled); the task may still run
  kLimit,     // `limit` passed; the task may still run
};
struct FollowedTask {
  TaskWaitEnd end = TaskWaitEnd::kFinished;
  TaskInfo info;  // the latest seen
};

// Follows `task` until it finishes, `stop()` returns true (checked between waits of at most
// `slice`), or `limit` passes on `clock`. `on_change` sees every new TaskInfo (progress).
Result<FollowedTask> FollowTask(Client& client, const MoRef& task, Clock& clock, std::chrono::milliseconds limit,
                                const std::function<bool()>& stop, const std::function<void(const TaskInfo&)>& on_change,
                                std::chrono::seconds slice = std::chrono::seconds(2));

// Watches `object` until `ready(watch)` holds, `stop()` or `limit` (as FollowTask). Returns
// whether it became ready (false: stopped or out of time; `*stopped` says which).
Result<bool> WaitForObject(Client& client, const MoRef& object, const std::vector<std::string>& properties, Clock& clock,
                           std::chrono::milliseconds limit, const std::function<bool()>& stop,
                           const std::function<bool(const ObjectWatch&)>& ready, bool* stopped = nullptr,
                           std::chrono::seconds slice = std::chrono::seconds(2));

}  // namespace dcops::vsphere
