// The Redfish client against the simulated fleet: sessions reused, re-login, session cap,
// logout, broken answers.
#include "dcops/redfish/client.hpp"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "dcops/redfish/collection.hpp"
#include "fleet.hpp"

namespace dcops::redfish {
namespace {

constexpr int kPort = 18443;

struct Rig {
  sim::Fleet fleet;
  http::CurlTransport transport;
  http::Client http;
  SessionCache sessions;
  explicit Rig(const std::string& first) : fleet(Options(first)), http(Quick(), transport, SystemClock::Instance()) {
    REQUIRE(fleet.Start().empty());
  }
  static sim::FleetOptions Options(const std::string& first) {
    sim::FleetOptions o;
    o.count = 1;
    o.first_address = first;
    o.port = kPort;
    o.threads_per_bmc = 2;
    return o;
  }
  static http::ClientOptions Quick() {
    http::ClientOptions o;
    o.retry.max_attempts = 2;
    o.retry.backoff.initial = std::chrono::milliseconds(10);
    return o;
  }
  Target TargetFor(const std::string& address, const std::string& password = "calvin") {
    Target t;
    t.address = address + ":" + std::to_string(kPort);
    t.username = "root";
    t.password = password;
    t.tls.pinned_sha256 = fleet.FingerprintOf(address);
    return t;
  }
  sim::Bmc& Bmc(const std::string& address) { return *fleet.Find(address); }
};

TEST_CASE("A session is logged out on the BMC that issued it, whatever host its Location names", "[redfish][net][attack]") {
  Rig rig("127.0.38.1");
  Client c(rig.http, rig.sessions, rig.TargetFor("127.0.38.1"), SystemClock::Instance());
  REQUIRE(c.Get("/redfish/v1/Systems/System.Embedded.1").ok());
  auto taken = rig.sessions.TakeAll();
  REQUIRE(taken.size() == 1);
  // A Location naming another host: the DELETE, with the session's token, still goes to the BMC.
  taken[0].location = "https://127.0.38.99:1" + taken[0].location;
  auto sweep = DeleteSessions(rig.http, rig.sessions, taken);
  CHECK(sweep.deleted == 1);
  CHECK(rig.Bmc("127.0.38.1").SessionCount(std::chrono::steady_clock::now()) == 0);
  // A Location that is no path at all is not addressed anywhere (the BMC's timeout ends it).
  REQUIRE(Client(rig.http, rig.sessions, rig.TargetFor("127.0.38.1"), SystemClock::Instance())
              .Get("/redfish/v1/Systems/System.Embedded.1").ok());
  auto second = rig.sessions.TakeAll();
  REQUIRE(second.size() == 1);
  second[0].location = "@127.0.38.99:1/x";
  const long requests = rig.Bmc("127.0.38.1").counters().requests;
  DeleteSessions(rig.http, rig.sessions, second);
  CHECK(rig.Bmc("127.0.38.1").counters().requests == requests);
  CHECK(rig.Bmc("127.0.38.1").SessionCount(std::chrono::steady_clock::now()) == 1);
}

TEST_CASE("Sessions on many BMCs are logged out side by side: a slow BMC holds up only its own", "[redfish][net]") {
  sim::FleetOptions o = Rig::Options("127.0.39.1");
  o.count = 4;
  sim::Fleet fleet(o);
  REQUIRE(fleet.Start().empty());
  http::CurlTransport transport;
  http::Client http(Rig::Quick(), transport, SystemClock::Instance());
  SessionCache sessions;
  for (int i = 1; i <= 4; ++i) {
    const std::string address = "127.0.39." + std::to_string(i);
    Target t;
    t.address = address + ":" + std::to_string(kPort);
    t.username = "root";
    t.password = "calvin";
    t.tls.pinned_sha256 = fleet.FingerprintOf(address);
    Client c(http, sessions, t, SystemClock::Instance());
    REQUIRE(c.Get("/redfish/v1/Systems/System.Embedded.1").ok());
  }
  // The first BMC answers its logout only after 5 s; the sweep meets it first.
  sim::Faults slow;
  slow.latency = std::chrono::milliseconds(5000);
  fleet.Find("127.0.39.1")->SetFaults(slow);
  auto all = sessions.TakeAll();
  std::sort(all.begin(), all.end(), [](const CachedSession& a, const CachedSession& b) { return a.address < b.address; });
  REQUIRE(all.size() == 4);
  std::atomic<bool> swept{false};
  SessionSweep sweep;
  std::thread sweeper([&] {
    sweep = DeleteSessions(http, sessions, all);
    swept = true;
  });
  auto open_on_the_others = [&] {
    int n = 0;
    for (int i = 2; i <= 4; ++i) n += fleet.Find("127.0.39." + std::to_string(i))->SessionCount(std::chrono::steady_clock::now());
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(4000);
  while (open_on_the_others() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // a poll of the condition
  }
  // The other BMCs' sessions were gone while the slow BMC still held its logout.
  CHECK(open_on_the_others() == 0);
  CHECK_FALSE(swept.load());
  sweeper.join();
  CHECK(sweep.deleted == 4);
  CHECK(sweep.kept == 0);
  CHECK(fleet.Find("127.0.39.1")->SessionCount(std::chrono::steady_clock::now()) == 0);
}

TEST_CASE("One session serves many requests and is deleted at shutdown", "[redfish][net]") {
  Rig rig("127.0.30.1");
  for (int i = 0; i < 5; ++i) {
    Client c(rig.http, rig.sessions, rig.TargetFor("127.0.30.1"), SystemClock::Instance());
    auto sys = c.Get("/redfish/v1/Systems/System.Embedded.1");
    REQUIRE(sys.ok());
    CHECK(*sys->String("PowerState") == "On");
  }
  CHECK(rig.Bmc("127.0.30.1").counters().sessions_created == 1);
  CHECK(rig.sessions.size() == 1);
  DeleteSessions(rig.http, rig.sessions, rig.sessions.TakeAll());
  CHECK(rig.Bmc("127.0.30.1").SessionCount(std::chrono::steady_clock::now()) == 0);
}

TEST_CASE("A session the BMC forgot is replaced once, transparently", "[redfish][net]") {
  Rig rig("127.0.31.1");
  Client c(rig.http, rig.sessions, rig.TargetFor("127.0.31.1"), SystemClock::Instance());
  REQUIRE(c.Get("/redfish/v1/Systems").ok());
  // The BMC restarts and loses its sessions.
  REQUIRE(rig.Bmc("127.0.31.1").DeleteSession("1"));
  auto again = c.Get("/redfish/v1/Systems");
  REQUIRE(again.ok());
  CHECK(rig.Bmc("127.0.31.1").counters().sessions_created == 2);
}

TEST_CASE("Steps that start together on one BMC share one login", "[redfish][net]") {
  Rig rig("127.0.30.5");
  std::vector<std::thread> steps;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    steps.emplace_back([&] {
      Client c(rig.http, rig.sessions, rig.TargetFor("127.0.30.5"), SystemClock::Instance());
      if (c.Get("/redfish/v1/Systems/System.Embedded.1").ok()) ++ok;
    });
  }
  for (auto& t : steps) t.join();
  CHECK(ok == 8);
  CHECK(rig.Bmc("127.0.30.5").counters().sessions_created == 1);
  DeleteSessions(rig.http, rig.sessions, rig.sessions.TakeAll());
}

TEST_CASE("A changed password never rides on a session the old one opened", "[redfish][net][secrets]") {
  Rig rig("127.0.30.6");
  Client good(rig.http, rig.sessions, rig.TargetFor("127.0.30.6"), SystemClock::Instance());
  REQUIRE(good.Get("/redfish/v1/Systems/System.Embedded.1").ok());
  Client changed(rig.http, rig.sessions, rig.TargetFor("127.0.30.6", "Ch4nged-Wrong"), SystemClock::Instance());
  auto denied = changed.Get("/redfish/v1/Systems/System.Embedded.1");
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == "redfish.auth");
  // The right credential still has its session: no second login.
  Client again(rig.http, rig.sessions, rig.TargetFor("127.0.30.6"), SystemClock::Instance());
  REQUIRE(again.Get("/redfish/v1/Systems/System.Embedded.1").ok());
  CHECK(rig.Bmc("127.0.30.6").counters().sessions_created == 1);
  DeleteSessions(rig.http, rig.sessions, rig.sessions.TakeAll());
}

TEST_CASE("The session cap is reported, not worked around", "[redfish][net]") {
  Rig rig("127.0.32.1");
  auto& bmc = rig.Bmc("127.0.32.1");
  for (int i = 0; i < 8; ++i) REQUIRE(bmc.CreateSession("root", std::chrono::steady_clock::now()));
  Client c(rig.http, rig.sessions, rig.TargetFor("127.0.32.1"), SystemClock::Instance());
  auto r = c.Get("/redfish/v1/Systems");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "redfish.session_cap");
  CHECK(r.error().retryable);
  CHECK(bmc.counters().sessions_high == 8);
}

