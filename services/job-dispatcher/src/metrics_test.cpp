#include "metrics.hpp"

#include <catch2/catch.hpp>

namespace dcops::dispatcher {
namespace {

TEST_CASE("Metrics render as Prometheus text with cumulative pickup buckets", "[metrics]") {
  DispatcherMetrics m;
  m.StepStarted("server.power", 0.004);
  m.StepStarted("server.power", 0.03);
  m.StepStarted("server.refresh", 40);
  m.StepFinished("server.power", "succeeded");
  m.StepFinished("server.power", "succeeded");
  m.StepFinished("server.refresh", "failed");
  m.LimitWait();
  m.LimitWait();
  m.SetTargetsAtLimit(3);
  m.SetQueueDepth({{"ready", 7}, {"running", 2}});
  m.SetGauges(2, 2, true);
  const std::string text = m.Render();
  CHECK(text.find("dcops_queue_steps{state=\"ready\"} 7\n") != std::string::npos);
  CHECK(text.find("dcops_steps_started_total{kind=\"server.power\"} 2\n") != std::string::npos);
  CHECK(text.find("dcops_steps_finished_total{kind=\"server.power\",outcome=\"succeeded\"} 2\n") != std::string::npos);
  CHECK(text.find("dcops_steps_finished_total{kind=\"server.refresh\",outcome=\"failed\"} 1\n") != std::string::npos);
  CHECK(text.find("dcops_step_pickup_seconds_bucket{le=\"0.005\"} 1\n") != std::string::npos);
  CHECK(text.find("dcops_step_pickup_seconds_bucket{le=\"0.05\"} 2\n") != std::string::npos);
  CHECK(text.find("dcops_step_pickup_seconds_bucket{le=\"30\"} 2\n") != std::string::npos);  // 40 s is beyond
  CHECK(text.find("dcops_step_pickup_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("dcops_step_pickup_seconds_count 3\n") != std::string::npos);
  CHECK(text.find("dcops_limit_waits_total 2\n") != std::string::npos);
  CHECK(text.find("dcops_targets_at_limit 3\n") != std::string::npos);
  CHECK(text.find("dcops_leader 1\n") != std::string::npos);
}

}  // namespace
}  // namespace dcops::dispatcher
