#include "control_plane.hpp"

#include <catch2/catch.hpp>

namespace dcops::testing {

std::string CreateJob(db::Connection& conn, const std::string& job_type, int n,
                      const std::string& params, int priority) {
  return Scalar(conn,
                "SELECT dispatcher_v1_create_job('default', $1, jsonb_build_object("
                "  'bmc_addresses', (SELECT jsonb_agg(format('127.0.%s.%s', i / 250, i % 250 + 1))"
                "                      FROM generate_series(0, $2::int - 1) i)),"
                "  $3::jsonb, NULL, NULL, $4::int, 'test')",
                {job_type, std::to_string(n), params, std::to_string(priority)});
}

int PlanOneStepPerTarget(db::Connection& conn, const std::string& job_id,
                         const std::string& step_kind) {
  return std::stoi(Scalar(
      conn,
      "SELECT dispatcher_v1_plan_job($1::uuid, (SELECT coalesce(jsonb_agg(jsonb_build_object("
      "   'key', 's' || ord, 'kind', $2::text, 'target', 'idrac:' || addr) ORDER BY ord), '[]')"
      "   FROM jobs j, jsonb_array_elements_text(j.target_scope -> 'bmc_addresses')"
      "        WITH ORDINALITY AS a(addr, ord) WHERE j.id = $1::uuid))",
      {job_id, step_kind}));
}

std::string CreatePlannedJob(db::Connection& conn, const std::string& job_type, int n,
                             const std::string& params, int priority) {
  const std::string id = CreateJob(conn, job_type, n, params, priority);
  REQUIRE(PlanOneStepPerTarget(conn, id, job_type) == n);
  return id;
}

std::vector<Claimed> Claim(db::Connection& conn, const std::string& owner,
                           const std::string& kinds_array, int limit, int lease_seconds) {
  auto rows = Exec(conn,
                   "SELECT task_id, lease_id, job_id, target, attempt, checkpoint "
                   "FROM dispatcher_v1_claim_ready_steps('default', $1, $2::text[], $3::int, $4::int, '{}', NULL, '{}')",
                   {owner, kinds_array, std::to_string(limit), std::to_string(lease_seconds)});
  std::vector<Claimed> out;
  for (int i = 0; i < rows.size(); ++i) {
    out.push_back(Claimed{rows.Str(i, "task_id"), rows.Str(i, "lease_id"), rows.Str(i, "job_id"),
                          rows.Str(i, "target"), static_cast<int>(*rows.Int(i, "attempt")),
                          rows.Text(i, "checkpoint")});
  }
  return out;
}

void ExpireLease(db::Connection& superuser, const std::string& task_id) {
  Exec(superuser,
       "UPDATE job_tasks SET lease_expires_at = now() - interval '1 second' WHERE id = $1",
       {task_id});
}

std::string TaskStatus(db::Connection& superuser, const std::string& task_id) {
  return Scalar(superuser, "SELECT status FROM job_tasks WHERE id = $1", {task_id});
}

std::string JobStatus(db::Connection& superuser, const std::string& job_id) {
  return Scalar(superuser, "SELECT status FROM jobs WHERE id = $1", {job_id});
}

}  // namespace dcops::testing
