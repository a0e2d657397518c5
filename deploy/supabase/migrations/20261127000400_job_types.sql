-- The job catalog of DESIGN.md §3: what create_job accepts, which agent kind runs it,
-- whether it changes a device (limits treat mutating steps separately), the allowed target
-- scopes and the parameter schema. Seeded once; later migrations change rows explicitly.

INSERT INTO public.job_types
  (job_type, description, agent_kind, mutating, scope_kinds, params_schema, max_attempts,
   retry_base_ms, retry_max_ms)
VALUES
('server.refresh', 'Full Redfish inventory of servers', 'idrac-worker', false,
 '{server_ids,bmc_addresses,all_servers}',
 '{"type":"object","additionalProperties":false,"properties":{
   "components":{"type":"array","maxItems":16,"items":{"type":"string","enum":
     ["system","manager","processors","memory","storage","network","firmware"]}}}}', 3, 2000, 60000),
('server.credential_test', 'Prove a credential set on a BMC without changing anything', 'idrac-worker', false,
 '{server_ids,bmc_addresses}',
 '{"type":"object","additionalProperties":false,"properties":{
   "credential_set_id":{"type":"string","pattern":"^[0-9a-fA-F-]{36}$"}}}', 1, 1000, 1000),
('discovery.scan', 'Find Redfish BMCs in address ranges and add them', 'idrac-worker', false,
 '{ranges}',
 '{"type":"object","additionalProperties":false,"properties":{
   "port":{"type":"integer","minimum":1,"maximum":65535},
   "credential_set_ids":{"type":"array","maxItems":16,"items":{"type":"string","pattern":"^[0-9a-fA-F-]{36}$"}},
   "concurrency":{"type":"integer","minimum":1,"maximum":256},
   "refresh":{"type":"boolean"}}}', 1, 1000, 1000),
('server.power', 'Power action on servers', 'idrac-worker', true,
 '{server_ids,bmc_addresses}',
 '{"type":"object","additionalProperties":false,"required":["action"],"properties":{
   "action":{"type":"string","enum":["On","ForceOff","GracefulShutdown","GracefulRestart","ForceRestart","PowerCycle"]},
   "graceful_timeout_seconds":{"type":"integer","minimum":10,"maximum":3600},
   "force_after_timeout":{"type":"boolean"}}}', 5, 5000, 120000),
('server.boot', 'One-time boot override or persistent boot order', 'idrac-worker', true,
 '{server_ids,bmc_addresses}',
 '{"type":"object","additionalProperties":false,"required":["mode"],"properties":{
   "mode":{"type":"string","enum":["once","persistent"]},
   "target":{"type":"string","enum":["Pxe","Cd","Hdd","BiosSetup","UefiHttp","UefiTarget","Usb","None"]},
   "boot_order":{"type":"array","maxItems":64,"items":{"type":"string","maxLength":128}},
   "reboot":{"type":"boolean"}}}', 5, 5000, 120000),
('server.virtual_media', 'Insert or eject virtual media', 'idrac-worker', true,
 '{server_ids,bmc_addresses}',
 '{"type":"object","additionalProperties":false,"required":["action"],"properties":{
   "action":{"type":"string","enum":["insert","eject"]},
   "image_url":{"type":"string","maxLength":2048,"pattern":"^(https?|nfs|cifs)://[^\\s]+$"},
   "media":{"type":"string","enum":["CD","RemovableDisk"]},
   "boot_once":{"type":"boolean"}}}', 5, 5000, 120000),
('server.bios', 'Read or apply BIOS attributes', 'idrac-worker', true,
 '{server_ids,bmc_addresses}',
 '{"type":"object","additionalProperties":false,"properties":{
   "attributes":{"type":"object"},
   "apply_time":{"type":"string","enum":["Immediate","OnReset"]},
   "verify":{"type":"boolean"}}}', 3, 10000, 300000),
('server.idrac_settings', 'Read or write iDRAC attributes', 'idrac-worker', true,
 '{server_ids,bmc_addresses}',
 '{"type":"object","additionalProperties":false,"properties":{
   "attributes":{"type":"object"}}}', 3, 5000, 120000),
