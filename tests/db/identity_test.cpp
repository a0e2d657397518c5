// Server identity, case by case: normal forms of addresses and pins, evidence that
// contradicts (nothing written, a conflict with an event on the job), one system UUID on two
// servers, same-model blades keeping their own pins, what last_refreshed_at means, the admin's
// way in, and an operator resolving conflicts (every decision audited).
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "control_plane.hpp"

namespace dcops::testing {
namespace {

std::string Upsert(db::Connection& disp, const std::string& server) {
  auto rows = Exec(disp, "SELECT dispatcher_v1_upsert_server_inventory('default', $1::jsonb)::text AS id", {server});
  return rows.Str(0, "id");
}

TEST_CASE("Addresses and pins take one normal form, anything else is refused with the form expected", "[identity]") {
  TestDb tdb;
  auto su = tdb.Connect();
  const std::vector<std::pair<std::string, std::string>> addresses = {
      {"127.0.1.4", "127.0.1.4"},          {"127.0.1.4:443", "127.0.1.4"},        {"https://127.0.1.4/", "127.0.1.4"},
      {" 127.0.1.4:8443 ", "127.0.1.4:8443"}, {"iDRAC-7.Lab.", "idrac-7.lab"},      {"[FD00::0001]:443", "[fd00::1]"},
      {"fd00:0::1", "[fd00::1]"},          {"[fd00::1]:8443", "[fd00::1]:8443"}, {"[::]", ""},
      {"::", ""},                          {"0.0.0.0", ""},                       {"", ""}};
  for (const auto& [in, out] : addresses) {
    INFO(in);
    CHECK(Scalar(su, "SELECT coalesce(dcops_internal.bmc_address($1), '')", {in}) == out);
  }
  for (const char* bad : {"127.0.0.0/24", "127.0.1.4:99999", "bad host!", "[fd00::1"}) {
    INFO(bad);
    auto e = ExecError(su, "SELECT dcops_internal.bmc_address($1)", {std::string(bad)});
    CHECK(e.sqlstate == "22023");
    CHECK(e.message.find("bmc_address") != std::string::npos);
  }
  const std::string hex = "ab" + std::string(62, 'c');
  CHECK(Scalar(su, "SELECT dcops_internal.tls_pin($1)", {hex}) == hex);
  std::string colons;
  for (std::size_t i = 0; i < hex.size(); i += 2) colons += (i ? ":" : "") + std::string{static_cast<char>(std::toupper(hex[i])), static_cast<char>(std::toupper(hex[i + 1]))};
  CHECK(Scalar(su, "SELECT dcops_internal.tls_pin($1)", {colons}) == hex);
  auto e = ExecError(su, "SELECT dcops_internal.tls_pin('sha1:AB:CD')");
  CHECK(e.sqlstate == "22023");
  CHECK(e.message.find("64 hex digits") != std::string::npos);
  // Placeholders are no evidence.
  CHECK(Scalar(su, "SELECT coalesce(dcops_internal.identity_text('To Be Filled By O.E.M.'), 'none')") == "none");
  CHECK(Scalar(su, "SELECT coalesce(dcops_internal.system_uuid('00000000-0000-0000-0000-000000000000'), 'none')") == "none");
}

TEST_CASE("Blades of one model stay two servers, each with its own pin", "[identity]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string pin_a(64, 'a'), pin_b(64, 'b');
  Exec(disp, "SELECT dispatcher_v1_record_discovery('default', $1::jsonb)",
       {fmt::format(R"([{{"bmc_address":"127.0.2.1","vendor":"HPE","tls_pin_sha256":"{}","login":"untried"}},
                        {{"bmc_address":"127.0.2.2","vendor":"HPE","tls_pin_sha256":"{}","login":"untried"}}])",
                    pin_a, pin_b)});
  const std::string a = Upsert(disp, R"({"bmc_address":"127.0.2.1","manufacturer":"HPE","serial_number":"CZJ1","model":"BL460c"})");
  const std::string b = Upsert(disp, R"({"bmc_address":"127.0.2.2","manufacturer":"HPE","serial_number":"CZJ2","model":"BL460c"})");
  CHECK(a != b);
  CHECK(Scalar(su, "SELECT tls_pin_sha256 FROM servers WHERE id = $1", {a}) == pin_a);
  CHECK(Scalar(su, "SELECT tls_pin_sha256 FROM servers WHERE id = $1", {b}) == pin_b);
  // A non-Dell server cannot carry a service tag, whoever writes it.
  auto e = ExecError(disp, "SELECT dispatcher_v1_upsert_server('default', $1::jsonb)",
                     {std::string(R"({"bmc_address":"127.0.2.3","manufacturer":"HPE","service_tag":"P19766-B21"})")});
  CHECK(e.sqlstate == "22023");
  CHECK(e.message.find("Dell") != std::string::npos);
}

