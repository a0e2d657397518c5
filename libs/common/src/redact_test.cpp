#include "dcops/common/redact.hpp"

#include <catch2/catch.hpp>

namespace dcops {
namespace {

TEST_CASE("Secret-named keys are recognised whatever their spelling", "[redact]") {
  for (const char* key : {"password", "Password", "DCOPS_AGENT_TOKEN", "X-Auth-Token",
                          "api_key", "client_secret", "ciphertext", "Authorization", "key"}) {
    INFO(key);
    CHECK(IsSecretKey(key));
  }
  for (const char* key : {"job_id", "task_id", "target", "username", "secret_key_file",
                          "credential_set", "monkey", "token_id", "keyboard"}) {
    INFO(key);
    CHECK_FALSE(IsSecretKey(key));
  }
}

TEST_CASE("Connection strings lose their passwords and keep the rest", "[redact]") {
  CHECK(RedactConnectionString("postgres://disp:s3cr3t@127.0.0.1:5432/dcops") ==
        "postgres://disp:[REDACTED]@127.0.0.1:5432/dcops");
  CHECK(RedactConnectionString("postgresql://u@h/db?password=abc&sslmode=require") ==
        "postgresql://u@h/db?password=[REDACTED]&sslmode=require");
  CHECK(RedactConnectionString("host=127.0.0.1 password='p w' user=x") ==
        "host=127.0.0.1 password=[REDACTED] user=x");
  CHECK(RedactConnectionString("host=h password = pw dbname=d") ==
        "host=h password = [REDACTED] dbname=d");
  CHECK(RedactConnectionString("host=h dbname=d") == "host=h dbname=d");
}

TEST_CASE("Registered secret values are scrubbed from any text", "[redact]") {
  SecretRegistry reg;
  reg.Add("hunter2");
  reg.Add("hunter2-long");
  reg.Add("");
  CHECK(reg.size() == 2);
  CHECK(reg.Scrub("login with hunter2-long failed, hunter2 too") ==
        "login with [REDACTED] failed, [REDACTED] too");
  CHECK(reg.Scrub("nothing here") == "nothing here");
}

}  // namespace
}  // namespace dcops
