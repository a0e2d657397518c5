#pragma once
// The state of something a BMC is doing in the background: a Redfish Task (TaskService)
// or a Dell Lifecycle Controller job (Managers/iDRAC.Embedded.1/Jobs/JID_…). Both shapes
// read into one TaskStatus; Dell's JobState is preferred when a Task carries it, because it
// tells "scheduled for the next reboot" apart from "running".
//
// Thread-safety: values and pure functions.

#include <string>

#include "dcops/redfish/json.hpp"

namespace dcops::redfish {

struct TaskStatus {
  enum class State {
    kPending,    // accepted, not running yet
    kScheduled,  // waits for a host reboot (Dell JobState "Scheduled")
    kRunning,
    kCompleted,
    kFailed,
  };
  State state = State::kPending;
  int percent = 0;
  std::string message_id;  // "IDRAC.2.8.RED001"
  std::string message;
  std::string job_type;    // Dell JobType when known ("FirmwareUpdate")
  bool finished() const { return state == State::kCompleted || state == State::kFailed; }
};

const char* StateName(TaskStatus::State s);

// A schema error (naming resource and field) when the document is neither shape or carries
// a state this client does not know.
Result<TaskStatus> ParseTask(const Document& doc);

}  // namespace dcops::redfish