TEST_CASE("Evidence that contradicts the inventory writes nothing, becomes a conflict on the job, and can be accepted", "[identity]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string id = Upsert(disp, R"({"bmc_address":"127.0.3.1","service_tag":"CON0001","manufacturer":"Dell Inc.",
                                          "system_uuid":"4c4c4544-0000-0000-0000-000000000001","model":"R650"})");
  auto job = CreatePlannedJob(su, "server.refresh", 1);
  auto claimed = Claim(su, "agent-1", "{server.refresh}", 1);
  REQUIRE(claimed.size() == 1);
  auto out = Scalar(disp, "SELECT dispatcher_v1_record_refresh('default', $1::uuid, $2::jsonb)::text",
                    {claimed[0].task_id, std::string(R"({"bmc_address":"127.0.3.1","service_tag":"CON0001","manufacturer":"Dell Inc.",
                                                         "system_uuid":"4c4c4544-0000-0000-0000-0000000000ff","model":"R750"})")});
  CHECK(out == R"({"conflicts": 1, "server_id": null})");
  CHECK(Scalar(su, "SELECT model || ' ' || system_uuid FROM servers WHERE id = $1", {id}) ==
        "R650 4c4c4544-0000-0000-0000-000000000001");
  CHECK(Scalar(su, "SELECT kind || ' ' || subject || ' ' || (server_ids = ARRAY[$1::uuid])::text FROM server_identity_conflicts",
               {id}) == "evidence_disagrees tag:CON0001 true");
  CHECK(Scalar(su, "SELECT count(*) FROM job_events WHERE job_id = $1 AND level = 'warn' AND message LIKE 'identity conflict:%system UUID%'",
               {job}) == "1");
  CHECK(Scalar(su, "SELECT count(*) FROM audit_log WHERE action = 'identity.conflict'") == "1");
  // Seen again: the same conflict, counted, not a second one.
  Upsert(disp, R"({"bmc_address":"127.0.3.1","service_tag":"CON0001","system_uuid":"4c4c4544-0000-0000-0000-0000000000ff"})");
  CHECK(Scalar(su, "SELECT count(*) || '/' || max(seen_count) FROM server_identity_conflicts") == "1/2");
  // The operator knows the board was replaced: the server takes the new evidence (audited with
  // before and after), and the next refresh is written as usual.
  const std::string conflict = Scalar(su, "SELECT id FROM server_identity_conflicts");
  CHECK(ExecError(disp, "SELECT dispatcher_v1_resolve_identity_conflict('default', $1, 'accept', NULL, 'ops', '')", {conflict})
            .sqlstate == "22023");
  Exec(disp, "SELECT dispatcher_v1_resolve_identity_conflict('default', $1, 'accept', $2, 'ops', 'motherboard replaced')",
       {conflict, id});
  CHECK(Scalar(su, "SELECT system_uuid FROM servers WHERE id = $1", {id}) == "4c4c4544-0000-0000-0000-0000000000ff");
  CHECK(Scalar(su, "SELECT (details -> 'before' ->> 'system_uuid') || ' ' || (details ->> 'note') FROM audit_log "
                   "WHERE action = 'server.identity_changed'") == "4c4c4544-0000-0000-0000-000000000001 motherboard replaced");
  Upsert(disp, R"({"bmc_address":"127.0.3.1","service_tag":"CON0001","manufacturer":"Dell Inc.",
                   "system_uuid":"4c4c4544-0000-0000-0000-0000000000ff","model":"R750"})");
  CHECK(Scalar(su, "SELECT model FROM servers WHERE id = $1", {id}) == "R750");
  CHECK(Scalar(su, "SELECT count(*) FROM server_identity_conflicts WHERE status = 'open'") == "0");
}

TEST_CASE("A second server claiming a known system UUID is not merged into the first: a conflict", "[identity]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  Upsert(disp, R"({"bmc_address":"127.0.4.1","manufacturer":"Quanta","serial_number":"Q1","system_uuid":"03000200-0400-0500-0006-000700080009"})");
  Upsert(disp, R"({"bmc_address":"127.0.4.2","manufacturer":"Quanta","serial_number":"Q2","system_uuid":"03000200-0400-0500-0006-000700080009"})");
  // The serials differ: no merge, no write, no arbitrary pick; the operator sees why.
  CHECK(Scalar(su, "SELECT count(*) || ' ' || max(serial_number) FROM servers") == "1 Q1");
  CHECK(Scalar(su, "SELECT kind || ' ' || subject FROM server_identity_conflicts") == "evidence_disagrees serial:quanta/Q2");
}

