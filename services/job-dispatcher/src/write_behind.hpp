#pragma once
// What the dispatcher's loop owes the control plane from its agents' messages: step
// completions, job events and the latest progress per step. They are collected during a loop
// round and written by Flush in one transaction: events first, so a job's "succeeded" event
// follows its steps' last words, then completions. What cannot be written stays for the next
// round; should the transaction fail with the database still there, each kind is written on
// its own so one bad batch cannot hold the others back, and a batch the database refuses
// outright is dropped with an error (its steps' leases expire and they are rescued).
// Progress is a snapshot for people watching: written at most every 500 ms (a fleet refresh
// reports ~10 times per step) or with a batch that goes anyway, and dropped in an outage.
//
// Thread-safety: none. The loop collects into one (DispatchCore::pending) and hands it to the
// BackgroundWriter's own, which its thread flushes. Blocking: Flush writes.
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "control_plane.hpp"
#include "dcops/common/log.hpp"

namespace dcops::dispatcher {

class WriteBehind {
 public:
  explicit WriteBehind(const Logger& log) : log_(log) {}
  void Event(EventRecord e) { events_.push_back(std::move(e)); }
  void Completion(dispatcher::Completion c) { completions_.push_back(std::move(c)); }
  // Replaces the step's earlier report, if it was not written yet.
  void Progress(ProgressReport p) { progress_[p.task_id] = std::move(p); }
  bool HasCompletions() const { return !completions_.empty(); }
  // Anything at all still to write (progress snapshots included).
  bool Holds() const { return !events_.empty() || !completions_.empty() || !progress_.empty(); }
  // Moves everything `newer` holds in behind what this holds (BackgroundWriter's hand-over):
  // events and completions keep their order; a newer progress report replaces an older one.
  void TakeFrom(WriteBehind& newer);
  // What waits to be written (for tests of what a message led to).
  const std::vector<EventRecord>& events() const { return events_; }
  const std::vector<dispatcher::Completion>& completions() const { return completions_; }
  // True when it wrote (or tried to write) anything: what a console shows may have changed.
  bool Flush(ControlPlane& cp, db::Connection& conn);

 private:
  static constexpr std::chrono::milliseconds kProgressEvery{500};
  const Logger& log_;
  std::vector<dispatcher::Completion> completions_;
  std::vector<EventRecord> events_;
  std::map<std::string, ProgressReport> progress_;
  std::chrono::steady_clock::time_point last_progress_flush_{};
};

}  // namespace dcops::dispatcher
