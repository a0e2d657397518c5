#include "dcops/common/parallel.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace dcops {
namespace {

TEST_CASE("ForEachIndex calls every index once, with at most `workers` calls at once", "[parallel]") {
  std::vector<std::atomic<int>> calls(50);
  std::atomic<int> running{0}, most{0};
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  ForEachIndex(calls.size(), 4, [&](std::size_t i) {
    const int now = ++running;
    for (int seen = most; now > seen && !most.compare_exchange_weak(seen, now);) {
    }
    {
      // The first four calls meet before any returns: four really run at once.
      std::unique_lock lock(mu);
      if (arrived < 4) {
        ++arrived;
        cv.notify_all();
        cv.wait(lock, [&] { return arrived >= 4; });
      }
    }
    ++calls[i];
    --running;
  });
  for (const auto& c : calls) CHECK(c == 1);
  CHECK(most == 4);
}

TEST_CASE("ForEachIndex with no work or one worker runs on the caller's thread", "[parallel]") {
  int count = 0;
  ForEachIndex(0, 4, [&](std::size_t) { ++count; });
  CHECK(count == 0);
  const auto caller = std::this_thread::get_id();
  bool same = true;
  ForEachIndex(10, 1, [&](std::size_t) {
    same = same && std::this_thread::get_id() == caller;
    ++count;
  });
  CHECK(count == 10);
  CHECK(same);
}

}  // namespace
}  // namespace dcops
