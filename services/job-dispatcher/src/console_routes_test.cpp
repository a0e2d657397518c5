// The console's HTTP side on a real httplib server (loopback) with the real API over the
// private PostgreSQL: the login trade, the cookie's attributes, the page's headers, logout, and
// the event stream (a snapshot, a change published, the end at Close, the cap on streams).
#include "console_routes.hpp"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "change_feed.hpp"
#include "dcops/common/clock.hpp"
#include "http_endpoints.hpp"
#include "test_db.hpp"

namespace dcops::dispatcher {
namespace {

struct ConsoleRig {
  testing::TestDb tdb;
  tls::SecretBox box = *tls::SecretBox::FromKeyBytes(tls::SecretBox::NewHexKey());
  SecretRegistry redact;
  MemorySink sink;
  FakeClock clock;
  Logger log{"test", sink, clock, &redact};
  Api api{"default", "op-token-123", Options(), box, redact, log, "view-token-456"};
  ChangeFeed feed;
  std::atomic<bool> leader{true}, db_ok{true};
  DispatcherMetrics metrics;
  httplib::Server http;
  int port = 0;
  std::thread thread;

  explicit ConsoleRig(ConsoleOptions options = {}) {
    api.ServeLimitsFrom(feed);
    AddConsoleRoutes(http, api, feed, log, options);
    AddHttpEndpoints(http, {leader, db_ok, metrics, api});
    port = http.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread([this] { http.listen_after_bind(); });
  }
  ~ConsoleRig() {
    feed.Close();
    http.stop();
    thread.join();
  }
  db::DbOptions Options() const {
    db::DbOptions o;
    o.dsn = tdb.dsn();
    o.role = "dcops_dispatcher";
    return o;
  }
  httplib::Client Client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(std::chrono::seconds(10));
    return c;
  }
  // The session cookie of a login with `token` ("" when refused).
  std::string Login(const std::string& token, const std::string& name = "alice") {
    auto res = Client().Post("/console/login", httplib::Params{{"token", token}, {"name", name}});
    REQUIRE(res);
    REQUIRE(res->status == 303);
    const std::string set = res->get_header_value("Set-Cookie");
    if (set.empty()) return "";
    return set.substr(0, set.find(';'));
  }
};

// Collects a stream's text on its own thread until told to stop or the server ends it.
class StreamReader {
 public:
  StreamReader(int port, std::string cookie, std::string path = "/api/v1/stream") {
    thread_ = std::thread([this, port, cookie, path] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(std::chrono::seconds(30));
      auto res = c.Get(path.c_str(), httplib::Headers{{"Cookie", cookie}},
                       [this](const httplib::Response& r) {
                         std::lock_guard lock(mu_);
                         status_ = r.status;
                         type_ = r.get_header_value("Content-Type");
                         return true;
                       },
                       [this](const char* data, std::size_t n) {
                         std::lock_guard lock(mu_);
                         text_.append(data, n);
                         cv_.notify_all();
                         return !stop_;
                       });
      std::lock_guard lock(mu_);
      ended_ = true;
      if (res && status_ == 0) status_ = res->status;
      cv_.notify_all();
    });
  }
  ~StreamReader() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    thread_.join();
  }
  // Waits (bounded) until the text holds `what`.
  bool WaitFor(const std::string& what, std::chrono::seconds within = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, within, [&] { return text_.find(what) != std::string::npos || ended_; }) &&
           text_.find(what) != std::string::npos;
  }
  bool WaitEnded(std::chrono::seconds within = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, within, [&] { return ended_; });
  }
  std::string text() {
    std::lock_guard lock(mu_);
    return text_;
  }
  int status() {
    std::lock_guard lock(mu_);
    return status_;
  }
  std::string type() {
    std::lock_guard lock(mu_);
    return type_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string text_, type_;
  int status_ = 0;
  bool ended_ = false, stop_ = false;
  std::thread thread_;
};