TEST_CASE("A cap filled by sessions a killed predecessor left is reclaimed, and only those are logged out",
          "[redfish][net][journal][attack]") {
  Rig rig("127.0.33.1");
  auto& bmc = rig.Bmc("127.0.33.1");
  const std::string address = "127.0.33.1:" + std::to_string(kPort);
  // Someone else holds two sessions; the predecessor held six when it was killed.
  for (int i = 0; i < 2; ++i) REQUIRE(bmc.CreateSession("admin-console", std::chrono::steady_clock::now()));
  std::vector<JournaledSession> left;
  for (int i = 0; i < 6; ++i) {
    auto token = bmc.CreateSession("root", std::chrono::steady_clock::now());
    REQUIRE(token);
    JournaledSession s{address, *token, "/redfish/v1/SessionService/Sessions/" + bmc.SessionIdOf(*token), {}, 0};
    s.tls.pinned_sha256 = rig.fleet.FingerprintOf("127.0.33.1");
    left.push_back(s);
  }
  REQUIRE(bmc.SessionCount(std::chrono::steady_clock::now()) == 8);
  rig.sessions.AdoptOrphans(left);
  Client c(rig.http, rig.sessions, rig.TargetFor("127.0.33.1"), SystemClock::Instance());
  auto r = c.Get("/redfish/v1/Systems");
  REQUIRE(r.ok());
  CHECK(rig.sessions.orphans() == 0);
  CHECK(bmc.SessionCount(std::chrono::steady_clock::now()) == 3);  // the console's two and ours
  CHECK(bmc.counters().sessions_refused == 1);
}

