#include "dcops/redfish/task.hpp"

#include <fmt/format.h>

#include <map>

namespace dcops::redfish {
namespace {

using State = TaskStatus::State;

// Dell JobState values (DellJob schema).
const std::map<std::string, State> kJobStates{
    {"New", State::kPending},           {"Scheduling", State::kPending},
    {"Scheduled", State::kScheduled},   {"Waiting", State::kPending},
    {"Downloading", State::kRunning},   {"Downloaded", State::kRunning},
    {"Running", State::kRunning},       {"ReadyForExecution", State::kPending},
    {"Paused", State::kPending},        {"Completed", State::kCompleted},
    {"CompletedWithErrors", State::kFailed}, {"Failed", State::kFailed},
    {"Aborted", State::kFailed}};

// Redfish TaskState values (Task schema).
const std::map<std::string, State> kTaskStates{
    {"New", State::kPending},         {"Starting", State::kPending},  {"Pending", State::kPending},
    {"Running", State::kRunning},     {"Stopping", State::kRunning},  {"Suspended", State::kPending},
    {"Interrupted", State::kFailed},  {"Killed", State::kFailed},     {"Cancelled", State::kFailed},
    {"Cancelling", State::kRunning},  {"Exception", State::kFailed},  {"Service", State::kRunning},
    {"Completed", State::kCompleted}};

Result<State> Lookup(const Document& doc, const std::map<std::string, State>& states, std::string_view path) {
  auto value = doc.String(path);
  if (!value) return value.error();
  auto it = states.find(*value);
  if (it == states.end()) {
    return MakeError("redfish.schema", fmt::format("{}: {} '{}' is not a known state", doc.resource(), path, *value));
  }
  return it->second;
}

}  // namespace

const char* StateName(State s) {
  switch (s) {
    case State::kPending: return "pending";
    case State::kScheduled: return "scheduled";
    case State::kRunning: return "running";
    case State::kCompleted: return "completed";
    case State::kFailed: return "failed";
  }
  return "pending";
}

Result<TaskStatus> ParseTask(const Document& doc) {
  TaskStatus t;
  const bool dell_in_task = doc.Find("Oem/Dell/JobState") != nullptr;
  const std::string prefix = doc.Find("JobState") != nullptr ? "" : dell_in_task ? "Oem/Dell/" : "";
  if (doc.Find("JobState") != nullptr || dell_in_task) {
    auto state = Lookup(doc, kJobStates, prefix + "JobState");
    if (!state) return state.error();
    t.state = *state;
    t.message = doc.OptionalString(prefix + "Message").value_or("");
    t.message_id = doc.OptionalString(prefix + "MessageId").value_or("");
    t.job_type = doc.OptionalString(prefix + "JobType").value_or("");
  } else if (doc.Find("TaskState") != nullptr) {
    auto state = Lookup(doc, kTaskStates, "TaskState");
    if (!state) return state.error();
    t.state = *state;
    // A task that ended with TaskStatus Critical did not do its job, whatever its state says.
    if (t.state == State::kCompleted && doc.OptionalString("TaskStatus").value_or("OK") == "Critical") {
      t.state = State::kFailed;
    }
    if (const auto* messages = doc.Find("Messages"); messages != nullptr && messages->IsArray() &&
                                                      !messages->Empty() && (*messages)[messages->Size() - 1].IsObject()) {
      const auto& last = (*messages)[messages->Size() - 1];
      if (last.HasMember("Message") && last["Message"].IsString()) t.message = last["Message"].GetString();
      if (last.HasMember("MessageId") && last["MessageId"].IsString()) t.message_id = last["MessageId"].GetString();
    }
  } else {
    return MakeError("redfish.schema", fmt::format("{}: neither TaskState nor JobState is present", doc.resource()));
  }
  auto pct = doc.MaybeInt(prefix + "PercentComplete");
  if (!pct) return pct.error();
  t.percent = static_cast<int>(pct->value_or(t.state == State::kCompleted ? 100 : 0));
  return t;
}

}  // namespace dcops::redfish
