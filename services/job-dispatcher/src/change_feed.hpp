#pragma once
// How the console's event streams learn that something changed, without polling the
// database: the dispatcher's loop calls Publish() after a round that wrote results, events or
// progress, took a NOTIFY for its site (a job created or cancelled elsewhere), saw an agent
// come or go, or changed the limits in use; each stream waits in WaitBeyond() and then reads
// what it shows. The loop also leaves here the limits in use (JSON), which only it knows.
//
// Ownership: owned by the dispatcher, shared by the loop and the HTTP threads.
// Thread-safety: all members are thread-safe. Blocking: only WaitBeyond and WaitUntil, bounded
// by their deadline and ended early by Close().
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

namespace dcops::dispatcher {

class ChangeFeed {
 public:
  using Steady = std::chrono::steady_clock;

  // A new generation: every waiter wakes.
  void Publish();
  // Replaces the limits in use; publishes when they differ from the last.
  void SetLimits(std::string json);
  std::string Limits() const;
  std::uint64_t generation() const;
  // Blocks until the generation passes `seen`, `deadline` passes or the feed is closed;
  // returns the generation then.
  std::uint64_t WaitBeyond(std::uint64_t seen, Steady::time_point deadline);
  // Blocks until `deadline` or Close(), whatever is published (a stream's pacing).
  void WaitUntil(Steady::time_point deadline);
  // Wakes every waiter for good (the dispatcher is stopping).
  void Close();
  bool closed() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t generation_ = 0;
  bool closed_ = false;
  std::string limits_ = "[]";
};

}  // namespace dcops::dispatcher
