#include "metrics.hpp"

#include <fmt/format.h>

namespace dcops::dispatcher {
namespace {

// Label values are step kinds and fixed words; escape anyway so a label can never break a line.
std::string Label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void DispatcherMetrics::StepStarted(const std::string& kind, double pickup_seconds) {
  std::lock_guard lock(mu_);
  ++started_[kind];
  for (std::size_t i = 0; i < kPickupBuckets.size(); ++i) {
    if (pickup_seconds <= kPickupBuckets[i]) ++pickup_buckets_[i];
  }
  ++pickup_count_;
  pickup_sum_ += pickup_seconds;
}

void DispatcherMetrics::StepFinished(const std::string& kind, const std::string& outcome) {
  std::lock_guard lock(mu_);
  ++finished_[{kind, outcome}];
}

void DispatcherMetrics::LimitWait() {
  std::lock_guard lock(mu_);
  ++limit_waits_;
}

void DispatcherMetrics::SetTargetsAtLimit(long n) {
  std::lock_guard lock(mu_);
  targets_at_limit_ = n;
}

void DispatcherMetrics::SetQueueDepth(const std::map<std::string, long>& by_state) {
  std::lock_guard lock(mu_);
  queue_ = by_state;
}

void DispatcherMetrics::SetGauges(int agents_connected, int steps_running, bool leader) {
  std::lock_guard lock(mu_);
  agents_ = agents_connected;
  running_ = steps_running;
  leader_ = leader;
}

std::string DispatcherMetrics::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  out += "# HELP dcops_queue_steps Unfinished steps of this site by state.\n# TYPE dcops_queue_steps gauge\n";
  for (const auto& [state, n] : queue_) out += fmt::format("dcops_queue_steps{{state=\"{}\"}} {}\n", Label(state), n);
  out += "# HELP dcops_steps_started_total Steps assigned to agents.\n# TYPE dcops_steps_started_total counter\n";
  for (const auto& [kind, n] : started_) out += fmt::format("dcops_steps_started_total{{kind=\"{}\"}} {}\n", Label(kind), n);
  out += "# HELP dcops_steps_finished_total Step results by outcome.\n# TYPE dcops_steps_finished_total counter\n";
  for (const auto& [key, n] : finished_) {
    out += fmt::format("dcops_steps_finished_total{{kind=\"{}\",outcome=\"{}\"}} {}\n", Label(key.first),
                       Label(key.second), n);
  }
  out += "# HELP dcops_step_pickup_seconds From a step becoming ready to its Assign.\n"
         "# TYPE dcops_step_pickup_seconds histogram\n";
  for (std::size_t i = 0; i < kPickupBuckets.size(); ++i) {
    out += fmt::format("dcops_step_pickup_seconds_bucket{{le=\"{}\"}} {}\n", kPickupBuckets[i], pickup_buckets_[i]);
  }
  out += fmt::format("dcops_step_pickup_seconds_bucket{{le=\"+Inf\"}} {}\n", pickup_count_);
  out += fmt::format("dcops_step_pickup_seconds_sum {}\ndcops_step_pickup_seconds_count {}\n", pickup_sum_,
                     pickup_count_);
  out += fmt::format("# HELP dcops_limit_waits_total Claimed steps handed back: their target reached its limit first.\n"
                     "# TYPE dcops_limit_waits_total counter\ndcops_limit_waits_total {}\n", limit_waits_);
  out += fmt::format("# HELP dcops_targets_at_limit Targets at their per-target limit, left out of claims.\n"
                     "# TYPE dcops_targets_at_limit gauge\ndcops_targets_at_limit {}\n", targets_at_limit_);
  out += fmt::format("# HELP dcops_agents_connected Agents with an open stream to this dispatcher.\n"
                     "# TYPE dcops_agents_connected gauge\ndcops_agents_connected {}\n", agents_);
  out += fmt::format("# HELP dcops_steps_running Steps this dispatcher's agents are running.\n"
                     "# TYPE dcops_steps_running gauge\ndcops_steps_running {}\n", running_);
  out += fmt::format("# HELP dcops_leader 1 while this dispatcher leads its site, else 0.\n"
                     "# TYPE dcops_leader gauge\ndcops_leader {}\n", leader_ ? 1 : 0);
  return out;
}

}  // namespace dcops::dispatcher
