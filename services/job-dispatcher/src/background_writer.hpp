#pragma once
// Writes what the dispatcher's loop collected from its agents (completions, events, progress:
// WriteBehind) on a thread of its own, through a database connection of its own, so the loop
// does not wait for those writes to finish. A step's completion costs the control plane ~2 ms (its job's counters,
// its dependents released, its job finished); written from the loop, it held up the planning
// and claiming of the next job's step behind it (pickup p50 4.9 ms, of which ~2 ms was the
// previous job's completion; docs/BENCHMARKS.md, issue 23).
//
// What it takes is written in the order it was handed over, one hand-over after another, each
// as WriteBehind::Flush writes it (one transaction; kinds on their own when that fails). What
// the database did not take stays, ahead of anything handed over later, and is tried again
// every `retry` until it is written or the writer stops. Nothing here decides what a
// completion means: the SQL checks each one's lease, as it did when the loop wrote them.
//
// Owned by the dispatcher (Dispatcher::Impl). Thread-safety: every method but Stop is safe from
// any thread. An exception from the write is logged and the write tried again. Blocking: Hand
// never blocks on the database; WaitUntilWritten and Stop block up to the time they are given.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "write_behind.hpp"

namespace dcops::dispatcher {

class BackgroundWriter {
 public:
  // Writes `pending` (what it cannot write stays in it); true when it wrote anything. Called on
  // the writer's thread only. The dispatcher's: WriteBehind::Flush on the writer's own connection.
  using WriteFn = std::function<bool(WriteBehind& pending)>;
  // Called on the writer's thread after each write that wrote anything (consoles look again).
  using WrittenFn = std::function<void()>;

  // `log` says what WriteBehind drops (a batch the control plane refuses outright).
  BackgroundWriter(const Logger& log, WriteFn write, WrittenFn written,
                   std::chrono::milliseconds retry = std::chrono::milliseconds(200));
  ~BackgroundWriter();  // Stop(0) when Stop was not called
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;

  // Takes everything `collected` holds, leaving it empty, and wakes the writer.
  void Hand(WriteBehind& collected);
  // True once no completion handed over is still unwritten (or being written), waiting up to
  // `wait` for it. A dispatcher about to lead checks it: a step whose completion is still
  // unwritten would look held and be adopted.
  bool WaitUntilWritten(std::chrono::milliseconds wait);
  // True while writes have been held back (an attempt did not get them in) for at least
  // `for_at_least`: the loop rescues no expired step meanwhile, since a step whose completion
  // waits here has ended. A write in flight is not held back yet.
  bool Stalled(std::chrono::milliseconds for_at_least);
  // Writes what is left (one attempt at once unless `grace` is 0, then every `retry`) for up
  // to `grace`, then stops the thread. Returns how many completions were left unwritten (their steps are
  // rescued when their leases expire). Idempotent; call it from one thread.
  std::size_t Stop(std::chrono::milliseconds grace);

 private:
  void Run();

  const Logger& log_;
  WriteFn write_;
  WrittenFn written_;
  const std::chrono::milliseconds retry_;
  std::mutex mu_;
  std::condition_variable cv_;       // the writer waits on it for hand-overs and Stop
  std::condition_variable written_cv_;  // WaitUntilWritten waits on it
  WriteBehind handed_{log_};  // handed over, not yet taken by the writer's thread
  bool busy_ = false;    // the writer's thread holds completions it has not written yet
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_by_{};
  std::size_t left_ = 0;  // completions left unwritten at Stop
  // Since when writes have been held back (unset while everything handed over is written).
  std::optional<std::chrono::steady_clock::time_point> failing_since_;
  std::thread thread_;    // last: starts after the members it uses
};

}  // namespace dcops::dispatcher
