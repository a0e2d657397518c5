#include "background_writer.hpp"

#include <exception>
#include <string>

namespace dcops::dispatcher {
namespace {

// What must not be lost at a stop: progress is a snapshot for people watching, dropped then
// as in an outage (write_behind.hpp).
bool HoldsWrites(const WriteBehind& w) { return !w.events().empty() || w.HasCompletions(); }

}  // namespace

BackgroundWriter::BackgroundWriter(const Logger& log, WriteFn write, WrittenFn written,
                                   std::chrono::milliseconds retry)
    : log_(log), write_(std::move(write)), written_(std::move(written)), retry_(retry), thread_([this] { Run(); }) {}

BackgroundWriter::~BackgroundWriter() { Stop(std::chrono::milliseconds(0)); }

void BackgroundWriter::Hand(WriteBehind& collected) {
  if (!collected.Holds()) return;
  {
    std::lock_guard lock(mu_);
    handed_.TakeFrom(collected);
  }
  cv_.notify_one();
}

bool BackgroundWriter::WaitUntilWritten(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  return written_cv_.wait_for(lock, wait, [this] { return !busy_ && !handed_.HasCompletions(); });
}

std::size_t BackgroundWriter::Stop(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return left_;
    stopping_ = true;
    stop_by_ = std::chrono::steady_clock::now() + grace;
  }
  cv_.notify_all();
  thread_.join();
  return left_;
}

void BackgroundWriter::Run() {
  WriteBehind writing(log_);  // this thread's: what it took and has not written yet
  bool stop_tried = false;    // one attempt is made at once when a stop comes
  std::unique_lock lock(mu_);
  for (;;) {
    if (writing.Holds()) {
      // What the database did not take (or progress not yet due) is tried again after
      // `retry`, sooner when more is handed over or a stop comes; after that first attempt a
      // stop does not cut the pause short, or a database that is away would be retried in a spin.
      cv_.wait_for(lock, retry_, [&] {
        return handed_.Holds() || (stopping_ && (!stop_tried || !HoldsWrites(writing)));
      });
    } else {
      cv_.wait(lock, [this] { return stopping_ || handed_.Holds(); });
    }
    writing.TakeFrom(handed_);
    if (stopping_ && (!HoldsWrites(writing) || std::chrono::steady_clock::now() >= stop_by_)) break;
    if (stopping_) stop_tried = true;
    busy_ = writing.HasCompletions();
    lock.unlock();
    bool wrote = false;
    try {
      wrote = write_(writing);
      if (wrote && written_) written_();
    } catch (const std::exception& e) {
      // What was not written stays for the next attempt; the thread goes on.
      log_.Error(std::string("writing step completions and events failed on an internal error; retrying: ") + e.what());
    }
    lock.lock();
    busy_ = writing.HasCompletions();
    if (!HoldsWrites(writing)) {
      failing_since_.reset();
    } else if (!failing_since_) {
      failing_since_ = std::chrono::steady_clock::now();
    }
    written_cv_.notify_all();
  }
  left_ = writing.completions().size();
  busy_ = false;
  written_cv_.notify_all();
}

bool BackgroundWriter::Stalled(std::chrono::milliseconds for_at_least) {
  std::lock_guard lock(mu_);
  return failing_since_ && std::chrono::steady_clock::now() - *failing_since_ >= for_at_least;
}

}  // namespace dcops::dispatcher
