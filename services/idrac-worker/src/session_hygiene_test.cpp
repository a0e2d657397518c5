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

TEST_CASE("A journal slot that cannot be written is an error, not a skip to the next slot", "[journal]") {
  auto out = RecoverSessionJournal("/proc/dcops-no-such-state", "idrac-worker-vm");
  REQUIRE_FALSE(out.ok());
  CHECK(out.error().code == "config.state_dir");
}

}  // namespace
}  // namespace dcops::idrac