('server.scp_export', 'Export a Server Configuration Profile as a backup', 'idrac-worker', false,
 '{server_ids,bmc_addresses}',
 '{"type":"object","additionalProperties":false,"properties":{
   "format":{"type":"string","enum":["XML","JSON"]},
   "components":{"type":"array","maxItems":8,"items":{"type":"string","enum":["ALL","IDRAC","BIOS","NIC","RAID","FC","EventFilters","System","LifecycleController"]}}}}', 3, 10000, 300000),
('server.scp_import', 'Import a Server Configuration Profile', 'idrac-worker', true,
 '{server_ids,bmc_addresses}',
 '{"type":"object","additionalProperties":false,"required":["backup_id"],"properties":{
   "backup_id":{"type":"string","pattern":"^[0-9a-fA-F-]{36}$"},
   "preview_only":{"type":"boolean"},
   "shutdown_type":{"type":"string","enum":["Graceful","Forced","NoReboot"]},
   "end_power_state":{"type":"string","enum":["On","Off"]}}}', 2, 30000, 600000),
('server.firmware_update', 'Update firmware by URI, pushed package or Dell catalog', 'idrac-worker', true,
 '{server_ids,bmc_addresses}',
 '{"type":"object","additionalProperties":false,"required":["method"],"properties":{
   "method":{"type":"string","enum":["simple_update","push","repository"]},
   "image_uri":{"type":"string","maxLength":2048,"pattern":"^(https?|nfs|cifs|tftp)://[^\\s]+$"},
   "package_path":{"type":"string","maxLength":1024,"pattern":"^[A-Za-z0-9_./-]+$"},
   "catalog_url":{"type":"string","maxLength":2048,"pattern":"^(https?|nfs|cifs)://[^\\s]+$"},
   "components":{"type":"array","maxItems":64,"items":{"type":"string","maxLength":128}},
   "reboot":{"type":"string","enum":["auto","now","next_reset","never"]},
   "dry_run":{"type":"boolean"},
   "timeout_seconds":{"type":"integer","minimum":60,"maximum":86400}}}', 3, 30000, 900000),
('server.logs', 'Collect SEL and Lifecycle log entries', 'idrac-worker', false,
 '{server_ids,bmc_addresses,all_servers}',
 '{"type":"object","additionalProperties":false,"properties":{
   "logs":{"type":"array","minItems":1,"maxItems":2,"items":{"type":"string","enum":["sel","lifecycle"]}},
   "max_entries":{"type":"integer","minimum":1,"maximum":100000}}}', 3, 5000, 120000),
('server.job_queue_clear', 'Clear the Dell Lifecycle Controller job queue', 'idrac-worker', true,
 '{server_ids,bmc_addresses}',
 '{"type":"object","additionalProperties":false,"properties":{"force":{"type":"boolean"}}}', 3, 5000, 120000),
('server.idrac_reset', 'Reset the iDRAC and wait until it is healthy again', 'idrac-worker', true,
 '{server_ids,bmc_addresses}',
 '{"type":"object","additionalProperties":false,"properties":{
   "type":{"type":"string","enum":["GracefulRestart","ForceRestart"]},
   "timeout_seconds":{"type":"integer","minimum":60,"maximum":3600}}}', 2, 30000, 300000),
('inventory.ome_sync', 'Collect inventory from OpenManage Enterprise', 'ome-sync', false,
 '{ome_endpoint_id}',
 '{"type":"object","additionalProperties":false,"properties":{"page_size":{"type":"integer","minimum":1,"maximum":1000}}}', 3, 10000, 300000),
('inventory.vcenter_sync', 'Collect inventory from vCenter', 'vcenter-sync', false,
 '{vcenter_id}',
 '{"type":"object","additionalProperties":false,"properties":{"page_size":{"type":"integer","minimum":1,"maximum":10000}}}', 3, 10000, 300000),
('host.maintenance', 'Enter or exit maintenance mode with a blocker scan', 'esxi-worker', true,
 '{vcenter_host_ids}',
 '{"type":"object","additionalProperties":false,"required":["action"],"properties":{
   "action":{"type":"string","enum":["enter","exit"]},
   "evacuate_powered_off":{"type":"boolean"},
   "vsan_mode":{"type":"string","enum":["ensureObjectAccessibility","evacuateAllData","noAction"]},
   "timeout_seconds":{"type":"integer","minimum":60,"maximum":86400}}}', 3, 10000, 300000),
