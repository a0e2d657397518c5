#pragma once
// A simulated iDRAC's Lifecycle Controller job queue: Dell "JID_…" jobs that are scheduled,
// wait for a host reboot when their component needs one, run for a while with progress, then
// complete or fail. The Bmc applies a completed job's effect (a new firmware version, BIOS
// attributes) and exposes each job both as a Dell Job and as a Redfish Task.
//
// Time is passed in. Thread-safety: none; the owning Bmc locks around every call.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dcops::sim {

using SimTime = std::chrono::steady_clock::time_point;

struct SimJob {
  std::string id;    // "JID_000000000101"
  std::string type;  // Dell JobType: "FirmwareUpdate", "BIOSConfiguration", "ExportConfiguration", …
  std::string name;
  std::string state = "Scheduled";  // Dell JobState: Downloading, Scheduled, Running, Completed, Failed
  int percent = 0;
  std::string message_id = "JCP001";
  std::string message = "Task successfully scheduled.";
  bool waits_for_reboot = false;    // runs when the host next resets
  std::chrono::milliseconds start_delay{0};  // after that reset (the iDRAC's own update goes last)
  std::chrono::milliseconds duration{0};
  SimTime run_from{};               // when it starts running (unset while waiting for a reboot)
  bool started = false;
  // A SimpleUpdate's package is fetched first: the job is "Downloading" until the fetch has
  // ended (`fetched`) and `ready_at` has come (the download's realistic time), then it is
  // scheduled like any update, or fails at once when the download failed.
  bool fetched = false;
  bool download_failed = false;
  SimTime ready_at{};
  // What it does when it completes (the Bmc reads these).
  std::string component;   // firmware: Dell component id
  std::string version;     // firmware: the version it installs
  std::map<std::string, std::string> attributes;  // BIOS: attributes it applies
  std::map<std::string, std::string> idrac_attributes;  // import: iDRAC attributes it applies
  bool power_off_after = false;  // import: HostPowerState Off
  std::string output;      // export: the profile it produced
  std::string image_uri;   // SimpleUpdate: the package it downloads
  std::string done_message_id;  // set: the message of its successful end (SCP: SYS043, SYS053, …)
  std::string done_message;
  std::string fail_message_id;  // set: the job fails at the end with this message
  std::string fail_message;
};

class JobQueue {
 public:
  // Queues `job` (its id is assigned here) and returns the id. A "Downloading" job waits for
  // its package (Downloaded) before anything else.
  std::string Add(SimJob job, SimTime now);
  // The host reset at `at`: jobs waiting for a reboot start running during POST.
  void HostReset(SimTime at);
  // Moves jobs along; returns the jobs that finished (completed or failed) since the last call.
  std::vector<SimJob> Advance(SimTime now);
  std::optional<SimJob> Find(const std::string& id) const;
  // The job to finish a download on (nullptr when it is gone or not downloading).
  SimJob* Downloading(const std::string& id);
  std::vector<SimJob> List() const;
  bool AnyRunning() const;
  // Deletes every job (Dell's JID_CLEARALL); returns how many were deleted.
  std::size_t Clear();

 private:
  std::map<std::string, SimJob> jobs_;
  long next_ = 101;
};

}  // namespace dcops::sim
