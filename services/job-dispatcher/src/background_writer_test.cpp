#include "background_writer.hpp"

#include <catch2/catch.hpp>

#include <future>
#include <stdexcept>
#include <string>
#include <vector>

#include "dcops/common/clock.hpp"
#include "dcops/common/log.hpp"

namespace dcops::dispatcher {
namespace {

using std::chrono::milliseconds;

const Logger& NullLogger() {
  static FakeClock clock;
  static MemorySink sink;
  static const Logger log{"test", sink, clock};
  return log;
}

// A control plane stand-in: takes what it is given (as a successful Flush would) unless told
// to refuse, and remembers the completions it took, in order.
struct FakeControlPlane {
  std::mutex mu;
  std::vector<std::string> written;  // task ids of the completions taken
  std::vector<std::string> events;   // messages of the events taken
  int calls = 0;
  bool away = false;  // refuses everything, as a database that is gone
  BackgroundWriter::WriteFn Write() {
    return [this](WriteBehind& pending) {
      std::lock_guard lock(mu);
      ++calls;
      if (away) return false;
      WriteBehind taken(NullLogger());
      taken.TakeFrom(pending);
      for (const auto& c : taken.completions()) written.push_back(c.task_id);
      for (const auto& e : taken.events()) events.push_back(e.message);
      return true;
    };
  }
};

WriteBehind Collected(const std::vector<std::string>& task_ids) {
  WriteBehind w(NullLogger());
  for (const auto& id : task_ids) {
    w.Event({"job-" + id, id, "info", "finished " + id, "", "agent", ""});
    w.Completion({id, "lease-" + id, "{}"});
  }
  return w;
}

TEST_CASE("What the loop hands over is written in the order it was handed, and the hand-over empties the loop's",
          "[background_writer]") {
  FakeControlPlane cp;
  int published = 0;
  std::mutex published_mu;
  BackgroundWriter writer(NullLogger(), cp.Write(), [&] {
    std::lock_guard lock(published_mu);
    ++published;
  });
  auto first = Collected({"a", "b"});
  writer.Hand(first);
  CHECK_FALSE(first.Holds());
  auto second = Collected({"c"});
  writer.Hand(second);
  REQUIRE(writer.WaitUntilWritten(milliseconds(10000)));
  CHECK(writer.Stop(milliseconds(5000)) == 0);
  std::lock_guard lock(cp.mu);
  CHECK(cp.written == std::vector<std::string>{"a", "b", "c"});
  CHECK(cp.events == std::vector<std::string>{"finished a", "finished b", "finished c"});
  std::lock_guard lock2(published_mu);
  CHECK(published >= 1);
}

TEST_CASE("What the database did not take is tried again, ahead of what was handed over since",
          "[background_writer]") {
  FakeControlPlane cp;
  std::promise<void> entered, go_on;
  auto entered_future = entered.get_future();
  auto go_on_future = go_on.get_future().share();
  int attempt = 0;
  auto write = cp.Write();
  // The first write fails, after the test has handed over more behind it.
  BackgroundWriter writer(
      NullLogger(), [&](WriteBehind& pending) {
        if (attempt++ == 0) {
          entered.set_value();
          go_on_future.wait();
          return false;
        }
        return write(pending);
      },
      nullptr, milliseconds(10));
  auto first = Collected({"a"});
  writer.Hand(first);
  entered_future.wait();
  CHECK_FALSE(writer.WaitUntilWritten(milliseconds(0)));  // "a" is being written: not yet
  auto second = Collected({"b"});
  writer.Hand(second);
  go_on.set_value();
  REQUIRE(writer.WaitUntilWritten(milliseconds(10000)));
  CHECK(attempt >= 2);
  std::lock_guard lock(cp.mu);
  CHECK(cp.written == std::vector<std::string>{"a", "b"});
}

TEST_CASE("A stop writes what is left, and says how many completions a database that is away kept",
          "[background_writer]") {
  SECTION("the database is back when the stop comes: written at once, not at the next retry") {
    FakeControlPlane cp;
    cp.away = true;
    std::promise<void> refused;
    auto refused_future = refused.get_future();
    auto write = cp.Write();
    bool said = false;
    // A retry pace longer than the test may take: only the stop's own attempt can write.
    BackgroundWriter writer(
        NullLogger(),
        [&](WriteBehind& pending) {
          const bool wrote = write(pending);
          if (!said) {
            said = true;
            refused.set_value();
          }
          return wrote;
        },
        nullptr, std::chrono::minutes(10));
    auto collected = Collected({"a", "b", "c"});
    writer.Hand(collected);
    refused_future.wait();  // the first attempt was refused: all three are held
    {
      std::lock_guard lock(cp.mu);
      cp.away = false;
    }
    const auto asked = std::chrono::steady_clock::now();
    CHECK(writer.Stop(milliseconds(5000)) == 0);
    CHECK(std::chrono::steady_clock::now() - asked < std::chrono::minutes(5));  // not at the next retry
    std::lock_guard lock(cp.mu);
    CHECK(cp.written == std::vector<std::string>{"a", "b", "c"});
  }
  SECTION("the database is away") {
    FakeControlPlane cp;
    cp.away = true;
    BackgroundWriter writer(NullLogger(), cp.Write(), nullptr, milliseconds(5));
    auto collected = Collected({"a", "b"});
    writer.Hand(collected);
    CHECK_FALSE(writer.WaitUntilWritten(milliseconds(50)));
    CHECK(writer.Stop(milliseconds(50)) == 2);
    CHECK(writer.Stop(milliseconds(50)) == 2);  // idempotent
    std::lock_guard lock(cp.mu);
    CHECK(cp.written.empty());
    CHECK(cp.calls >= 1);
  }
}

TEST_CASE("Progress alone does not hold up a stop: it is a snapshot for people watching", "[background_writer]") {
  FakeControlPlane cp;
  cp.away = true;
  BackgroundWriter writer(NullLogger(), cp.Write(), nullptr, milliseconds(10));
  WriteBehind collected(NullLogger());
  collected.Progress({"a", "lease-a", 40, "halfway"});
  writer.Hand(collected);
  CHECK(writer.WaitUntilWritten(milliseconds(10000)));  // no completion waits
  const auto asked = std::chrono::steady_clock::now();
  CHECK(writer.Stop(milliseconds(600000)) == 0);
  // It returned without waiting out its grace (ten minutes) for a snapshot.
  CHECK(std::chrono::steady_clock::now() - asked < std::chrono::minutes(5));
  CHECK_FALSE(writer.Stalled(milliseconds(0)));  // progress held back is not a stall
}

TEST_CASE("Writes held back are a stall from the first refusal until they are written", "[background_writer]") {
  FakeControlPlane cp;
  cp.away = true;
  std::promise<void> refused;
  auto refused_future = refused.get_future();
  auto write = cp.Write();
  int attempts = 0;
  BackgroundWriter writer(
      NullLogger(),
      [&](WriteBehind& pending) {
        // The second attempt is a retry: the first's refusal has been taken note of.
        if (++attempts == 2) refused.set_value();
        return write(pending);
      },
      nullptr, milliseconds(5));
  CHECK_FALSE(writer.Stalled(milliseconds(0)));
  auto collected = Collected({"a"});
  writer.Hand(collected);
  refused_future.wait();
  CHECK(writer.Stalled(milliseconds(0)));
  CHECK_FALSE(writer.Stalled(std::chrono::hours(1)));
  {
    std::lock_guard lock(cp.mu);
    cp.away = false;
  }
  REQUIRE(writer.WaitUntilWritten(milliseconds(10000)));
  CHECK_FALSE(writer.Stalled(milliseconds(0)));
}

TEST_CASE("A write that throws is logged and tried again, and the writer goes on", "[background_writer]") {
  FakeControlPlane cp;
  auto write = cp.Write();
  int attempt = 0;
  BackgroundWriter writer(
      NullLogger(),
      [&](WriteBehind& pending) -> bool {
        if (attempt++ == 0) throw std::runtime_error("out of something");
        return write(pending);
      },
      nullptr, milliseconds(5));
  auto collected = Collected({"a"});
  writer.Hand(collected);
  REQUIRE(writer.WaitUntilWritten(milliseconds(10000)));
  std::lock_guard lock(cp.mu);
  CHECK(cp.written == std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace dcops::dispatcher
