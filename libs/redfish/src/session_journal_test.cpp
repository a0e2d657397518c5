// The session journal: what a killed agent leaves is exactly what its successor logs out.
#include "dcops/redfish/session_journal.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "dcops/redfish/session_cache.hpp"

namespace dcops::redfish {
namespace {

std::string TempPath(const char* name) {
  const auto dir = std::filesystem::temp_directory_path() / ("dcops-journal-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  std::filesystem::remove(path);
  return path.string();
}

TEST_CASE("The journal returns the sessions left open, and only those, after a crash", "[redfish][journal]") {
  const std::string path = TempPath("open.jsonl");
  {
    std::vector<JournaledSession> none;
    auto journal = FileSessionJournal::Recover(path, &none);
    REQUIRE(journal.ok());
    CHECK(none.empty());
    JournaledSession a{"127.0.40.1:443", "tok-a", "/redfish/v1/SessionService/Sessions/1", {}, 1700000000};
    a.tls.pinned_sha256 = std::string(64, 'a');
    (*journal)->Opened(a);
    (*journal)->Opened({"127.0.40.2:443", "tok-b", "/redfish/v1/SessionService/Sessions/2", {}, 1700000001});
    (*journal)->Closed("127.0.40.2:443", "tok-b");
    (*journal)->Opened({"127.0.40.2:443", "tok-c", "/redfish/v1/SessionService/Sessions/3", {}, 1700000002});
    // The journal is the agent's alone: it holds tokens.
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }  // the "crash": nothing closed the rest
  std::ofstream(path, std::ios::app) << R"({"op":"open","address":"127.0.40.9:443","tok)";  // torn last line
  std::vector<JournaledSession> left;
  auto journal = FileSessionJournal::Recover(path, &left);
  REQUIRE(journal.ok());
  REQUIRE(left.size() == 2);
  CHECK(left[0].address == "127.0.40.1:443");
  CHECK(left[0].token == "tok-a");
  CHECK(left[0].tls.pinned_sha256 == std::string(64, 'a'));
  CHECK(left[0].opened_at == 1700000000);
  CHECK(left[1].token == "tok-c");
  // Recovery compacted the file to exactly what is open.
  std::ifstream in(path);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  CHECK(lines == 2);
}

TEST_CASE("The cache journals sessions as it opens and settles them, and failed deletes stay as orphans",
          "[redfish][journal]") {
  const std::string path = TempPath("cache.jsonl");
  FakeClock clock;
  {
    auto journal = FileSessionJournal::Recover(path, nullptr);
    REQUIRE(journal.ok());
    SessionCache cache(journal->get(), &clock);
    cache.Put(CachedSession{"127.0.41.1:443", "root", "t1", "/s/1", {}, {}, 0, {}});
    cache.Put(CachedSession{"127.0.41.2:443", "root", "t2", "/s/2", {}, {}, 0, {}});
    cache.Drop("127.0.41.2:443", "t2");  // refused by the BMC: gone there, forgotten here
    cache.Put(CachedSession{"127.0.41.2:443", "root", "t3", "/s/3", {}, {}, 0, {}});  // the re-login
    auto all = cache.TakeAll();
    REQUIRE(all.size() == 2);
    cache.Settled(all[0], true);   // 127.0.41.1 logged out
    cache.Settled(all[1], false);  // 127.0.41.2 unreachable: an orphan
    CHECK(cache.orphans() == 1);
    CHECK(cache.TakeOrphans("127.0.41.1:443").empty());
  }
  std::vector<JournaledSession> left;
  REQUIRE(FileSessionJournal::Recover(path, &left).ok());
  REQUIRE(left.size() == 1);
  CHECK(left[0].token == "t3");
  CHECK(left[0].opened_at == std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count());
  // A successor adopts it; a day later it is forgotten even if the BMC never answers.
  SessionCache next;
  next.AdoptOrphans(left);
  CHECK(next.orphans() == 1);
  CHECK(next.TakeOrphans("127.0.41.2:443").size() == 1);
  CHECK(next.orphans() == 0);
}

TEST_CASE("A journal has one live owner: a second worker under the same id is refused", "[redfish][journal]") {
  const std::string path = TempPath("owned.jsonl");
  auto first = FileSessionJournal::Recover(path, nullptr);
  REQUIRE(first.ok());
  auto second = FileSessionJournal::Recover(path, nullptr);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().message.find("in use by another running worker with this agent id") != std::string::npos);
  first->reset();
  CHECK(FileSessionJournal::Recover(path, nullptr).ok());
}

TEST_CASE("An unwritable state directory is a clear error", "[redfish][journal]") {
  std::vector<JournaledSession> left;
  auto journal = FileSessionJournal::Recover("/proc/dcops-no-such-dir/sessions.jsonl", &left);
  REQUIRE_FALSE(journal.ok());
  CHECK(journal.error().message.find("cannot write /proc/dcops-no-such-dir/sessions.jsonl.lock") == 0);
}

}  // namespace
}  // namespace dcops::redfish
