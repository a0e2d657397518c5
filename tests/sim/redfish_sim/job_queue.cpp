#include "job_queue.hpp"

#include <fmt/format.h>

namespace dcops::sim {

std::string JobQueue::Add(SimJob job, SimTime now) {
  job.id = fmt::format("JID_{:012d}", next_++);
  if (!job.waits_for_reboot && job.state != "Downloading") {
    job.run_from = now;
    job.started = true;
  }
  const std::string id = job.id;
  jobs_[id] = std::move(job);
  return id;
}

void JobQueue::HostReset(SimTime at) {
  for (auto& [_, j] : jobs_) {
    if (j.waits_for_reboot && !j.started && j.state == "Scheduled") {
      j.run_from = at + j.start_delay;
      j.started = true;
    }
  }
}

std::vector<SimJob> JobQueue::Advance(SimTime now) {
  std::vector<SimJob> finished;
  for (auto& [_, j] : jobs_) {
    if (j.state == "Downloading") {
      if (!j.fetched || now < j.ready_at) continue;
      if (j.download_failed) {
        j.state = "Failed";
        j.message_id = j.fail_message_id;
        j.message = j.fail_message;
        finished.push_back(j);
        continue;
      }
      j.state = "Scheduled";
      j.message_id = "JCP001";
      j.message = "Task successfully scheduled.";
      if (!j.waits_for_reboot) {
        j.run_from = j.ready_at;
        j.started = true;
      }
    }
    if (!j.started || j.state == "Completed" || j.state == "Failed" || now < j.run_from) continue;
    const auto elapsed = now - j.run_from;
    if (elapsed >= j.duration) {
      j.percent = 100;
      if (j.fail_message_id.empty()) {
        j.state = "Completed";
        j.message_id = !j.done_message_id.empty() ? j.done_message_id : j.type == "FirmwareUpdate" ? "RED001" : "PR19";
        j.message = !j.done_message.empty() ? j.done_message : "Job completed successfully.";
      } else {
        j.state = "Failed";
        j.message_id = j.fail_message_id;
        j.message = j.fail_message;
      }
      finished.push_back(j);
    } else {
      j.state = "Running";
      j.percent = static_cast<int>(100 * elapsed / j.duration);
      j.message_id = "RED003";
      j.message = "Job in progress.";
    }
  }
  return finished;
}

std::optional<SimJob> JobQueue::Find(const std::string& id) const {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

SimJob* JobQueue::Downloading(const std::string& id) {
  auto it = jobs_.find(id);
  return it == jobs_.end() || it->second.state != "Downloading" ? nullptr : &it->second;
}

std::vector<SimJob> JobQueue::List() const {
  std::vector<SimJob> out;
  for (const auto& [_, j] : jobs_) out.push_back(j);
  return out;
}

bool JobQueue::AnyRunning() const {
  for (const auto& [_, j] : jobs_) {
    if (j.state == "Running") return true;
  }
  return false;
}

std::size_t JobQueue::Clear() {
  const std::size_t n = jobs_.size();
  jobs_.clear();
  return n;
}

}  // namespace dcops::sim
