// Task and Dell job documents into one status, including states this client must refuse.
#include "dcops/redfish/task.hpp"

#include <catch2/catch.hpp>

namespace dcops::redfish {
namespace {

Document Doc(const std::string& body) {
  auto d = Document::Parse("/redfish/v1/TaskService/Tasks/JID_1", body);
  REQUIRE(d);
  return *d;
}

TEST_CASE("A Redfish task carrying Dell's job state reads as that job state", "[task]") {
  auto t = ParseTask(Doc(R"({"TaskState": "Running", "PercentComplete": 0,
    "Oem": {"Dell": {"JobState": "Scheduled", "PercentComplete": 0, "Message": "Task successfully scheduled.",
                     "MessageId": "IDRAC.2.8.JCP001", "JobType": "FirmwareUpdate"}}})"));
  REQUIRE(t);
  CHECK(t->state == TaskStatus::State::kScheduled);
  CHECK(t->job_type == "FirmwareUpdate");
  CHECK(t->message_id == "IDRAC.2.8.JCP001");
}

TEST_CASE("A plain Redfish task: progress, the last message, and Critical meaning failed", "[task]") {
  auto running = ParseTask(Doc(R"({"TaskState": "Running", "PercentComplete": 40,
    "Messages": [{"MessageId": "Update.1.0.TransferringToComponent", "Message": "Transferring"}]})"));
  REQUIRE(running);
  CHECK(running->state == TaskStatus::State::kRunning);
  CHECK(running->percent == 40);
  CHECK(running->message == "Transferring");
  auto critical = ParseTask(Doc(R"({"TaskState": "Completed", "TaskStatus": "Critical", "Messages": []})"));
  REQUIRE(critical);
  CHECK(critical->state == TaskStatus::State::kFailed);
  auto done = ParseTask(Doc(R"({"TaskState": "Completed"})"));
  REQUIRE(done);
  CHECK(done->percent == 100);
}

TEST_CASE("A Dell job, and documents that are neither or carry unknown states", "[task]") {
  auto job = ParseTask(Doc(R"({"JobState": "Failed", "PercentComplete": 100, "Message": "Unable to verify Update Package signature.", "MessageId": "RED004"})"));
  REQUIRE(job);
  CHECK(job->state == TaskStatus::State::kFailed);
  auto odd = ParseTask(Doc(R"({"JobState": "Dancing"})"));
  REQUIRE_FALSE(odd);
  CHECK(odd.error().message == "/redfish/v1/TaskService/Tasks/JID_1: JobState 'Dancing' is not a known state");
  auto neither = ParseTask(Doc(R"({"Id": "JID_1"})"));
  REQUIRE_FALSE(neither);
  CHECK(neither.error().code == "redfish.schema");
  auto mistyped = ParseTask(Doc(R"({"TaskState": "Running", "PercentComplete": "forty"})"));
  REQUIRE_FALSE(mistyped);
  CHECK(mistyped.error().message == "/redfish/v1/TaskService/Tasks/JID_1: PercentComplete is not an integer");
}

}  // namespace
}  // namespace dcops::redfish