('host.reboot', 'Reboot ESXi hosts', 'esxi-worker', true,
 '{vcenter_host_ids}',
 '{"type":"object","additionalProperties":false,"properties":{
   "require_maintenance":{"type":"boolean"},
   "timeout_seconds":{"type":"integer","minimum":60,"maximum":86400}}}', 2, 30000, 300000),
('host.esxi_upgrade', 'Upgrade ESXi with esxcli from a depot', 'esxi-worker', true,
 '{vcenter_host_ids}',
 '{"type":"object","additionalProperties":false,"required":["depot","profile"],"properties":{
   "depot":{"type":"string","maxLength":2048,"pattern":"^(https?://[^\\s]+|/vmfs/volumes/[A-Za-z0-9_./-]+)$"},
   "profile":{"type":"string","maxLength":200,"pattern":"^[A-Za-z0-9_.-]+$"},
   "timeout_seconds":{"type":"integer","minimum":300,"maximum":86400}}}', 2, 60000, 600000),
('cluster.safety_check', 'Pre-checks before work on a cluster', 'esxi-worker', false,
 '{cluster_id}',
 '{"type":"object","additionalProperties":false,"properties":{"min_hosts_up":{"type":"integer","minimum":1,"maximum":64}}}', 2, 10000, 120000),
('cluster.rolling_update', 'Host-by-host update of a cluster with maintenance mode', 'esxi-worker', true,
 '{cluster_id}',
 '{"type":"object","additionalProperties":false,"properties":{
   "firmware":{"type":"object"},
   "esxi":{"type":"object"},
   "max_parallel_hosts":{"type":"integer","minimum":1,"maximum":8},
   "stop_on_failure":{"type":"boolean"}}}', 2, 60000, 900000),
('zfs.replicate', 'Snapshot and replicate a dataset over SSH', 'zfs-worker', true,
 '{zfs_host_id}',
 '{"type":"object","additionalProperties":false,"required":["source_dataset","target_host_id","target_dataset"],"properties":{
   "source_dataset":{"type":"string","maxLength":255,"pattern":"^[A-Za-z0-9][A-Za-z0-9_.:-]*(/[A-Za-z0-9][A-Za-z0-9_.:-]*)*$"},
   "target_host_id":{"type":"string","pattern":"^[0-9a-fA-F-]{36}$"},
   "target_dataset":{"type":"string","maxLength":255,"pattern":"^[A-Za-z0-9][A-Za-z0-9_.:-]*(/[A-Za-z0-9][A-Za-z0-9_.:-]*)*$"},
   "recursive":{"type":"boolean"},
   "snapshot_prefix":{"type":"string","maxLength":64,"pattern":"^[A-Za-z0-9][A-Za-z0-9_.-]*$"}}}', 3, 30000, 900000),
('zfs.prune', 'Delete snapshots beyond the retention', 'zfs-worker', true,
 '{zfs_host_id}',
 '{"type":"object","additionalProperties":false,"required":["dataset"],"properties":{
   "dataset":{"type":"string","maxLength":255,"pattern":"^[A-Za-z0-9][A-Za-z0-9_.:-]*(/[A-Za-z0-9][A-Za-z0-9_.:-]*)*$"},
   "keep_last":{"type":"integer","minimum":1,"maximum":100000},
   "keep_days":{"type":"integer","minimum":1,"maximum":36500},
   "snapshot_prefix":{"type":"string","maxLength":64,"pattern":"^[A-Za-z0-9][A-Za-z0-9_.-]*$"}}}', 3, 30000, 600000),
('zfs.health', 'Pool health of a ZFS host', 'zfs-worker', false,
 '{zfs_host_id}',
 '{"type":"object","additionalProperties":false,"properties":{
   "pools":{"type":"array","maxItems":64,"items":{"type":"string","maxLength":255,"pattern":"^[A-Za-z][A-Za-z0-9_.:-]*$"}}}}', 3, 10000, 120000)
ON CONFLICT (job_type) DO NOTHING;
