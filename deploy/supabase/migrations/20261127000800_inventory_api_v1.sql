-- Inventory writes, part of the dispatcher's API v1. All are idempotent: the same input
-- twice leaves the same rows. vCenter objects missing from a full snapshot are removed.
-- vCenter hosts link to servers by service tag (case-insensitive), from either side.

CREATE OR REPLACE FUNCTION dcops_internal.link_hosts_to_servers(p_service_tag text DEFAULT NULL,
                                                               p_vcenter_id uuid DEFAULT NULL)
  RETURNS int
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_linked int;
BEGIN
  UPDATE public.vcenter_hosts h SET server_id = s.id
    FROM public.servers s
   WHERE upper(h.service_tag) = upper(s.service_tag)
     AND h.server_id IS DISTINCT FROM s.id
     AND (p_service_tag IS NULL OR upper(h.service_tag) = upper(p_service_tag))
     AND (p_vcenter_id IS NULL OR h.vcenter_id = p_vcenter_id);
  GET DIAGNOSTICS v_linked = ROW_COUNT;
  -- Links whose tags no longer match (a host re-installed on other hardware) are dropped.
  UPDATE public.vcenter_hosts h SET server_id = NULL
   WHERE h.server_id IS NOT NULL
     AND (p_vcenter_id IS NULL OR h.vcenter_id = p_vcenter_id)
     AND NOT EXISTS (SELECT 1 FROM public.servers s
                      WHERE s.id = h.server_id AND upper(s.service_tag) = upper(h.service_tag));
  RETURN v_linked;
END
$$;

-- Upserts one server and, for each component list present, replaces that list:
--   {"bmc_address": "127.0.1.4", "service_tag": "ABC1234", "model": "PowerEdge R750", ...,
--    "processors": [{"socket": "CPU.Socket.1", "model": "...", "cores": 32, ...}],
--    "memory": [...], "drives": [...], "nics": [...], "firmware": [...]}
-- The server is found by service tag, else by (site, bmc_address). Only keys present are
-- written, so a partial refresh never blanks what it did not read. Returns the server id.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_upsert_server(p_site text, p_server jsonb)
  RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_id  uuid;
  v_tag text := nullif(trim(p_server ->> 'service_tag'), '');
  v_bmc text := nullif(trim(p_server ->> 'bmc_address'), '');
  v_src text := coalesce(p_server ->> 'source', 'redfish');
