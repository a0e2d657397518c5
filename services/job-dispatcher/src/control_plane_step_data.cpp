// ControlPlane: what steps read as they are assigned (endpoints, cursors, backups, slots, a
// pair's needs) and what their results write (discovery, backups, logs, refresh, maintenance,
// upgrades, ZFS, inventory syncs). The job and step lifecycle is in control_plane.cpp.
#include "control_plane.hpp"
#include "control_plane_rows.hpp"

namespace dcops::dispatcher {

Result<std::string> ControlPlane::RecordDiscovery(const std::string& site, const std::string& task_id,
                                                  const std::string& found_json) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_record_discovery($1, $2::jsonb, $3::uuid)::text",
                               {site, found_json, task_id}));
}

Result<std::string> ControlPlane::RecordConfigBackup(const std::string& task_id, const std::string& backup_json) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_record_config_backup($1::uuid, $2::jsonb)::text",
                               {task_id, backup_json}));
}

Result<std::optional<std::string>> ControlPlane::ConfigBackup(const std::string& backup_id) {
  auto rows = conn_.Exec("SELECT dispatcher_v1_config_backup($1::uuid)::text", {backup_id});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<std::string>();
  return rows->TextAt(0, 0);
}

Result<std::string> ControlPlane::FinalizerContext(const std::string& task_id) {
  return ScalarText(conn_.Exec("SELECT coalesce(dispatcher_v1_finalizer_context($1::uuid), '{}')::text", {task_id}));
}

Result<std::string> ControlPlane::LogCursors(const std::string& server_id) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_log_cursors($1::uuid)::text", {server_id}));
}

Result<std::string> ControlPlane::RecordLogEntries(const std::string& task_id, const std::string& result_json) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_record_log_entries($1::uuid, $2::jsonb)::text",
                               {task_id, result_json}));
}

Result<std::string> ControlPlane::RecordRefresh(const std::string& site, const std::string& task_id,
                                                const std::string& server_json) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_record_refresh($1, $2::uuid, $3::jsonb)::text",
                               {site, task_id, server_json}));
}

Result<bool> ControlPlane::StageInventory(const std::string& task_id, const std::string& lease_id,
                                          std::uint64_t sequence, const std::string& kind, const std::string& json) {
  auto v = ScalarText(conn_.Exec("SELECT dispatcher_v1_stage_inventory($1::uuid, $2::uuid, $3::bigint, $4, $5::jsonb)",
                                 {task_id, lease_id, std::to_string(sequence), kind, json}));
  if (!v) return v.error();
  return *v == "t";
}

Result<std::string> ControlPlane::MaintenanceSlot(const std::string& task_id) {
  return ScalarText(conn_.Exec("SELECT coalesce(dispatcher_v1_maintenance_slot($1::uuid), '')", {task_id}));
}

Result<std::string> ControlPlane::RecordMaintenance(const std::string& task_id, const std::string& result_json) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_record_maintenance($1::uuid, $2::jsonb)", {task_id, result_json}));
}

Result<std::string> ControlPlane::RecordEsxiUpgrade(const std::string& task_id, const std::string& result_json) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_record_esxi_upgrade($1::uuid, $2::jsonb)", {task_id, result_json}));
}

Result<std::string> ControlPlane::ZfsPair(const std::string& task_id) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_zfs_pair($1::uuid)::text", {task_id}));
}

Result<std::string> ControlPlane::RecordZfs(const std::string& task_id, const std::string& result_json) {
  return ScalarText(conn_.Exec("SELECT dispatcher_v1_record_zfs($1::uuid, $2::jsonb)", {task_id, result_json}));
}

Result<std::optional<std::string>> ControlPlane::SyncEndpoint(const std::string& kind, const std::string& id) {
  auto rows = conn_.Exec("SELECT dispatcher_v1_sync_endpoint($1, $2::uuid)::text", {kind, id});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<std::string>();
  return rows->TextAt(0, 0);
}

Result<std::string> ControlPlane::ApplySync(const std::string& step_kind, const std::string& task_id,
                                            const std::string& lease_id, const std::string& result_json) {
  const char* sql = step_kind == "inventory.ome_sync"
                        ? "SELECT dispatcher_v1_apply_ome_sync($1::uuid, $2::uuid, $3::jsonb)::text"
                        : "SELECT dispatcher_v1_apply_vcenter_sync($1::uuid, $2::uuid, $3::jsonb)::text";
  return ScalarText(conn_.Exec(sql, {task_id, lease_id, result_json}));
}

Status ControlPlane::DiscardSync(const std::string& task_id, const std::string& error) {
  auto r = conn_.Exec("SELECT dispatcher_v1_discard_sync($1::uuid, $2)", {task_id, error});
  if (!r) return r.error();
  return {};
}

}  // namespace dcops::dispatcher
