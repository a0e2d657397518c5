#include "session_hygiene.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

namespace dcops::idrac {
namespace {

TEST_CASE("A restarted worker finds its journal: the default id loses its pid, a chosen id is kept", "[journal]") {
  CHECK(JournalKey("idrac-worker-host1-4242", "idrac-worker", 4242) == "idrac-worker-host1");
  CHECK(JournalKey("idrac-worker-2", "idrac-worker", 4242) == "idrac-worker-2");
  CHECK(JournalKey("lab-4242", "idrac-worker", 4242) == "lab-4242");  // not the default form
  CHECK(SessionJournalPath("/var/lib/dcops/state", "idrac worker/../x") ==
        "/var/lib/dcops/state/redfish-sessions-idrac_worker_.._x.jsonl");
}

TEST_CASE("Workers sharing a name and a state directory each take a journal slot, and a restart adopts a free one",
          "[journal]") {
  const auto dir = std::filesystem::temp_directory_path() / ("dcops-slots-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto first = RecoverSessionJournal(dir.string(), "idrac-worker-vm");
  REQUIRE(first.ok());
  auto second = RecoverSessionJournal(dir.string(), "idrac-worker-vm");  // a replica on the same host network
  REQUIRE(second.ok());
  CHECK(std::filesystem::exists(dir / "redfish-sessions-idrac-worker-vm.jsonl"));
  CHECK(std::filesystem::exists(dir / "redfish-sessions-idrac-worker-vm-slot2.jsonl"));
  second->journal->Opened({"127.0.40.9:443", "tok-left", "/redfish/v1/SessionService/Sessions/9", {}, 1700000000});
  second->journal.reset();  // the replica dies with its session open

  auto restarted = RecoverSessionJournal(dir.string(), "idrac-worker-vm");  // while the first still runs
  REQUIRE(restarted.ok());
  REQUIRE(restarted->left_open.size() == 1);
  CHECK(restarted->left_open[0].token == "tok-left");
  CHECK(first->left_open.empty());
  std::filesystem::remove_all(dir);
}

TEST_CASE("A worker under a new name adopts the journal a recreated container left, not one a running worker holds",
          "[journal]") {
  const auto dir = std::filesystem::temp_directory_path() / ("dcops-adopt-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto running = RecoverSessionJournal(dir.string(), "idrac-worker-c0ffee");  // another replica, alive
  REQUIRE(running.ok());
  running->journal->Opened({"127.0.40.8:443", "tok-live", "/redfish/v1/SessionService/Sessions/8", {}, 1700000000});
  {
    auto old = RecoverSessionJournal(dir.string(), "idrac-worker-deadbeef");  // the container before an upgrade
    REQUIRE(old.ok());
    old->journal->Opened({"127.0.40.7:443", "tok-old", "/redfish/v1/SessionService/Sessions/7", {}, 1700000000});
  }  // gone, its session open

  auto fresh = RecoverSessionJournal(dir.string(), "idrac-worker-5eed");
  REQUIRE(fresh.ok());
  REQUIRE(fresh->left_open.size() == 1);
  CHECK(fresh->left_open[0].token == "tok-old");
  CHECK_FALSE(std::filesystem::exists(dir / "redfish-sessions-idrac-worker-deadbeef.jsonl"));
  CHECK(std::filesystem::exists(dir / "redfish-sessions-idrac-worker-c0ffee.jsonl"));  // the live one's stays
  // The adopted session is now this worker's to close: a crash of this one hands it on again.
  fresh->journal.reset();
  auto next = RecoverSessionJournal(dir.string(), "idrac-worker-5eed");
  REQUIRE(next.ok());
  REQUIRE(next->left_open.size() == 1);
  CHECK(next->left_open[0].token == "tok-old");
  std::filesystem::remove_all(dir);
}

TEST_CASE("A journal slot that cannot be written is an error, not a skip to the next slot", "[journal]") {
  auto out = RecoverSessionJournal("/proc/dcops-no-such-state", "idrac-worker-vm");
  REQUIRE_FALSE(out.ok());
  CHECK(out.error().code == "config.state_dir");
}

}  // namespace
}  // namespace dcops::idrac
