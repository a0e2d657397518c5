#include "identity_snapshot.hpp"

#include "test_db.hpp"

namespace dcops::testing {

std::string IdentitySnapshot(db::Connection& conn, SnapshotColumns columns) {
  return Scalar(conn, R"(
    WITH label AS (
      SELECT id, coalesce(service_tag, vendor_key || '/' || serial_number, system_uuid, bmc_address) AS name FROM servers)
    SELECT concat_ws(E'\n',
      (SELECT string_agg(concat_ws(' ', l.name, coalesce(s.bmc_address, '-'), coalesce(s.address_source, '-'),
                                   coalesce(s.vendor_key, '-'), coalesce(s.serial_number, '-'), coalesce(s.system_uuid, '-'),
                                   CASE WHEN $1 THEN coalesce(s.tls_pin_sha256, '-') END,
                                   CASE WHEN $2 THEN (s.last_refreshed_at IS NOT NULL)::text END),
                         E'\n' ORDER BY l.name)
         FROM servers s JOIN label l USING (id)),
      (SELECT string_agg(h.name || ' -> ' || coalesce(l.name, 'unlinked') || ' by ' || coalesce(h.link_evidence, '-'),
                         E'\n' ORDER BY h.name)
         FROM vcenter_hosts h LEFT JOIN label l ON l.id = h.server_id),
      (SELECT string_agg(c.kind || ' ' || regexp_replace(c.subject, '^host:[^/]+/', 'host:') || ' [' ||
                         coalesce((SELECT string_agg(l.name, ',' ORDER BY l.name) FROM label l WHERE l.id = ANY (c.server_ids)), '')
                         || ']', E'\n' ORDER BY c.subject)
         FROM server_identity_conflicts c WHERE c.status = 'open'))
  )",
                {columns.pins ? "true" : "false", columns.refreshed ? "true" : "false"});
}

}  // namespace dcops::testing
