#pragma once
// Shared steps for the control-plane tests: make jobs, plan them, claim their steps, all
// through the real SQL API of deploy/supabase/migrations.

#include <string>
#include <vector>

#include "test_db.hpp"

namespace dcops::testing {

struct Claimed {
  std::string task_id;
  std::string lease_id;
  std::string job_id;
  std::string target;
  int attempt = 0;
  std::optional<std::string> checkpoint;
};

// A job of `job_type` over `n` BMC addresses (127.0.x.y), created by the dispatcher API as
// an operator would through the CLI. Returns its id; not planned yet.
std::string CreateJob(db::Connection& conn, const std::string& job_type, int n,
                      const std::string& params = "{}", int priority = 0);
// Plans `job_id` into one independent step per BMC address of its scope. Returns step count.
int PlanOneStepPerTarget(db::Connection& conn, const std::string& job_id,
                         const std::string& step_kind);
// Creates and plans in one go.
std::string CreatePlannedJob(db::Connection& conn, const std::string& job_type, int n,
                             const std::string& params = "{}", int priority = 0);
std::vector<Claimed> Claim(db::Connection& conn, const std::string& owner,
                           const std::string& kinds_array, int limit, int lease_seconds = 30);
// Pretends the lease's time has passed: its expiry moves into the past.
void ExpireLease(db::Connection& superuser, const std::string& task_id);
std::string TaskStatus(db::Connection& superuser, const std::string& task_id);
std::string JobStatus(db::Connection& superuser, const std::string& job_id);

}  // namespace dcops::testing