TEST_CASE("The console trades a token for an HttpOnly, SameSite=Strict session and serves its page under a strict policy",
          "[console][http]") {
  ConsoleRig rig;
  auto client = rig.Client();
  auto anonymous = client.Get("/console/");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 303);
  CHECK(anonymous->get_header_value("Location") == "/console/login");
  auto login_page = client.Get("/console/login");
  REQUIRE(login_page);
  CHECK(login_page->status == 200);
  CHECK(login_page->get_header_value("Content-Type").rfind("text/html", 0) == 0);
  const std::string policy = login_page->get_header_value("Content-Security-Policy");
  CHECK(policy.find("script-src 'self'") != std::string::npos);
  CHECK(policy.find("frame-ancestors 'none'") != std::string::npos);
  CHECK(login_page->get_header_value("X-Content-Type-Options") == "nosniff");
  auto script = client.Get("/console/app.js");
  REQUIRE(script);
  CHECK(script->status == 200);
  CHECK(script->get_header_value("Content-Type").rfind("text/javascript", 0) == 0);
  CHECK(client.Get("/console/secret.js")->status == 404);

  // A wrong token: back to the login page, no cookie, a warning without the token.
  auto refused = client.Post("/console/login", httplib::Params{{"token", "op-token-12"}, {"name", "alice"}});
  REQUIRE(refused);
  CHECK(refused->status == 303);
  CHECK(refused->get_header_value("Location") == "/console/login?failed=1");
  CHECK(refused->get_header_value("Set-Cookie").empty());
  for (const auto& line : rig.sink.lines()) CHECK(line.find("op-token-12") == std::string::npos);

  // A token in the URL (where histories and proxy logs keep it) is not taken.
  auto in_url = client.Post("/console/login?token=op-token-123", httplib::Params{{"name", "alice"}});
  REQUIRE(in_url);
  CHECK(in_url->get_header_value("Location") == "/console/login?failed=1");
  CHECK(in_url->get_header_value("Set-Cookie").empty());

  auto accepted = client.Post("/console/login", httplib::Params{{"token", "op-token-123"}, {"name", "alice"}});
  REQUIRE(accepted);
  CHECK(accepted->status == 303);
  CHECK(accepted->get_header_value("Location") == "/console/");
  const std::string set = accepted->get_header_value("Set-Cookie");
  CHECK(set.rfind("dcops_session=", 0) == 0);
  CHECK(set.find("; HttpOnly") != std::string::npos);
  CHECK(set.find("; SameSite=Strict") != std::string::npos);
  CHECK(set.find("; Path=/") != std::string::npos);
  CHECK(set.find("Secure") == std::string::npos);  // plain HTTP here: a Secure cookie would never come back
  const std::string cookie = set.substr(0, set.find(';'));

  auto page = client.Get("/console/", httplib::Headers{{"Cookie", cookie}});
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->get_header_value("Content-Security-Policy") == policy);
  CHECK(page->get_header_value("X-Frame-Options") == "DENY");
  CHECK(page->get_header_value("Cache-Control") == "no-store");
  CHECK(page->body.find("/console/app.js") != std::string::npos);
  auto who = client.Get("/api/v1/whoami", httplib::Headers{{"Cookie", cookie}});
  REQUIRE(who);
  CHECK(who->body.find(R"("actor":"console:alice")") != std::string::npos);

  // Behind a TLS proxy the cookie is Secure.
  httplib::Headers proxied{{"X-Forwarded-Proto", "https"}};
  auto secure = client.Post("/console/login", proxied, httplib::Params{{"token", "view-token-456"}, {"name", "vera"}});
  REQUIRE(secure);
  CHECK(secure->get_header_value("Set-Cookie").find("; Secure") != std::string::npos);

  // Logout needs the console's header (a cross-site form cannot end a session either), then
  // the session is gone.
  CHECK(client.Post("/console/logout", httplib::Headers{{"Cookie", cookie}}, "", "text/plain")->status == 403);
  CHECK(client.Get("/api/v1/whoami", httplib::Headers{{"Cookie", cookie}})->status == 200);
  auto out = client.Post("/console/logout", httplib::Headers{{"Cookie", cookie}, {"X-Dcops-Console", "1"}}, "", "text/plain");
  REQUIRE(out);
  CHECK(out->status == 204);
  CHECK(out->get_header_value("Set-Cookie").find("Max-Age=0") != std::string::npos);
  CHECK(client.Get("/api/v1/whoami", httplib::Headers{{"Cookie", cookie}})->status == 401);
  CHECK(client.Get("/console/", httplib::Headers{{"Cookie", cookie}})->status == 303);
}

TEST_CASE("The event stream sends a snapshot, then what a published change changed, and ends at Close",
          "[console][http]") {
  ConsoleRig rig;
  const std::string cookie = rig.Login("op-token-123");
  REQUIRE(!cookie.empty());
  StreamReader stream(rig.port, cookie);
  REQUIRE(stream.WaitFor("event: limits\n"));
  CHECK(stream.status() == 200);
  CHECK(stream.type().rfind("text/event-stream", 0) == 0);
  CHECK(stream.text().find("event: jobs\ndata: {\"jobs\":[]}") != std::string::npos);

  auto created = rig.Client().Post("/api/v1/jobs", httplib::Headers{{"Cookie", cookie}, {"X-Dcops-Console", "1"}},
                                   R"({"job_type":"server.refresh","target_scope":{"all_servers":true}})",
                                   "application/json");
  REQUIRE(created);
  REQUIRE(created->status == 201);
  const std::string id = created->body.substr(7, 36);
  rig.feed.Publish();  // what the loop does once it has seen the NOTIFY
  CHECK(stream.WaitFor(id));
  rig.feed.SetLimits(R"([{"target":"idrac:127.0.0.2:443","running":1}])");
  CHECK(stream.WaitFor("idrac:127.0.0.2:443"));

  rig.feed.Close();
  CHECK(stream.WaitEnded());
}