TEST_CASE("last_refreshed_at means a Redfish refresh happened", "[identity]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  Exec(disp, "SELECT dispatcher_v1_record_discovery('default', $1::jsonb)",
       {std::string(R"([{"bmc_address":"127.0.5.1:443","service_tag":"LRA0001","vendor":"Dell","login":"untried"}])")});
  CHECK(Scalar(su, "SELECT (last_refreshed_at IS NULL)::text || ' ' || bmc_address FROM servers") == "true 127.0.5.1");
  Upsert(disp, R"({"bmc_address":"127.0.5.1","service_tag":"LRA0001","power_state":"On"})");
  CHECK(Scalar(su, "SELECT (last_refreshed_at IS NOT NULL)::text FROM servers") == "true");
}

TEST_CASE("Admins add servers through add_server only, pins in any hex form are stored in one", "[identity][rls]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto admin = tdb.Connect();
  BecomeUser(admin, AddUser(su, "admin"));
  CHECK(ExecError(admin, "INSERT INTO servers(bmc_address) VALUES ('127.0.6.1')").sqlstate == "42501");
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += (i ? ":" : "") + std::string("AB");
  auto out = Scalar(admin, "SELECT add_server($1::jsonb)::text",
                    {fmt::format(R"({{"bmc_address":"127.0.6.1:443","tls_pin_sha256":"{}"}})", colons)});
  CHECK(out.find(R"("created": true)") != std::string::npos);
  std::string lower;
  for (int i = 0; i < 32; ++i) lower += "ab";
  CHECK(Scalar(su, "SELECT bmc_address || ' ' || tls_pin_sha256 || ' ' || source FROM servers") ==
        "127.0.6.1 " + lower + " manual");
  auto bad = ExecError(admin, "SELECT add_server('{\"bmc_address\":\"127.0.6.2\",\"tls_pin_sha256\":\"AB:CD\"}'::jsonb)");
  CHECK(bad.sqlstate == "22023");
  CHECK(bad.message.find("64 hex digits") != std::string::npos);
  CHECK(Scalar(su, "SELECT count(*) FROM audit_log WHERE action = 'server.add'") == "1");
  auto viewer = tdb.Connect();
  BecomeUser(viewer, AddUser(su, "operator"));
  CHECK(ExecError(viewer, "SELECT add_server('{\"bmc_address\":\"127.0.6.3\"}'::jsonb)").sqlstate == "42501");
}

