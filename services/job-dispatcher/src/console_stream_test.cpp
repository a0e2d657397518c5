// The console's event stream: what each round sends, from answers the test gives (no network).
#include "console_stream.hpp"

#include <catch2/catch.hpp>
#include <thread>

#include "change_feed.hpp"

namespace dcops::dispatcher {
namespace {

// Canned answers per path; records what was asked.
struct FakeApi {
  std::map<std::string, ApiResponse> answers;
  std::vector<std::string> asked;
  ConsoleStream::Get Getter() {
    return [this](const std::string& path, const std::map<std::string, std::string>& query) {
      std::string key = path;
      if (auto it = query.find("after"); it != query.end()) key += "?after=" + it->second;
      asked.push_back(key);
      auto it = answers.find(key);
      return it == answers.end() ? ApiResponse{404, R"({"error":{"code":"not_found","message":"no"}})"} : it->second;
    };
  }
};

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_CASE("SseFrame names the event and puts every line of data on a data: line", "[console]") {
  CHECK(SseFrame("jobs", R"({"jobs":[]})") == "event: jobs\ndata: {\"jobs\":[]}\n\n");
  CHECK(SseFrame("x", "a\nb", "7") == "event: x\ndata: a\ndata: b\nid: 7\n\n");
  // CR and CRLF end a line too, for a browser: each is a data: line, never a field of its own.
  CHECK(SseFrame("x", "a\r\nb\revent: forged") == "event: x\ndata: a\ndata: b\ndata: event: forged\n\n");
}

TEST_CASE("A stream sends a full snapshot first, then only what changed", "[console]") {
  FakeApi api;
  const std::string job = "/api/v1/jobs/0b7a3c1e-8a51-4c1c-9a43-2b9f0f0b1c11";
  api.answers["/api/v1/jobs"] = {200, R"({"jobs":[{"id":"1","status":"running"}]})"};
  api.answers["/api/v1/agents"] = {200, R"({"agents":[]})"};
  api.answers["/api/v1/limits"] = {200, R"({"limits":[]})"};
  api.answers[job] = {200, R"({"id":"1","status":"running","steps":[]})"};
  api.answers[job + "/events?after=0"] = {200, R"({"events":[{"id":5,"message":"a"},{"id":9,"message":"b"}]})"};
  api.answers[job + "/events?after=9"] = {200, R"({"events":[]})"};
  ConsoleStream stream("0b7a3c1e-8a51-4c1c-9a43-2b9f0f0b1c11", 0);

  auto first = stream.Next(api.Getter());
  CHECK(Count(first.frames, "event: ") == 5);
  CHECK(first.frames.find("event: events\ndata: {\"events\":[{\"id\":5") != std::string::npos);
  CHECK(first.frames.find("id: 9\n") != std::string::npos);
  CHECK(stream.after() == 9);
  CHECK_FALSE(first.more);
  CHECK_FALSE(first.end);

  auto quiet = stream.Next(api.Getter());
  CHECK(quiet.frames.empty());

  api.answers["/api/v1/jobs"] = {200, R"({"jobs":[{"id":"1","status":"succeeded"}]})"};
  api.answers[job + "/events?after=9"] = {200, R"({"events":[{"id":12,"message":"done"}]})"};
  auto moved = stream.Next(api.Getter());
  CHECK(Count(moved.frames, "event: ") == 2);
  CHECK(moved.frames.find("event: jobs\n") != std::string::npos);
  CHECK(moved.frames.find("\"succeeded\"") != std::string::npos);
  CHECK(moved.frames.find("event: events\n") != std::string::npos);
  CHECK(stream.after() == 12);
}

TEST_CASE("A stream without a job reads no job, and a full batch of events asks for another round", "[console]") {
  FakeApi api;
  api.answers["/api/v1/jobs"] = {200, R"({"jobs":[]})"};
  api.answers["/api/v1/agents"] = {200, R"({"agents":[]})"};
  api.answers["/api/v1/limits"] = {200, R"({"limits":[]})"};
  ConsoleStream none("", 0);
  none.Next(api.Getter());
  CHECK(api.asked == std::vector<std::string>{"/api/v1/jobs", "/api/v1/agents", "/api/v1/limits"});

  const std::string id = "0b7a3c1e-8a51-4c1c-9a43-2b9f0f0b1c11";
  std::string many = R"({"events":[)";
  for (int i = 1; i <= ConsoleStream::kEventsPerRound; ++i) many += (i > 1 ? "," : "") + std::string(R"({"id":)") + std::to_string(i) + "}";
  api.answers["/api/v1/jobs/" + id] = {200, "{}"};
  api.answers["/api/v1/jobs/" + id + "/events?after=0"] = {200, many + "]}"};
  ConsoleStream busy(id, 0);
  auto round = busy.Next(api.Getter());
  CHECK(round.more);
  CHECK(busy.after() == ConsoleStream::kEventsPerRound);
}

TEST_CASE("A problem is said once when it starts and once when it ends, and a lost session ends the stream", "[console]") {
  FakeApi api;
  api.answers["/api/v1/jobs"] = {503, R"({"error":{"code":"unavailable","message":"retry"}})"};
  api.answers["/api/v1/agents"] = {503, R"({"error":{"code":"unavailable","message":"retry"}})"};
  api.answers["/api/v1/limits"] = {200, R"({"limits":[]})"};
  ConsoleStream stream("", 0);
  auto down = stream.Next(api.Getter());
  CHECK(Count(down.frames, "event: problem\n") == 1);
  CHECK(down.frames.find("unavailable") != std::string::npos);
  CHECK(stream.Next(api.Getter()).frames.empty());

  api.answers["/api/v1/jobs"] = {200, R"({"jobs":[]})"};
  api.answers["/api/v1/agents"] = {200, R"({"agents":[]})"};
  auto back = stream.Next(api.Getter());
  CHECK(back.frames.find("event: problem\ndata: {\"error\":null}") != std::string::npos);
  CHECK(back.frames.find("event: jobs\n") != std::string::npos);

  api.answers["/api/v1/jobs"] = {401, R"({"error":{"code":"unauthorized","message":"x"}})"};
  auto out = stream.Next(api.Getter());
  CHECK(out.end);
  CHECK(out.frames == "event: signed_out\ndata: {}\n\n");
}

TEST_CASE("ChangeFeed wakes a waiter on a new generation, on changed limits and on Close", "[console]") {
  ChangeFeed feed;
  const auto soon = ChangeFeed::Steady::now();  // already past: WaitBeyond does not block
  CHECK(feed.WaitBeyond(0, soon) == 0);
  feed.Publish();
  CHECK(feed.WaitBeyond(0, soon) == 1);
  feed.SetLimits("[]");  // unchanged: no new generation
  CHECK(feed.generation() == 1);
  feed.SetLimits(R"([{"target":"idrac:127.0.0.2"}])");
  CHECK(feed.generation() == 2);
  CHECK(feed.Limits() == R"([{"target":"idrac:127.0.0.2"}])");
  // A waiter is woken by a publish and by Close, long before its deadline (a minute).
  using Steady = ChangeFeed::Steady;
  for (bool close : {false, true}) {
    const auto start = Steady::now();
    const auto seen = feed.generation();
    std::uint64_t woke = 0;
    std::thread waiter([&] { woke = feed.WaitBeyond(seen, Steady::now() + std::chrono::minutes(1)); });
    if (close) {
      feed.Close();
    } else {
      feed.Publish();
    }
    waiter.join();
    CHECK(Steady::now() - start < std::chrono::seconds(30));
    CHECK(woke == (close ? seen : seen + 1));
  }
  CHECK(feed.closed());
}

}  // namespace
}  // namespace dcops::dispatcher