TEST_CASE("A stream of a job sends its events after the cursor, and a session signed out ends its idle stream",
          "[console][http]") {
  ConsoleRig rig;
  const std::string cookie = rig.Login("view-token-456", "vera");
  auto su = rig.tdb.Connect();
  const std::string job = testing::Scalar(su,
      "SELECT dispatcher_v1_create_job('default', 'server.refresh', '{\"all_servers\":true}', '{}')");
  testing::Exec(su, "INSERT INTO job_events(job_id, level, message) VALUES ($1, 'info', 'first'), ($1, 'info', 'second')", {job});
  const std::string second = testing::Scalar(su, "SELECT max(id) FROM job_events WHERE job_id = $1", {job});
  StreamReader stream(rig.port, cookie, "/api/v1/stream?job=" + job + "&after=" + std::to_string(std::stol(second) - 1));
  REQUIRE(stream.WaitFor("event: events\n"));
  CHECK(stream.text().find("\"second\"") != std::string::npos);
  CHECK(stream.text().find("\"first\"") == std::string::npos);  // before the cursor
  CHECK(stream.text().find("id: " + second + "\n") != std::string::npos);
  CHECK(stream.text().find("event: job\n") != std::string::npos);

  // Nothing is published: the idle stream finds out by itself, within its one-second check.
  rig.api.access().Logout(cookie);
  CHECK(stream.WaitFor("event: signed_out\n"));
  CHECK(stream.WaitEnded());
}

// Opens a stream as `cookie`, reads until its snapshot's first frame and hangs up (closes the
// socket without a word). The status it got.
int OpenAndHangUp(const ConsoleRig& rig, const std::string& cookie) {
  auto client = rig.Client();
  std::string seen;
  auto res = client.Get("/api/v1/stream", httplib::Headers{{"Cookie", cookie}},
                        [&](const char* data, std::size_t n) {
                          seen.append(data, n);
                          return seen.find("event: jobs\n") == std::string::npos;  // false: hang up
                        });
  if (res) return res->status;  // refused: the whole answer came
  return seen.find("event: jobs\n") != std::string::npos ? 200 : 0;
}

TEST_CASE("Streams beyond the caps are refused with 503, a client that left gives its slot back, a bad job id is 400",
          "[console][http]") {
  ConsoleRig rig({3, 2, std::chrono::milliseconds(250), std::chrono::seconds(15)});
  const std::string alice = rig.Login("op-token-123", "alice");
  const std::string bob = rig.Login("op-token-123", "bob");
  const std::string carol = rig.Login("view-token-456", "carol");
  CHECK(rig.Client().Get("/api/v1/stream?job=../../etc", httplib::Headers{{"Cookie", alice}})->status == 400);
  StreamReader a1(rig.port, alice), a2(rig.port, alice);
  REQUIRE(a1.WaitFor("event: jobs\n"));
  REQUIRE(a2.WaitFor("event: jobs\n"));
  // Alice's third tab: her own cap, whatever the site's.
  CHECK(rig.Client().Get("/api/v1/stream", httplib::Headers{{"Cookie", alice}})->status == 503);
  // Carol takes the site's last slot and goes away without a word; until the server notices,
  // Bob finds the site full.
  CHECK(OpenAndHangUp(rig, carol) == 200);
  CHECK(rig.Client().Get("/api/v1/stream", httplib::Headers{{"Cookie", bob}})->status == 503);
  // The next one-second comment to Carol fails to write and her slot comes back.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int bob_got = 0;
  while (bob_got != 200 && std::chrono::steady_clock::now() < deadline) {
    bob_got = OpenAndHangUp(rig, bob);
    if (bob_got != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the server's thread, not ours
  }
  CHECK(bob_got == 200);
  // Without a session or token: 401 before anything streams.
  CHECK(rig.Client().Get("/api/v1/stream")->status == 401);
  rig.feed.Close();  // as the dispatcher stops: open streams end, not at their next check
  CHECK(a1.WaitEnded(std::chrono::seconds(5)));
  CHECK(a2.WaitEnded(std::chrono::seconds(5)));
}

}  // namespace
}  // namespace dcops::dispatcher
