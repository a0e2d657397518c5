#include "dcops/common/log.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

namespace dcops {
namespace {

rapidjson::Document Parse(const std::string& line) {
  rapidjson::Document doc;
  doc.Parse(line.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  return doc;
}

TEST_CASE("A log record is one JSON object with the standard keys", "[log]") {
  MemorySink sink;
  FakeClock clock;
  Logger log("job-dispatcher", sink, clock);
  log.Info("step \"leased\"\nnext", LogContext{"j1", "t1", "tr1", "idrac:127.0.1.1"},
           {{"attempt", std::int64_t{2}}, {"ok", true}});
  const auto lines = sink.lines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find('\n') == std::string::npos);
  auto doc = Parse(lines[0]);
  CHECK(std::string(doc["level"].GetString()) == "info");
  CHECK(std::string(doc["msg"].GetString()) == "step \"leased\"\nnext");
  CHECK(std::string(doc["service"].GetString()) == "job-dispatcher");
  CHECK(std::string(doc["job_id"].GetString()) == "j1");
  CHECK(std::string(doc["task_id"].GetString()) == "t1");
  CHECK(std::string(doc["trace_id"].GetString()) == "tr1");
  CHECK(std::string(doc["target"].GetString()) == "idrac:127.0.1.1");
  CHECK(doc["attempt"].GetInt64() == 2);
  CHECK(doc["ok"].GetBool());
  CHECK(std::string(doc["ts"].GetString()).size() == 24);
}

TEST_CASE("A configured level drops the lines below it (DCOPS_LOG_LEVEL)", "[log]") {
  MemorySink sink;
  FakeClock clock;
  Logger base("job-dispatcher", sink, clock);
  const Logger warn = base.WithMinLevel(LogLevelFromName("warn"));
  warn.Info("routine");
  warn.Warn("worth a look");
  base.WithMinLevel(LogLevelFromName("debug")).Debug("detail");
  const auto lines = sink.lines();
  REQUIRE(lines.size() == 2);
  CHECK(std::string(Parse(lines[0])["msg"].GetString()) == "worth a look");
  CHECK(std::string(Parse(lines[1])["level"].GetString()) == "debug");
  CHECK(LogLevelFromName("error") == LogLevel::kError);
  CHECK(LogLevelFromName("nonsense") == LogLevel::kInfo);
}

TEST_CASE("Context keys are omitted when unknown", "[log]") {
  MemorySink sink;
  FakeClock clock;
  Logger log("idrac-worker", sink, clock);
  log.Warn("starting");
  auto doc = Parse(sink.lines().at(0));
  CHECK_FALSE(doc.HasMember("job_id"));
  CHECK_FALSE(doc.HasMember("target"));
  CHECK(std::string(doc["level"].GetString()) == "warn");
}

TEST_CASE("Secrets never reach a log line, by key or by value", "[log][secrets]") {
  MemorySink sink;
  FakeClock clock;
  SecretRegistry secrets;
  secrets.Add("Sup3rS3cret!");
  Logger log("idrac-worker", sink, clock, &secrets);
  log.Error("login failed for root with Sup3rS3cret!", {},
            {{"password", std::string("calvin")}, {"detail", std::string("pw=Sup3rS3cret!")},
             {"username", std::string("root")}});
  const std::string line = sink.lines().at(0);
  CHECK(line.find("Sup3rS3cret!") == std::string::npos);
  CHECK(line.find("calvin") == std::string::npos);
  auto doc = Parse(line);
  CHECK(std::string(doc["password"].GetString()) == "[REDACTED]");
  CHECK(std::string(doc["detail"].GetString()) == "pw=[REDACTED]");
  CHECK(std::string(doc["username"].GetString()) == "root");
}

TEST_CASE("Records below the minimum level are dropped", "[log]") {
  MemorySink sink;
  FakeClock clock;
  Logger log("x", sink, clock, nullptr, LogLevel::kWarn);
  log.Debug("d");
  log.Info("i");
  log.Error("e");
  REQUIRE(sink.lines().size() == 1);
  CHECK(std::string(Parse(sink.lines()[0])["msg"].GetString()) == "e");
}

}  // namespace
}  // namespace dcops