BEGIN
  IF p_server IS NULL OR jsonb_typeof(p_server) <> 'object' THEN
    RAISE EXCEPTION 'server: must be a JSON object' USING ERRCODE = '22023';
  END IF;
  IF v_tag IS NULL AND v_bmc IS NULL THEN
    RAISE EXCEPTION 'server: needs service_tag or bmc_address' USING ERRCODE = '22023';
  END IF;
  IF v_tag IS NOT NULL THEN
    SELECT id INTO v_id FROM public.servers WHERE upper(service_tag) = upper(v_tag) FOR UPDATE;
  END IF;
  IF v_id IS NULL AND v_bmc IS NOT NULL THEN
    SELECT id INTO v_id FROM public.servers
     WHERE site = p_site AND bmc_address = v_bmc
       AND (v_tag IS NULL OR service_tag IS NULL OR upper(service_tag) = upper(v_tag))
       FOR UPDATE;
  END IF;
  IF v_bmc IS NOT NULL THEN
    -- The address now belongs to this server: a row found only by address without a tag
    -- (a discovered BMC not yet refreshed) is the same machine and merges into this one;
    -- a row of another service tag loses the address (the BMC's IP was reassigned).
    DELETE FROM public.servers
     WHERE site = p_site AND bmc_address = v_bmc AND id IS DISTINCT FROM v_id AND service_tag IS NULL;
    UPDATE public.servers SET bmc_address = NULL
     WHERE site = p_site AND bmc_address = v_bmc AND id IS DISTINCT FROM v_id;
  END IF;
  IF v_id IS NULL THEN
    INSERT INTO public.servers (site, bmc_address, service_tag, source)
    VALUES (p_site, v_bmc, v_tag, v_src)
    RETURNING id INTO v_id;
  END IF;

  UPDATE public.servers s SET
    bmc_address   = coalesce(v_bmc, s.bmc_address),
    service_tag   = coalesce(v_tag, s.service_tag),
    hostname      = CASE WHEN p_server ? 'hostname' THEN p_server ->> 'hostname' ELSE s.hostname END,
    manufacturer  = CASE WHEN p_server ? 'manufacturer' THEN p_server ->> 'manufacturer' ELSE s.manufacturer END,
    model         = CASE WHEN p_server ? 'model' THEN p_server ->> 'model' ELSE s.model END,
    serial_number = CASE WHEN p_server ? 'serial_number' THEN p_server ->> 'serial_number' ELSE s.serial_number END,
    bios_version  = CASE WHEN p_server ? 'bios_version' THEN p_server ->> 'bios_version' ELSE s.bios_version END,
    bmc_firmware  = CASE WHEN p_server ? 'bmc_firmware' THEN p_server ->> 'bmc_firmware' ELSE s.bmc_firmware END,
    lc_state      = CASE WHEN p_server ? 'lc_state' THEN p_server ->> 'lc_state' ELSE s.lc_state END,
    power_state   = CASE WHEN p_server ? 'power_state' THEN p_server ->> 'power_state' ELSE s.power_state END,
    health        = CASE WHEN p_server ? 'health' THEN p_server ->> 'health' ELSE s.health END,
    cpu_count     = CASE WHEN p_server ? 'cpu_count' THEN (p_server ->> 'cpu_count')::int ELSE s.cpu_count END,
    memory_gib    = CASE WHEN p_server ? 'memory_gib' THEN (p_server ->> 'memory_gib')::numeric ELSE s.memory_gib END,
    ome_device_id = CASE WHEN p_server ? 'ome_device_id' THEN (p_server ->> 'ome_device_id')::bigint ELSE s.ome_device_id END,
    credential_set_id = CASE WHEN p_server ? 'credential_set_id'
                             THEN (p_server ->> 'credential_set_id')::uuid ELSE s.credential_set_id END,
    -- Redfish is the authority once it has spoken; OME does not demote it.
    source        = CASE WHEN s.source = 'redfish' AND v_src = 'ome' THEN s.source ELSE v_src END,
    last_refreshed_at = now()
  WHERE s.id = v_id;

  IF p_server ? 'processors' THEN
    DELETE FROM public.server_processors WHERE server_id = v_id;
    INSERT INTO public.server_processors (server_id, socket, model, manufacturer, cores, threads, max_speed_mhz, health)
    SELECT DISTINCT ON (x.socket) v_id, x.socket, x.model, x.manufacturer, x.cores, x.threads, x.max_speed_mhz, x.health
      FROM jsonb_to_recordset(p_server -> 'processors')
           AS x(socket text, model text, manufacturer text, cores int, threads int, max_speed_mhz int, health text)
     WHERE x.socket IS NOT NULL;
  END IF;
  IF p_server ? 'memory' THEN
    DELETE FROM public.server_memory WHERE server_id = v_id;
    INSERT INTO public.server_memory (server_id, slot, capacity_mib, memory_type, speed_mhz, manufacturer, part_number, serial_number, health)
    SELECT DISTINCT ON (x.slot) v_id, x.slot, x.capacity_mib, x.memory_type, x.speed_mhz, x.manufacturer, x.part_number, x.serial_number, x.health
      FROM jsonb_to_recordset(p_server -> 'memory')
           AS x(slot text, capacity_mib bigint, memory_type text, speed_mhz int, manufacturer text, part_number text, serial_number text, health text)
     WHERE x.slot IS NOT NULL;
  END IF;
  IF p_server ? 'drives' THEN
    DELETE FROM public.server_drives WHERE server_id = v_id;
    INSERT INTO public.server_drives (server_id, slot, model, serial_number, media_type, protocol, capacity_bytes, firmware_version, health, predicted_failure, controller)
    SELECT DISTINCT ON (x.slot) v_id, x.slot, x.model, x.serial_number, x.media_type, x.protocol, x.capacity_bytes, x.firmware_version, x.health, x.predicted_failure, x.controller
      FROM jsonb_to_recordset(p_server -> 'drives')
           AS x(slot text, model text, serial_number text, media_type text, protocol text, capacity_bytes bigint, firmware_version text, health text, predicted_failure boolean, controller text)
     WHERE x.slot IS NOT NULL;
  END IF;
  IF p_server ? 'nics' THEN
    DELETE FROM public.server_nics WHERE server_id = v_id;
    INSERT INTO public.server_nics (server_id, port_id, adapter, mac_address, link_status, speed_mbps, firmware_version)
    SELECT DISTINCT ON (x.port_id) v_id, x.port_id, x.adapter, x.mac_address, x.link_status, x.speed_mbps, x.firmware_version
      FROM jsonb_to_recordset(p_server -> 'nics')
           AS x(port_id text, adapter text, mac_address text, link_status text, speed_mbps int, firmware_version text)
     WHERE x.port_id IS NOT NULL;
  END IF;
  IF p_server ? 'firmware' THEN
    DELETE FROM public.server_firmware WHERE server_id = v_id;
    INSERT INTO public.server_firmware (server_id, component_id, name, version, updateable, install_date)
    SELECT DISTINCT ON (x.component_id) v_id, x.component_id, coalesce(x.name, x.component_id), coalesce(x.version, ''), x.updateable, x.install_date
      FROM jsonb_to_recordset(p_server -> 'firmware')
           AS x(component_id text, name text, version text, updateable boolean, install_date timestamptz)
     WHERE x.component_id IS NOT NULL;
  END IF;

  IF v_tag IS NOT NULL THEN
    PERFORM dcops_internal.link_hosts_to_servers(v_tag, NULL);
  END IF;
  RETURN v_id;
END
$$;

-- Applies one vCenter inventory snapshot:
--   {"clusters": [{"moref": "domain-c7", "name": "...", "datacenter": "...", "ha_enabled": true,
--                  "drs_enabled": true, "vsan_enabled": false, "host_count": 4}],
--    "hosts": [{"moref": "host-12", "name": "...", "cluster_moref": "domain-c7",
--               "connection_state": "connected", "power_state": "poweredOn",
--               "maintenance_mode": false, "esxi_version": "8.0.2", "esxi_build": "...",
--               "vendor": "Dell Inc.", "model": "...", "service_tag": "ABC1234"}],
--    "vms": [{"moref": "vm-101", "name": "...", "host_moref": "host-12", ...}],
--    "datastores": [{"moref": "datastore-9", ...}], "networks": [{"moref": "network-5", ...}]}
-- For every list present, objects not in it are removed (they vanished from vCenter); a list
-- left out is not touched. Returns counts per kind: {"hosts": {"upserted": n, "removed": m}, ...}.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_upsert_vcenter_inventory(p_vcenter_id uuid,
                                                                        p_inventory jsonb)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_out jsonb := '{}';
  v_up int;
  v_rm int;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.vcenters WHERE id = p_vcenter_id) THEN
    RAISE EXCEPTION 'vcenter_id: no vCenter with id %', p_vcenter_id USING ERRCODE = 'P0002';
  END IF;
  IF p_inventory IS NULL OR jsonb_typeof(p_inventory) <> 'object' THEN
    RAISE EXCEPTION 'inventory: must be a JSON object' USING ERRCODE = '22023';
  END IF;

  IF p_inventory ? 'clusters' THEN
    INSERT INTO public.vcenter_clusters AS c (vcenter_id, moref, name, datacenter, ha_enabled,
                                              drs_enabled, vsan_enabled, host_count, last_seen_at)
    SELECT DISTINCT ON (x.moref) p_vcenter_id, x.moref, coalesce(x.name, x.moref), x.datacenter,
           x.ha_enabled, x.drs_enabled, x.vsan_enabled, x.host_count, now()
      FROM jsonb_to_recordset(p_inventory -> 'clusters')
           AS x(moref text, name text, datacenter text, ha_enabled boolean, drs_enabled boolean,
                vsan_enabled boolean, host_count int)
     WHERE x.moref IS NOT NULL
    ON CONFLICT (vcenter_id, moref) DO UPDATE
      SET name = EXCLUDED.name, datacenter = EXCLUDED.datacenter, ha_enabled = EXCLUDED.ha_enabled,
          drs_enabled = EXCLUDED.drs_enabled, vsan_enabled = EXCLUDED.vsan_enabled,
          host_count = EXCLUDED.host_count, last_seen_at = now();
    GET DIAGNOSTICS v_up = ROW_COUNT;
    DELETE FROM public.vcenter_clusters c
     WHERE c.vcenter_id = p_vcenter_id
       AND NOT c.moref IN (SELECT x ->> 'moref' FROM jsonb_array_elements(p_inventory -> 'clusters') x
                            WHERE x ->> 'moref' IS NOT NULL);
    GET DIAGNOSTICS v_rm = ROW_COUNT;
    v_out := v_out || jsonb_build_object('clusters', jsonb_build_object('upserted', v_up, 'removed', v_rm));
  END IF;

  IF p_inventory ? 'hosts' THEN
    INSERT INTO public.vcenter_hosts AS h (vcenter_id, cluster_id, moref, name, connection_state,
                                           power_state, maintenance_mode, esxi_version, esxi_build,
                                           vendor, model, service_tag, last_seen_at)
    SELECT DISTINCT ON (x.moref) p_vcenter_id,
           (SELECT c.id FROM public.vcenter_clusters c
             WHERE c.vcenter_id = p_vcenter_id AND c.moref = x.cluster_moref),
           x.moref, coalesce(x.name, x.moref), x.connection_state, x.power_state,
           x.maintenance_mode, x.esxi_version, x.esxi_build, x.vendor, x.model,
           nullif(trim(x.service_tag), ''), now()
      FROM jsonb_to_recordset(p_inventory -> 'hosts')
           AS x(moref text, name text, cluster_moref text, connection_state text, power_state text,
                maintenance_mode boolean, esxi_version text, esxi_build text, vendor text,
                model text, service_tag text)
     WHERE x.moref IS NOT NULL
    ON CONFLICT (vcenter_id, moref) DO UPDATE
      SET cluster_id = EXCLUDED.cluster_id, name = EXCLUDED.name,
          connection_state = EXCLUDED.connection_state, power_state = EXCLUDED.power_state,
          maintenance_mode = EXCLUDED.maintenance_mode, esxi_version = EXCLUDED.esxi_version,
          esxi_build = EXCLUDED.esxi_build, vendor = EXCLUDED.vendor, model = EXCLUDED.model,
          service_tag = EXCLUDED.service_tag, last_seen_at = now();
    GET DIAGNOSTICS v_up = ROW_COUNT;
    DELETE FROM public.vcenter_hosts h
     WHERE h.vcenter_id = p_vcenter_id
       AND NOT h.moref IN (SELECT x ->> 'moref' FROM jsonb_array_elements(p_inventory -> 'hosts') x
                            WHERE x ->> 'moref' IS NOT NULL);
    GET DIAGNOSTICS v_rm = ROW_COUNT;
    v_out := v_out || jsonb_build_object('hosts', jsonb_build_object('upserted', v_up, 'removed', v_rm));
  END IF;

  IF p_inventory ? 'vms' THEN
    INSERT INTO public.vcenter_vms AS v (vcenter_id, host_id, moref, name, power_state, guest_os,
                                         num_cpu, memory_mib, instance_uuid, last_seen_at)
    SELECT DISTINCT ON (x.moref) p_vcenter_id,
           (SELECT h.id FROM public.vcenter_hosts h
             WHERE h.vcenter_id = p_vcenter_id AND h.moref = x.host_moref),
           x.moref, coalesce(x.name, x.moref), x.power_state, x.guest_os, x.num_cpu, x.memory_mib,
           x.instance_uuid, now()
      FROM jsonb_to_recordset(p_inventory -> 'vms')
           AS x(moref text, name text, host_moref text, power_state text, guest_os text,
                num_cpu int, memory_mib bigint, instance_uuid text)
     WHERE x.moref IS NOT NULL
    ON CONFLICT (vcenter_id, moref) DO UPDATE
      SET host_id = EXCLUDED.host_id, name = EXCLUDED.name, power_state = EXCLUDED.power_state,
          guest_os = EXCLUDED.guest_os, num_cpu = EXCLUDED.num_cpu,
          memory_mib = EXCLUDED.memory_mib, instance_uuid = EXCLUDED.instance_uuid,
          last_seen_at = now();
    GET DIAGNOSTICS v_up = ROW_COUNT;
    DELETE FROM public.vcenter_vms v
     WHERE v.vcenter_id = p_vcenter_id
       AND NOT v.moref IN (SELECT x ->> 'moref' FROM jsonb_array_elements(p_inventory -> 'vms') x
                            WHERE x ->> 'moref' IS NOT NULL);
    GET DIAGNOSTICS v_rm = ROW_COUNT;
    v_out := v_out || jsonb_build_object('vms', jsonb_build_object('upserted', v_up, 'removed', v_rm));
  END IF;

  IF p_inventory ? 'datastores' THEN
    INSERT INTO public.vcenter_datastores AS d (vcenter_id, moref, name, ds_type, capacity_bytes,
                                                free_bytes, accessible, last_seen_at)
    SELECT DISTINCT ON (x.moref) p_vcenter_id, x.moref, coalesce(x.name, x.moref), x.ds_type,
           x.capacity_bytes, x.free_bytes, x.accessible, now()
      FROM jsonb_to_recordset(p_inventory -> 'datastores')
           AS x(moref text, name text, ds_type text, capacity_bytes bigint, free_bytes bigint,
                accessible boolean)
     WHERE x.moref IS NOT NULL
    ON CONFLICT (vcenter_id, moref) DO UPDATE
      SET name = EXCLUDED.name, ds_type = EXCLUDED.ds_type,
          capacity_bytes = EXCLUDED.capacity_bytes, free_bytes = EXCLUDED.free_bytes,
          accessible = EXCLUDED.accessible, last_seen_at = now();
    GET DIAGNOSTICS v_up = ROW_COUNT;
    DELETE FROM public.vcenter_datastores d
     WHERE d.vcenter_id = p_vcenter_id
       AND NOT d.moref IN (SELECT x ->> 'moref' FROM jsonb_array_elements(p_inventory -> 'datastores') x
                            WHERE x ->> 'moref' IS NOT NULL);
    GET DIAGNOSTICS v_rm = ROW_COUNT;
    v_out := v_out || jsonb_build_object('datastores', jsonb_build_object('upserted', v_up, 'removed', v_rm));
  END IF;

  IF p_inventory ? 'networks' THEN
    INSERT INTO public.vcenter_networks AS n (vcenter_id, moref, name, network_type, vlan_id, last_seen_at)
    SELECT DISTINCT ON (x.moref) p_vcenter_id, x.moref, coalesce(x.name, x.moref), x.network_type,
           x.vlan_id, now()
      FROM jsonb_to_recordset(p_inventory -> 'networks')
           AS x(moref text, name text, network_type text, vlan_id int)
     WHERE x.moref IS NOT NULL
    ON CONFLICT (vcenter_id, moref) DO UPDATE
      SET name = EXCLUDED.name, network_type = EXCLUDED.network_type, vlan_id = EXCLUDED.vlan_id,
          last_seen_at = now();
    GET DIAGNOSTICS v_up = ROW_COUNT;
    DELETE FROM public.vcenter_networks n
     WHERE n.vcenter_id = p_vcenter_id
       AND NOT n.moref IN (SELECT x ->> 'moref' FROM jsonb_array_elements(p_inventory -> 'networks') x
                            WHERE x ->> 'moref' IS NOT NULL);
    GET DIAGNOSTICS v_rm = ROW_COUNT;
    v_out := v_out || jsonb_build_object('networks', jsonb_build_object('upserted', v_up, 'removed', v_rm));
  END IF;

  PERFORM dcops_internal.link_hosts_to_servers(NULL, p_vcenter_id);
  UPDATE public.vcenters SET last_sync_at = now(), last_sync_error = NULL WHERE id = p_vcenter_id;
  RETURN v_out;
END
$$;

-- Records the outcome of a sync on its endpoint (kind 'vcenter' or 'ome').
CREATE OR REPLACE FUNCTION public.dispatcher_v1_record_sync(p_kind text, p_endpoint_id uuid,
                                                           p_error text DEFAULT NULL)
  RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
BEGIN
  IF p_kind = 'vcenter' THEN
    UPDATE public.vcenters
       SET last_sync_at = CASE WHEN p_error IS NULL THEN now() ELSE last_sync_at END,
           last_sync_error = left(p_error, 4000)
     WHERE id = p_endpoint_id;
  ELSIF p_kind = 'ome' THEN
    UPDATE public.ome_endpoints
       SET last_sync_at = CASE WHEN p_error IS NULL THEN now() ELSE last_sync_at END,
           last_sync_error = left(p_error, 4000)
     WHERE id = p_endpoint_id;
  ELSE
    RAISE EXCEPTION 'kind: must be vcenter or ome, got %', p_kind USING ERRCODE = '22023';
  END IF;
  RETURN FOUND;
END
$$;
