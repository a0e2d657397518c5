#pragma once
// The dispatcher's Prometheus metrics: what /metrics renders.
//
//   dcops_queue_steps{state}                  gauge: steps blocked/ready/leased/running
//   dcops_steps_started_total{kind}           counter
//   dcops_steps_finished_total{kind,outcome}  counter: succeeded/failed/snoozed/cancelled
//   dcops_step_pickup_seconds                 histogram: step ready -> Assign sent
//   dcops_limit_waits_total                   counter: claimed steps handed back because their
//                                             target reached its limit first
//   dcops_targets_at_limit                    gauge: targets left out of claims right now,
//                                             at their per-target limit
//   dcops_agents_connected, dcops_steps_running, dcops_leader   gauges
//
// Thread-safety: every method is safe from any thread (the loop writes, HTTP reads).

#include <array>
#include <map>
#include <mutex>
#include <string>

namespace dcops::dispatcher {

class DispatcherMetrics {
 public:
  void StepStarted(const std::string& kind, double pickup_seconds);
  void StepFinished(const std::string& kind, const std::string& outcome);
  void LimitWait();
  void SetTargetsAtLimit(long n);
  void SetQueueDepth(const std::map<std::string, long>& by_state);
  void SetGauges(int agents_connected, int steps_running, bool leader);

  std::string Render() const;

  // Upper bounds of the pickup histogram's buckets, in seconds.
  static constexpr std::array<double, 12> kPickupBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                         0.5,   1,    2.5,   5,    10,  30};

 private:
  mutable std::mutex mu_;
  std::map<std::string, long> queue_;
  std::map<std::string, long> started_;
  std::map<std::pair<std::string, std::string>, long> finished_;
  std::array<long, kPickupBuckets.size()> pickup_buckets_{};
  long pickup_count_ = 0;
  double pickup_sum_ = 0;
  long limit_waits_ = 0;
  long targets_at_limit_ = 0;
  int agents_ = 0, running_ = 0;
  bool leader_ = false;
};

}  // namespace dcops::dispatcher