TEST_CASE("An operator resolves conflicts: link a host, assign an address, merge, dismiss, all audited", "[identity]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  const std::string vc = Scalar(su, "INSERT INTO vcenters(name, address) VALUES ('vc', '127.0.9.1') RETURNING id");
  const std::string server = Upsert(disp, R"({"bmc_address":"127.0.7.1","service_tag":"RES0001","manufacturer":"Dell Inc."})");
  Exec(disp, "SELECT dispatcher_v1_upsert_vcenter_inventory($1::uuid, $2::jsonb)",
       {vc, std::string(R"({"hosts":[{"moref":"host-1","name":"a","service_tag":"RES0001","vendor":"Dell Inc."},
                                     {"moref":"host-2","name":"b","service_tag":"RES0001","vendor":"Dell Inc."}]})")});
  CHECK(Scalar(su, "SELECT count(*) FROM vcenter_hosts WHERE server_id IS NOT NULL") == "0");
  auto conflicts = Scalar(disp, "SELECT jsonb_array_length(dispatcher_v1_identity_conflicts('default'))");
  CHECK(conflicts == "2");
  const std::string c1 = Scalar(su, "SELECT id FROM server_identity_conflicts WHERE subject LIKE '%/host-1'");
  // Not one of the conflict's servers / wrong action: refused, nothing changes.
  CHECK(ExecError(disp, "SELECT dispatcher_v1_resolve_identity_conflict('default', $1, 'link', gen_random_uuid(), 'ops', '')", {c1}).sqlstate ==
        "22023");
  CHECK(ExecError(disp, "SELECT dispatcher_v1_resolve_identity_conflict('default', $1, 'assign', $2, 'ops', '')", {c1, server}).sqlstate ==
        "22023");
  auto done = Scalar(disp, "SELECT dispatcher_v1_resolve_identity_conflict('default', $1, 'link', $2, 'ops', 'checked the rack')::text",
                     {c1, server});
  CHECK(done.find(R"("status": "resolved")") != std::string::npos);
  CHECK(Scalar(su, "SELECT server_id::text || ' ' || link_pinned::text FROM vcenter_hosts WHERE moref = 'host-1'") ==
        server + " true");
  // A later sync keeps the operator's link.
  Exec(disp, "SELECT dispatcher_v1_upsert_vcenter_inventory($1::uuid, $2::jsonb)",
       {vc, std::string(R"({"hosts":[{"moref":"host-1","name":"a","service_tag":"RES0001","vendor":"Dell Inc."},
                                     {"moref":"host-2","name":"b","service_tag":"RES0001","vendor":"Dell Inc."}]})")});
  CHECK(Scalar(su, "SELECT server_id::text FROM vcenter_hosts WHERE moref = 'host-1'") == server);
  CHECK(ExecError(disp, "SELECT dispatcher_v1_resolve_identity_conflict('default', $1, 'dismiss', NULL, 'ops', '')", {c1}).sqlstate == "55000");
  CHECK(Scalar(su, "SELECT count(*) FROM audit_log WHERE action IN ('host.link', 'identity.resolve') "
                   "AND object_id IN ($1, (SELECT id::text FROM vcenter_hosts WHERE moref = 'host-1'))", {c1}) == "2");

  // Two reports at one address: neither keeps it; the operator assigns it, then merges.
  Exec(disp, "SELECT dispatcher_v1_upsert_server('default', $1::jsonb)",
       {std::string(R"({"bmc_address":"127.0.7.9","service_tag":"RES0008","source":"ome"})")});
  Exec(disp, "SELECT dispatcher_v1_upsert_server('default', $1::jsonb)",
       {std::string(R"({"bmc_address":"127.0.7.9","service_tag":"RES0009","source":"ome"})")});
  CHECK(Scalar(su, "SELECT count(*) FROM servers WHERE bmc_address = '127.0.7.9'") == "0");
  const std::string c2 = Scalar(su, "SELECT id FROM server_identity_conflicts WHERE subject = 'address:127.0.7.9'");
  const std::string keep = Scalar(su, "SELECT id FROM servers WHERE service_tag = 'RES0009'");
  Exec(disp, "SELECT dispatcher_v1_resolve_identity_conflict('default', $1, 'assign', $2, 'ops', '')", {c2, keep});
  CHECK(Scalar(su, "SELECT service_tag FROM servers WHERE bmc_address = '127.0.7.9'") == "RES0009");
  Exec(disp, "SELECT dispatcher_v1_resolve_identity_conflict('default', $1, 'dismiss', NULL, 'ops', '')",
       {Scalar(su, "SELECT id FROM server_identity_conflicts WHERE subject LIKE '%/host-2'")});
  CHECK(Scalar(su, "SELECT count(*) FROM server_identity_conflicts WHERE status = 'open'") == "0");
}

TEST_CASE("A merge of two rows names both sides and the evidence", "[identity]") {
  TestDb tdb;
  auto su = tdb.Connect();
  auto disp = tdb.Connect();
  BecomeDispatcher(disp);
  // OME knows the tag; a refresh of a non-tag row knows the UUID; one refresh carries both.
  const std::string by_tag = Upsert(disp, R"({"service_tag":"MRG0001","source":"ome"})");
  const std::string by_uuid = Upsert(disp, R"({"bmc_address":"127.0.8.1","manufacturer":"Dell Inc.","system_uuid":"4c4c4544-0000-0000-0000-00000000aaaa"})");
  CHECK(by_tag != by_uuid);
  const std::string merged = Upsert(disp, R"({"bmc_address":"127.0.8.1","service_tag":"MRG0001","manufacturer":"Dell Inc.",
                                              "system_uuid":"4c4c4544-0000-0000-0000-00000000aaaa"})");
  CHECK(Scalar(su, "SELECT count(*) FROM servers") == "1");
  CHECK(Scalar(su, "SELECT (details ->> 'kept') || ' ' || (details ->> 'merged') FROM audit_log WHERE action = 'server.merge'") ==
        merged + " " + (merged == by_tag ? by_uuid : by_tag));
  CHECK(Scalar(su, "SELECT details -> 'evidence' -> 'observation' ->> 'service_tag' FROM audit_log WHERE action = 'server.merge'") ==
        "MRG0001");
}

}  // namespace
}  // namespace dcops::testing
