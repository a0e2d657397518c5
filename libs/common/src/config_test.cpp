#include "dcops/common/config.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>

namespace dcops {
namespace {

struct Options {
  std::string database_url;
  std::string site = "default";
  std::int64_t lease_seconds = 30;
  bool insecure_dev = false;
  std::chrono::milliseconds heartbeat{5000};
  std::string log_level = "info";
};

ConfigSpec SpecFor(Options* o) {
  ConfigSpec spec("DCOPS_");
  spec.String("DATABASE_URL", &o->database_url, "control-plane DSN", true)
      .String("SITE", &o->site, "site name")
      .Int("LEASE_SECONDS", &o->lease_seconds, 5, 3600, "step lease")
      .Bool("INSECURE_DEV", &o->insecure_dev, "allow plaintext")
      .Duration("HEARTBEAT", &o->heartbeat, "heartbeat interval")
      .OneOf("LOG_LEVEL", &o->log_level, {"debug", "info", "warn", "error"}, "log level");
  return spec;
}

Result<std::string> NoFiles(const std::string& path) {
  return MakeError("io.open", "no file " + path);
}

TEST_CASE("Typed values load from the environment over defaults", "[config]") {
  Options o;
  auto spec = SpecFor(&o);
  Environment env{{"DCOPS_DATABASE_URL", "postgres://u:pw@127.0.0.1/db"},
                  {"DCOPS_LEASE_SECONDS", "45"},
                  {"DCOPS_INSECURE_DEV", "yes"},
                  {"DCOPS_HEARTBEAT", "750ms"},
                  {"OTHER_VAR", "ignored"}};
  REQUIRE(spec.Load(env, NoFiles).ok());
  CHECK(o.database_url == "postgres://u:pw@127.0.0.1/db");
  CHECK(o.site == "default");
  CHECK(o.lease_seconds == 45);
  CHECK(o.insecure_dev);
  CHECK(o.heartbeat == std::chrono::milliseconds(750));
}

TEST_CASE("Unknown, malformed and missing keys are named in the error", "[config]") {
  Options o;
  auto spec = SpecFor(&o);
  Environment env{{"DCOPS_LEASE_SECONDS", "abc"},
                  {"DCOPS_HEARTBEET", "5s"},
                  {"DCOPS_LOG_LEVEL", "loud"}};
  auto st = spec.Load(env, NoFiles);
  REQUIRE_FALSE(st.ok());
  const auto& msg = st.error().message;
  CHECK(st.error().code == "config.invalid");
  CHECK(msg.find("DCOPS_LEASE_SECONDS: expected an integer, got 'abc'") != std::string::npos);
  CHECK(msg.find("DCOPS_HEARTBEET: unknown configuration key") != std::string::npos);
  CHECK(msg.find("DCOPS_DATABASE_URL: required but not set") != std::string::npos);
  CHECK(msg.find("DCOPS_LOG_LEVEL: expected one of debug, info, warn, error") !=
        std::string::npos);
}

TEST_CASE("Out-of-range integers and bad durations are rejected", "[config]") {
  Options o;
  auto spec = SpecFor(&o);
  auto st = spec.Load({{"DCOPS_DATABASE_URL", "x"}, {"DCOPS_LEASE_SECONDS", "1"},
                       {"DCOPS_HEARTBEAT", "5 parsecs"}},
                      NoFiles);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("DCOPS_LEASE_SECONDS: 1 is outside 5..3600") !=
        std::string::npos);
  CHECK(st.error().message.find("DCOPS_HEARTBEAT: unknown duration unit") != std::string::npos);
}

TEST_CASE("A config file supplies values and the environment overrides it", "[config]") {
  Options o;
  auto spec = SpecFor(&o);
  auto files = [](const std::string& path) -> Result<std::string> {
    REQUIRE(path == "/etc/dcops/dispatcher.env");
    return std::string(
        "# dispatcher\nexport DCOPS_DATABASE_URL=\"postgres://file\"\n\nDCOPS_SITE=lab\n"
        "DCOPS_LEASE_SECONDS=60\n");
  };
  REQUIRE(spec.Load({{"DCOPS_CONFIG_FILE", "/etc/dcops/dispatcher.env"},
                     {"DCOPS_LEASE_SECONDS", "90"}},
                    files)
              .ok());
  CHECK(o.database_url == "postgres://file");
  CHECK(o.site == "lab");
  CHECK(o.lease_seconds == 90);
}

TEST_CASE("A malformed file line and a missing file are clear errors", "[config]") {
  Options o;
  auto spec = SpecFor(&o);
  auto bad = [](const std::string&) -> Result<std::string> { return std::string("JUNK\n"); };
  auto st = spec.Load({{"DCOPS_CONFIG_FILE", "site.env"}}, bad);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message == "site.env:1: expected KEY=VALUE");
  auto missing = spec.Load({{"DCOPS_CONFIG_FILE", "nope.env"}}, NoFiles);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("DCOPS_CONFIG_FILE") != std::string::npos);
}

TEST_CASE("Secret values never appear in configuration errors", "[config][secrets]") {
  std::int64_t n = 0;
  ConfigSpec spec("DCOPS_");
  spec.Int("AGENT_TOKEN", &n, 0, 10, "not really an int, but shows the rule");
  auto st = spec.Load({{"DCOPS_AGENT_TOKEN", "tok-abc-123"}}, NoFiles);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("tok-abc-123") == std::string::npos);
  CHECK(st.error().message.find("DCOPS_AGENT_TOKEN") != std::string::npos);
}

TEST_CASE("Secret files lose trailing whitespace, and an empty one is an error", "[config][secrets]") {
  char path[] = "/tmp/dcops-secret-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, "tok-123\n\n", 9) == 9);
  ::close(fd);
  auto secret = ReadSecretFile(path);
  REQUIRE(secret.ok());
  CHECK(*secret == "tok-123");
  std::FILE* f = std::fopen(path, "w");
  std::fclose(f);
  auto empty = ReadSecretFile(path);
  ::unlink(path);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().message == std::string(path) + " is empty");
}

TEST_CASE("A duration too long for milliseconds is an error, not an overflow (found by fuzzing)", "[config]") {
  auto huge = ParseDuration("114444444444444444");
  REQUIRE_FALSE(huge);
  CHECK(huge.error().message == "duration 114444444444444444 is too long");
  CHECK(ParseDuration("9223372036854775807ms")->count() == 9223372036854775807);
  CHECK_FALSE(ParseDuration("9223372036854776h"));
}

}  // namespace
}  // namespace dcops