TEST_CASE("Wrong credentials fail once, without retries and without the password", "[redfish][net][secrets]") {
  Rig rig("127.0.33.1");
  Client c(rig.http, rig.sessions, rig.TargetFor("127.0.33.1", "not-the-password-42"),
           SystemClock::Instance());
  auto r = c.Get("/redfish/v1/Systems");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "redfish.auth");
  CHECK(r.error().message.find("not-the-password-42") == std::string::npos);
  CHECK(rig.Bmc("127.0.33.1").counters().unauthorized == 1);
}

TEST_CASE("A BMC answering HTML fails with the resource named", "[redfish][net]") {
  Rig rig("127.0.34.1");
  sim::Faults f;
  f.mode = sim::Mode::kHtml;
  rig.Bmc("127.0.34.1").SetFaults(f);
  Client c(rig.http, rig.sessions, rig.TargetFor("127.0.34.1"), SystemClock::Instance());
  auto r = c.Get("/redfish/v1/Systems/System.Embedded.1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message ==
        "/redfish/v1/Systems/System.Embedded.1: the BMC answered with an HTML page instead of JSON");
}

TEST_CASE("A paged collection is read across its pages, each member once, and a looping nextLink fails clearly",
          "[redfish][net]") {
  Rig rig("127.0.30.7");
  auto& bmc = rig.Bmc("127.0.30.7");
  for (int i = 0; i < 120; ++i) bmc.AddLogEntry("sel", {"", "", "Warning", "", "Fan " + std::to_string(i), "Fan", "Assert"});
  Client c(rig.http, rig.sessions, rig.TargetFor("127.0.30.7"), SystemClock::Instance());
  const std::string entries = "/redfish/v1/Managers/iDRAC.Embedded.1/LogServices/Sel/Entries";
  // Log entries come whole in their pages (as with $expand): read from the pages alone.
  auto members = ReadMembers(c, entries, {true, 1024});
  INFO((members.ok() ? std::string() : members.error().message));
  REQUIRE(members.ok());
  CHECK(members->size() == bmc.Log("sel").size());  // 121 across three pages of 50
  std::set<std::string> uris;
  for (const auto& m : *members) uris.insert(m.OptionalString("@odata.id").value_or(""));
  CHECK(uris.size() == members->size());

  sim::Faults loop;
  loop.looping_next_link = true;
  bmc.SetFaults(loop);
  auto looping = ReadMembers(c, entries, {true, 1024});
  REQUIRE_FALSE(looping.ok());
  CHECK(looping.error().code == "redfish.schema");
  CHECK(looping.error().message.find("Members@odata.nextLink leads back to " + entries) != std::string::npos);
  DeleteSessions(rig.http, rig.sessions, rig.sessions.TakeAll());
}

}  // namespace
}  // namespace dcops::redfish
