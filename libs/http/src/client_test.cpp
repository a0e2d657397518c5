#include "dcops/http/client.hpp"

#include <catch2/catch.hpp>

#include <deque>

namespace dcops::http {
namespace {

using std::chrono::milliseconds;

// Answers from a script, and remembers what was asked and when (on the fake clock).
class ScriptedTransport final : public Transport {
 public:
  explicit ScriptedTransport(const Clock& clock) : clock_(clock) {}
  void Then(Result<Response> r) { script_.push_back(std::move(r)); }
  void ThenStatus(int status, Headers headers = {}) {
    Response r;
    r.status = status;
    r.headers = std::move(headers);
    Then(std::move(r));
  }
  Result<Response> Send(const Request& request, const ClientOptions&) override {
    sent_.push_back({request.url, clock_.Steady()});
    REQUIRE_FALSE(script_.empty());
    auto r = std::move(script_.front());
    script_.pop_front();
    return r;
  }
  struct Sent { std::string url; Clock::SteadyTime at; };
  const std::vector<Sent>& sent() const { return sent_; }

 private:
  const Clock& clock_;
  std::deque<Result<Response>> script_;
  std::vector<Sent> sent_;
};

ClientOptions NoJitter() {
  ClientOptions o;
  o.retry.max_attempts = 3;
  o.retry.backoff = BackoffPolicy{milliseconds(100), milliseconds(1000), 2.0, 0.0, 0};
  return o;
}

Request Get(std::string url = "https://127.0.1.1/redfish/v1") {
  Request r;
  r.url = std::move(url);
  return r;
}

TEST_CASE("Idempotent requests retry listed statuses with exponential backoff", "[http]") {
  FakeClock clock;
  ScriptedTransport t(clock);
  t.ThenStatus(503);
  t.ThenStatus(502);
  t.ThenStatus(200);
  Client client(NoJitter(), t, clock);
  auto r = client.Execute(Get());
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->attempts == 3);
  CHECK(clock.slept() == milliseconds(300));  // 100 + 200
}

TEST_CASE("Out of attempts, the last response is returned as a value", "[http]") {
  FakeClock clock;
  ScriptedTransport t(clock);
  for (int i = 0; i < 3; ++i) t.ThenStatus(503);
  Client client(NoJitter(), t, clock);
  auto r = client.Execute(Get());
  REQUIRE(r.ok());
  CHECK(r->status == 503);
  CHECK(r->attempts == 3);
  CHECK(t.sent().size() == 3);
}

TEST_CASE("A POST is not repeated unless the caller says its refusal took no effect", "[http]") {
  FakeClock clock;
  ScriptedTransport t(clock);
  t.ThenStatus(503);
  Client client(NoJitter(), t, clock);
  Request post = Get();
  post.method = Method::kPost;
  auto r = client.Execute(post);
  CHECK(r->status == 503);
  CHECK(t.sent().size() == 1);

  t.ThenStatus(409);
  t.ThenStatus(204);
  post.extra_retry_statuses = {409};  // e.g. power-on refused shortly after power-off
  auto again = client.Execute(post);
  CHECK(again->status == 204);
  CHECK(again->attempts == 2);
}

TEST_CASE("Retry-After is honoured up to the policy's limit", "[http]") {
  FakeClock clock;
  ScriptedTransport t(clock);
  t.ThenStatus(503, {{"retry-after", "2"}});
  t.ThenStatus(429, {{"Retry-After", "3600"}});
  t.ThenStatus(200);
  auto options = NoJitter();
  options.retry.max_retry_after = milliseconds(5000);
  Client client(options, t, clock);
  auto r = client.Execute(Get());
  CHECK(r->status == 200);
  CHECK(clock.slept() == milliseconds(2000 + 5000));
}

TEST_CASE("Transport errors retry only when repeating is safe", "[http]") {
  FakeClock clock;
  ScriptedTransport t(clock);
  Client client(NoJitter(), t, clock);
  Request post = Get();
  post.method = Method::kPost;

  t.Then(MakeError("http.connect", "refused", true));  // never sent: safe for a POST too
  t.ThenStatus(202);
  CHECK(client.Execute(post)->status == 202);

  t.Then(MakeError("http.timeout", "timed out", true));  // may have taken effect
  auto timed_out = client.Execute(post);
  REQUIRE_FALSE(timed_out.ok());
  CHECK(timed_out.error().code == "http.timeout");

  t.Then(MakeError("http.timeout", "timed out", true));
  t.ThenStatus(200);
  CHECK(client.Execute(Get())->status == 200);  // a GET may repeat

  t.Then(MakeError("http.tls", "bad certificate"));
  auto tls = client.Execute(Get());
  REQUIRE_FALSE(tls.ok());
  CHECK(tls.error().code == "http.tls");
  CHECK(tls.error().message == "bad certificate");  // not retried, not decorated

  for (int i = 0; i < 3; ++i) t.Then(MakeError("http.connect", "refused", true));
  auto dead = client.Execute(Get());
  REQUIRE_FALSE(dead.ok());
  CHECK(dead.error().message == "refused (after 3 attempts)");
}

TEST_CASE("Pacing keeps a minimum gap between requests to one host", "[http]") {
  FakeClock clock;
  ScriptedTransport t(clock);
  for (int i = 0; i < 4; ++i) t.ThenStatus(200);
  auto options = NoJitter();
  options.min_interval = milliseconds(250);
  Client client(options, t, clock);
  REQUIRE(client.Execute(Get("https://127.0.1.1/a")).ok());
  REQUIRE(client.Execute(Get("https://127.0.1.1/b")).ok());
  REQUIRE(client.Execute(Get("https://127.0.1.2/a")).ok());  // another BMC: no wait
  REQUIRE(client.Execute(Get("https://127.0.1.1/c")).ok());
  const auto& s = t.sent();
  REQUIRE(s.size() == 4);
  CHECK(s[1].at - s[0].at == milliseconds(250));
  CHECK(s[2].at == s[1].at);
  CHECK(s[3].at - s[1].at == milliseconds(250));
}

TEST_CASE("Response headers are found whatever their case", "[http]") {
  Response r;
  r.headers = {{"X-Auth-Token", "abc"}, {"Location", "/redfish/v1/SessionService/Sessions/3"}};
  CHECK(r.Header("x-auth-token") == "abc");
  CHECK(r.Header("LOCATION") == "/redfish/v1/SessionService/Sessions/3");
  CHECK(r.Header("missing").empty());
  CHECK(HostOf("https://127.0.1.4:8443/redfish/v1?x=1") == "127.0.1.4:8443");
  CHECK(HostOf("http://h") == "h");
}

}  // namespace
}  // namespace dcops::http
