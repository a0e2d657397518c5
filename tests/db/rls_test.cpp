// Row-level security and grants: each role can do exactly what it should.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "control_plane.hpp"

namespace dcops::testing {
namespace {

const std::string kScope = R"({"bmc_addresses":["127.0.1.1"]})";
const std::string kTables[] = {
    "jobs", "job_tasks", "job_task_deps", "job_events", "job_types", "agents", "servers",
    "server_processors", "server_memory", "server_drives", "server_nics", "server_firmware", "server_volumes",
    "vcenters", "vcenter_clusters", "vcenter_hosts", "vcenter_vms", "vcenter_datastores",
    "vcenter_networks", "ome_endpoints", "zfs_hosts", "credential_sets", "schedules",
    "audit_log", "user_roles", "server_config_backups", "server_log_entries", "server_log_cursors",
    "inventory_staging", "server_identity_conflicts", "sites", "server_storage_controllers", "server_power_supplies",
    "cluster_maintenance_slots", "zfs_pools", "zfs_datasets", "zfs_replication_pairs"};

struct Site {
  TestDb tdb;
  db::Connection su = tdb.Connect();
  db::Connection conn = tdb.Connect();
  std::string job;
  Site() {
    job = CreatePlannedJob(su, "server.refresh", 2);
    Exec(su, "INSERT INTO credential_sets(name, kind, username, ciphertext, key_id) VALUES "
             "('idrac-default', 'idrac', 'root', '\\x00112233445566778899aabbccddeeff00112233445566778899aabbcc', 'k1')");
  }
};

TEST_CASE("Every table has row-level security enabled", "[rls]") {
  Site site;
  CHECK(Scalar(site.su, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND NOT rowsecurity")
        == "0");
  CHECK(Scalar(site.su, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") ==
        std::to_string(std::size(kTables)));
}

TEST_CASE("anon can do nothing", "[rls]") {
  Site site;
  BecomeAnon(site.conn);
  for (const auto& t : kTables) {
    INFO(t);
    CHECK(ExecError(site.conn, fmt::format("SELECT count(*) FROM {}", t)).sqlstate == "42501");
  }
  CHECK(ExecError(site.conn, "SELECT create_job('server.refresh', $1)", {kScope}).sqlstate == "42501");
  CHECK(ExecError(site.conn, "SELECT cancel_job($1)", {site.job}).sqlstate == "42501");
}

TEST_CASE("A signed-in user without a role sees nothing", "[rls]") {
  Site site;
  BecomeUser(site.conn, "3f1d2a6e-0000-4000-8000-000000000001");
  CHECK(Scalar(site.conn, "SELECT count(*) FROM jobs") == "0");
  CHECK(Scalar(site.conn, "SELECT count(*) FROM job_tasks") == "0");
  auto e = ExecError(site.conn, "SELECT create_job('server.refresh', $1)", {kScope});
  CHECK(e.message == "SQLSTATE 42501: create_job: requires the operator role");
}

TEST_CASE("A viewer reads but cannot create, cancel or write", "[rls]") {
  Site site;
  BecomeUser(site.conn, AddUser(site.su, "viewer"));
  CHECK(Scalar(site.conn, "SELECT count(*) FROM jobs") == "1");
  CHECK(Scalar(site.conn, "SELECT count(*) FROM job_tasks") == "2");
  CHECK(Scalar(site.conn, "SELECT count(*) FROM job_events") != "0");
  CHECK(Scalar(site.conn, "SELECT name FROM credential_sets") == "idrac-default");
  CHECK(ExecError(site.conn, "SELECT create_job('server.refresh', $1)", {kScope}).message ==
        "SQLSTATE 42501: create_job: requires the operator role");
  CHECK(ExecError(site.conn, "SELECT cancel_job($1)", {site.job}).message ==
        "SQLSTATE 42501: cancel_job: requires the operator role");
  CHECK(ExecError(site.conn, "UPDATE jobs SET priority = 5").sqlstate == "42501");
  CHECK(ExecError(site.conn, "DELETE FROM job_events").sqlstate == "42501");
  CHECK(ExecError(site.conn, "INSERT INTO servers(bmc_address) VALUES ('127.0.9.9')").sqlstate ==
        "42501");
  CHECK(Scalar(site.conn, "SELECT count(*) FROM audit_log") == "0");  // admins only
}

TEST_CASE("No UI role reads a lease id, the token that fences an agent's step", "[rls][attack]") {
  Site site;
  Exec(site.su, "UPDATE job_tasks SET lease_id = gen_random_uuid(), lease_owner = 'worker-1', status = 'leased'");
  for (const char* role : {"viewer", "operator", "admin"}) {
    INFO(role);
    BecomeUser(site.conn, AddUser(site.su, role));
    CHECK(ExecError(site.conn, "SELECT lease_id FROM job_tasks").sqlstate == "42501");
    CHECK(ExecError(site.conn, "SELECT * FROM job_tasks").sqlstate == "42501");
    CHECK(Scalar(site.conn, "SELECT string_agg(DISTINCT lease_owner || ' ' || status, ',') FROM job_tasks") ==
          "worker-1 leased");
    BecomeSuperuser(site.conn);
  }
}

TEST_CASE("Configuration backups are for operators, log entries for viewers", "[rls]") {
  Site site;
  const std::string server = Scalar(site.su, "INSERT INTO servers(bmc_address) VALUES ('127.0.9.9') RETURNING id");
  Exec(site.su, "INSERT INTO server_config_backups(server_id, format, content, sha256, size_bytes) "
                "VALUES ($1, 'XML', '<SystemConfiguration/>', 'x', 22)", {server});
  Exec(site.su, "INSERT INTO server_log_entries(server_id, log, entry_id, created) VALUES ($1, 'sel', '1', now())",
       {server});
  const std::string viewer = AddUser(site.su, "viewer");
  const std::string op = AddUser(site.su, "operator");
  BecomeUser(site.conn, viewer);
  CHECK(Scalar(site.conn, "SELECT count(*) FROM server_config_backups") == "0");
  CHECK(Scalar(site.conn, "SELECT count(*) FROM server_log_entries") == "1");
  CHECK(ExecError(site.conn, "DELETE FROM server_log_entries").sqlstate == "42501");
  BecomeUser(site.conn, op);
  CHECK(Scalar(site.conn, "SELECT count(*) FROM server_config_backups") == "1");
  CHECK(ExecError(site.conn, "UPDATE server_config_backups SET content = ''").sqlstate == "42501");
}

TEST_CASE("An operator creates and cancels jobs only through the API", "[rls]") {
  Site site;
  BecomeUser(site.conn, AddUser(site.su, "operator"));
  CHECK_FALSE(Scalar(site.conn, "SELECT create_job('server.refresh', $1)", {kScope}).empty());
  CHECK(Scalar(site.conn, "SELECT cancel_job($1)", {site.job}) == "cancelled");
  CHECK(ExecError(site.conn, "INSERT INTO jobs(job_type, target_scope, traceparent) VALUES "
                             "('server.refresh', '{}', 'x')").sqlstate == "42501");
  // Not an admin: cannot manage credentials, endpoints or roles, nor read the audit log.
  CHECK(ExecError(site.conn, "INSERT INTO credential_sets(name, kind) VALUES ('x', 'idrac')")
            .sqlstate == "42501");
  CHECK(ExecError(site.conn, "INSERT INTO vcenters(name, address) VALUES ('vc', '127.0.2.1')")
            .sqlstate == "42501");
  CHECK(ExecError(site.conn, "INSERT INTO user_roles(user_id, role) VALUES (gen_random_uuid(), 'admin')")
            .sqlstate == "42501");
  CHECK(Scalar(site.conn, "SELECT count(*) FROM audit_log") == "0");
}

TEST_CASE("An admin manages configuration but never reads a secret", "[rls][secrets]") {
  Site site;
  const std::string admin = AddUser(site.su, "admin");
  BecomeUser(site.conn, admin);
  Exec(site.conn, "INSERT INTO credential_sets(name, kind, username) VALUES ('vc-ro', 'vcenter', 'ro')");
  Exec(site.conn, "INSERT INTO vcenters(name, address) VALUES ('vc1', '127.0.2.1')");
  Exec(site.conn, "UPDATE servers SET tls_verify = false WHERE false");
  CHECK(Scalar(site.conn, "SELECT count(*) FROM audit_log WHERE action = 'credential_sets.insert' "
                          "AND actor = $1", {admin}) == "1");
  CHECK(ExecError(site.conn, "UPDATE credential_sets SET ciphertext = '\\x00'").sqlstate == "42501");
  CHECK(Scalar(site.conn, "SELECT has_secret FROM credential_sets WHERE name = 'idrac-default'")
        == "t");
  CHECK(Scalar(site.conn, "SELECT has_secret FROM credential_sets WHERE name = 'vc-ro'") == "f");
}

TEST_CASE("No UI role can read credential ciphertext", "[rls][secrets]") {
  Site site;
  for (const char* role : {"viewer", "operator", "admin"}) {
    INFO(role);
    BecomeUser(site.conn, AddUser(site.su, role));
    CHECK(ExecError(site.conn, "SELECT ciphertext FROM credential_sets").sqlstate == "42501");
    CHECK(ExecError(site.conn, "SELECT * FROM credential_sets").sqlstate == "42501");
    CHECK(ExecError(site.conn, "SELECT * FROM dispatcher_v1_credential_set_for_step(gen_random_uuid(), gen_random_uuid())")
              .sqlstate == "42501");
    CHECK(Scalar(site.conn, "SELECT count(*) FROM audit_log WHERE details::text LIKE '%00112233%'")
          == "0");
    BecomeSuperuser(site.conn);
  }
}

TEST_CASE("The dispatcher role has its API and nothing else", "[rls]") {
  Site site;
  BecomeDispatcher(site.conn);
  for (const auto& t : kTables) {
    INFO(t);
    CHECK(ExecError(site.conn, fmt::format("SELECT count(*) FROM {}", t)).sqlstate == "42501");
  }
  CHECK(ExecError(site.conn, "SELECT create_job('server.refresh', $1)", {kScope}).sqlstate == "42501");
  CHECK(Scalar(site.conn, "SELECT dispatcher_v1_api_version()") == "1");
  CHECK(Scalar(site.conn, "SELECT count(*) FROM dispatcher_v1_claim_ready_steps('default', 'a', "
                          "'{server.refresh}', 10, 30, '{}', NULL, '{}')") == "2");
  // A secret leaves the database only for a step being run (dispatcher_v1_credential_set_for_step).
  CHECK(Scalar(site.conn, "SELECT count(*) FROM dispatcher_v1_credential_set_for_step("
                          "(SELECT id FROM dispatcher_v1_credential_sets_of_kind('idrac') LIMIT 1), gen_random_uuid()) "
                          "WHERE ciphertext IS NOT NULL") == "0");
  // UI users cannot call the dispatcher's API either.
  BecomeUser(site.conn, AddUser(site.su, "admin"));
  for (const char* claim : {"dispatcher_v1_claim_ready_steps", "dispatcher_v1_claim_steps_affine"}) {
    INFO(claim);
    CHECK(ExecError(site.conn, fmt::format("SELECT * FROM {}('default', 'a', '{{server.refresh}}', 10, 30, '{{}}', NULL, '{{}}')",
                                           claim)).sqlstate == "42501");
  }
  CHECK(ExecError(site.conn, "SELECT dispatcher_v1_prune(interval '1 day')").sqlstate == "42501");
}

TEST_CASE("Users see their own role, only admins see and grant others", "[rls]") {
  Site site;
  const std::string viewer = AddUser(site.su, "viewer");
  const std::string admin = AddUser(site.su, "admin");
  BecomeUser(site.conn, viewer);
  CHECK(Scalar(site.conn, "SELECT count(*) FROM user_roles") == "1");
  // Row-level security hides the row from the UPDATE: nothing changes, no escalation.
  CHECK(Exec(site.conn, "UPDATE user_roles SET role = 'admin' WHERE user_id = $1", {viewer}).affected() == 0);
  CHECK(Scalar(site.su, "SELECT role FROM user_roles WHERE user_id = $1", {viewer}) == "viewer");
  BecomeUser(site.conn, admin);
  CHECK(Scalar(site.conn, "SELECT count(*) FROM user_roles") == "2");
  Exec(site.conn, "UPDATE user_roles SET role = 'operator' WHERE user_id = $1", {viewer});
  CHECK(Scalar(site.su, "SELECT role FROM user_roles WHERE user_id = $1", {viewer}) == "operator");
}

TEST_CASE("Supabase's service role acts as an admin through the API", "[rls]") {
  Site site;
  Exec(site.conn, "SELECT set_config('request.jwt.claims', '{\"role\":\"service_role\"}', false)");
  Exec(site.conn, "SET ROLE service_role");
  const std::string id = Scalar(site.conn, "SELECT create_job('server.refresh', $1)", {kScope});
  CHECK(Scalar(site.su, "SELECT created_via FROM jobs WHERE id = $1", {id}) == "service");
}


TEST_CASE("A service-role claim without the service role is nobody, and the audit log is append-only", "[rls][attack]") {
  Site site;
  // An authenticated session that writes itself a service_role claim gets no admin rights.
  Exec(site.conn, "SET ROLE authenticated");
  Exec(site.conn, "SELECT set_config('request.jwt.claims', '{\"role\":\"service_role\"}', false)");
  CHECK(ExecError(site.conn, "SELECT create_job('server.refresh', $1)", {kScope}).sqlstate == "42501");
  // The trusted backend key may read the audit log, never change or remove a row of it.
  Exec(site.conn, "RESET ROLE");
  Exec(site.su, "INSERT INTO audit_log(action, object_type) VALUES ('test.entry', 'test')");
  Exec(site.conn, "SET ROLE service_role");
  CHECK(Scalar(site.conn, "SELECT count(*) FROM audit_log WHERE action = 'test.entry'") == "1");
  CHECK(ExecError(site.conn, "UPDATE audit_log SET action = 'rewritten'").sqlstate == "42501");
  CHECK(ExecError(site.conn, "DELETE FROM audit_log").sqlstate == "42501");
  CHECK(ExecError(site.su, "DELETE FROM audit_log").sqlstate == "42501");  // not even the owner, by mistake
  CHECK(Scalar(site.su, "SELECT count(*) FROM audit_log WHERE action = 'test.entry'") == "1");
}

}  // namespace
}  // namespace dcops::testing
