-- OpenManage Enterprise on real data (issue 16).
--
-- Firmware is one row per installed instance: OME (and an iDRAC's Redfish) list four NIC ports
-- of one component as four instances. The row key stays component_id
-- ("Installed-<component id>__<FQDD>", the id an iDRAC's FirmwareInventory gives the same
-- instance, its version taken out); the instance's FQDD, Dell's component id and the kind of
-- software are columns of their own.
ALTER TABLE public.server_firmware
  ADD COLUMN IF NOT EXISTS fqdd text,
  ADD COLUMN IF NOT EXISTS software_id text,
  ADD COLUMN IF NOT EXISTS component_type text;

-- Storage controllers and power supplies, as OME reports them (a Redfish refresh does not
-- write them yet).
CREATE TABLE IF NOT EXISTS public.server_storage_controllers (
  server_id        uuid NOT NULL REFERENCES public.servers(id) ON DELETE CASCADE,
  fqdd             text NOT NULL,  -- "RAID.Integrated.1-1"
  name             text,
  firmware_version text,
  health           text,
  cache_mib        bigint,
  PRIMARY KEY (server_id, fqdd)
);
CREATE TABLE IF NOT EXISTS public.server_power_supplies (
  server_id        uuid NOT NULL REFERENCES public.servers(id) ON DELETE CASCADE,
  slot             text NOT NULL,  -- "PSU.Slot.1"
  model            text,
  serial_number    text,
  firmware_version text,
  health           text,
  capacity_watts   int,
  PRIMARY KEY (server_id, slot)
);
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['server_storage_controllers', 'server_power_supplies'] LOOP
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('DROP POLICY IF EXISTS viewer_read ON public.%I', t);
    EXECUTE format('CREATE POLICY viewer_read ON public.%I FOR SELECT TO authenticated '
                   'USING (public.dcops_has_role(''viewer''))', t);
    EXECUTE format('GRANT SELECT ON public.%I TO authenticated', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON public.%I TO service_role', t);
  END LOOP;
END
$$;

-- Merging two servers moves the new component lists too.
CREATE OR REPLACE FUNCTION dcops_internal.merge_servers(p_keep uuid, p_gone uuid, p_evidence jsonb, p_actor text)
  RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  g public.servers;
  t text;
BEGIN
  SELECT * INTO g FROM public.servers WHERE id = p_gone FOR UPDATE;
  IF NOT FOUND OR p_keep = p_gone THEN
    RETURN;
  END IF;
  INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
  VALUES (coalesce(p_actor, 'dispatcher'), 'server.merge', 'server', p_keep::text,
          jsonb_build_object('kept', p_keep, 'merged', p_gone,
                             'merged_row', to_jsonb(g) - 'inventory_digests',
                             'kept_row', (SELECT to_jsonb(s) - 'inventory_digests' FROM public.servers s WHERE s.id = p_keep),
                             'evidence', p_evidence));
  -- Component lists: the kept row's stay; the merged row's move only where the kept has none.
  FOREACH t IN ARRAY ARRAY['server_processors', 'server_memory', 'server_drives', 'server_nics', 'server_firmware',
                           'server_volumes', 'server_storage_controllers', 'server_power_supplies'] LOOP
    EXECUTE format('UPDATE public.%I SET server_id = $1 WHERE server_id = $2 '
                   'AND NOT EXISTS (SELECT 1 FROM public.%I k WHERE k.server_id = $1)', t, t)
      USING p_keep, p_gone;
  END LOOP;
  UPDATE public.server_config_backups SET server_id = p_keep WHERE server_id = p_gone;
  UPDATE public.server_log_entries e SET server_id = p_keep WHERE e.server_id = p_gone
     AND NOT EXISTS (SELECT 1 FROM public.server_log_entries k WHERE k.server_id = p_keep AND k.log = e.log
                        AND k.created = e.created AND k.entry_id = e.entry_id);
  UPDATE public.server_log_cursors c SET server_id = p_keep WHERE c.server_id = p_gone
     AND NOT EXISTS (SELECT 1 FROM public.server_log_cursors k WHERE k.server_id = p_keep AND k.log = c.log);
  UPDATE public.vcenter_hosts SET server_id = p_keep WHERE server_id = p_gone;
  UPDATE public.server_identity_conflicts
     SET server_ids = ARRAY(SELECT DISTINCT CASE WHEN x = p_gone THEN p_keep ELSE x END FROM unnest(server_ids) x ORDER BY 1)
   WHERE p_gone = ANY (server_ids);
  DELETE FROM public.servers WHERE id = p_gone;
  UPDATE public.servers s SET
    bmc_address = coalesce(s.bmc_address, g.bmc_address),
    address_source = CASE WHEN s.bmc_address IS NULL THEN g.address_source ELSE s.address_source END,
    service_tag = coalesce(s.service_tag, g.service_tag),
    serial_number = coalesce(s.serial_number, g.serial_number),
    system_uuid = coalesce(s.system_uuid, g.system_uuid),
    manufacturer = coalesce(s.manufacturer, g.manufacturer),
    model = coalesce(s.model, g.model),
    hostname = coalesce(s.hostname, g.hostname),
    credential_set_id = coalesce(s.credential_set_id, g.credential_set_id),
    tls_pin_sha256 = coalesce(s.tls_pin_sha256, g.tls_pin_sha256),
    tls_verify = s.tls_verify AND g.tls_verify,
    ome_device_id = coalesce(s.ome_device_id, g.ome_device_id),
    ome_endpoint_id = coalesce(s.ome_endpoint_id, g.ome_endpoint_id),
    last_refreshed_at = greatest(s.last_refreshed_at, g.last_refreshed_at),
    source = CASE WHEN dcops_internal.source_rank(g.source) > dcops_internal.source_rank(s.source) THEN g.source ELSE s.source END,
    created_at = least(s.created_at, g.created_at)
  WHERE s.id = p_keep;
END
$$;

-- Applies a succeeded inventory.ome_sync step. As before (20261203000100_server_identity.sql),
-- and now also:
-- - the host name OME reports is written: over the row's on a server no Redfish refresh has
--   read, else only where the row has none (a refresh reads the BMC's own);
-- - details (a sync with details: true) replace the component lists of every server no Redfish
--   refresh has read, whatever added it first (discovery, an operator, OME): the rule was
--   "source = 'ome'", and a row discovery added and OME then matched never got OME's details;
-- - NICs, storage controllers, power supplies, and firmware per instance with its FQDD,
--   component id and type.
-- - a server whose details could not be read counts in the endpoint's last_sync_error.
-- Returns {"devices", "added", "newly_missing", "returned", "failed", "conflicts",
-- "no_address", "untagged", "detailed", "details_failed"}.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_apply_ome_sync(p_task_id uuid, p_lease_id uuid,
                                                              p_result jsonb)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_endpoint uuid := dcops_internal.sync_endpoint(p_task_id, p_lease_id, p_result);
  v_site text;
  v_devices jsonb;
  v_n int := 0;
  v_added int := 0;
  v_returned int;
  v_missing int;
  v_untagged int;
  v_no_address int;
  v_before int := dcops_internal.conflicts_counted();
  v_failed jsonb := CASE WHEN jsonb_typeof(p_result -> 'failed') = 'array' THEN p_result -> 'failed' ELSE '[]' END;
  v_dev record;
  g record;
  v_device_ids bigint[] := '{}';
  v_server_ids uuid[] := '{}';
  v_res jsonb;
  v_id uuid;
  v_detailed int;
  v_details_failed int := CASE WHEN jsonb_typeof(p_result -> 'details_failed') = 'array'
                               THEN jsonb_array_length(p_result -> 'details_failed') ELSE 0 END;
BEGIN
  SELECT site INTO v_site FROM public.ome_endpoints WHERE id = v_endpoint;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ome_endpoint_id: no OME endpoint with id %', v_endpoint USING ERRCODE = 'P0002';
  END IF;
  PERFORM dcops_internal.set_identity_task(p_task_id);
  v_devices := dcops_internal.staged(p_task_id, p_lease_id, 'ome.devices');
  CREATE TEMP TABLE IF NOT EXISTS ome_sync_devices (
    ome_device_id bigint, service_tag text, raw_address text, bmc_address text, hostname text, model text,
    power_state text, health text, processors jsonb, memory jsonb, drives jsonb, nics jsonb, controllers jsonb,
    power_supplies jsonb, firmware jsonb, server_id uuid, first_of_tag boolean
  ) ON COMMIT DROP;
  TRUNCATE ome_sync_devices;
  INSERT INTO ome_sync_devices
  SELECT x.ome_device_id, dcops_internal.identity_text(x.service_tag), nullif(trim(x.bmc_address), ''),
         dcops_internal.bmc_address_or_null(x.bmc_address), nullif(trim(x.hostname), ''), x.model, x.power_state, x.health,
         x.processors, x.memory, x.drives, x.nics, x.controllers, x.power_supplies, x.firmware, NULL, false
    FROM jsonb_to_recordset(v_devices)
         AS x(ome_device_id bigint, service_tag text, bmc_address text, hostname text, model text, power_state text,
              health text, processors jsonb, memory jsonb, drives jsonb, nics jsonb, controllers jsonb,
              power_supplies jsonb, firmware jsonb);
  SELECT count(*) FILTER (WHERE service_tag IS NULL),
         count(*) FILTER (WHERE service_tag IS NOT NULL AND bmc_address IS NULL)
    INTO v_untagged, v_no_address FROM ome_sync_devices;
  DELETE FROM ome_sync_devices WHERE service_tag IS NULL;
  UPDATE ome_sync_devices d SET first_of_tag = true
    FROM (SELECT o.service_tag, min(o.ome_device_id) AS first_id FROM ome_sync_devices o GROUP BY o.service_tag) x
   WHERE d.service_tag = x.service_tag AND d.ome_device_id = x.first_id;
  ANALYZE ome_sync_devices;

  SELECT count(*) INTO v_returned
    FROM public.servers s JOIN ome_sync_devices d ON upper(s.service_tag) = d.service_tag AND d.first_of_tag
   WHERE s.ome_missing_since IS NOT NULL OR s.ome_endpoint_id IS DISTINCT FROM v_endpoint;

  -- One address listed for devices of different service tags: nobody gets it from OME (the
  -- conflict is recorded once the devices' rows exist).
  CREATE TEMP TABLE IF NOT EXISTS ome_sync_shared ON COMMIT DROP AS
    SELECT a.bmc_address, array_agg(DISTINCT a.service_tag) AS tags, array_agg(a.ome_device_id) AS ids
      FROM ome_sync_devices a WHERE false GROUP BY a.bmc_address;
  TRUNCATE ome_sync_shared;
  INSERT INTO ome_sync_shared
  SELECT a.bmc_address, array_agg(DISTINCT a.service_tag ORDER BY a.service_tag), array_agg(a.ome_device_id ORDER BY a.ome_device_id)
    FROM ome_sync_devices a WHERE a.bmc_address IS NOT NULL
   GROUP BY a.bmc_address HAVING count(DISTINCT a.service_tag) > 1;
  UPDATE ome_sync_devices d SET bmc_address = NULL FROM ome_sync_shared x WHERE d.bmc_address = x.bmc_address;
  -- A row holding such an address on another report's word loses it too: reports disagree.
  UPDATE public.servers s SET bmc_address = NULL
    FROM ome_sync_shared x
   WHERE s.site = v_site AND s.bmc_address = x.bmc_address AND s.address_source = 'reported';

  FOR v_dev IN SELECT * FROM ome_sync_devices ORDER BY ome_device_id LOOP
    IF NOT v_dev.first_of_tag THEN
      PERFORM dcops_internal.record_conflict(v_site, 'might_be_same', 'tag:' || v_dev.service_tag,
        format('OME lists service tag %s under several device ids (%s); the lowest was written', v_dev.service_tag,
               (SELECT string_agg(o.ome_device_id::text, ', ' ORDER BY o.ome_device_id) FROM ome_sync_devices o
                 WHERE o.service_tag = v_dev.service_tag)),
        ARRAY(SELECT s.id FROM public.servers s WHERE upper(s.service_tag) = v_dev.service_tag), NULL,
        jsonb_build_object('ome', jsonb_build_object('service_tag', v_dev.service_tag, 'ome_device_id', v_dev.ome_device_id)));
      CONTINUE;
    END IF;
    v_res := dcops_internal.resolve_server(v_site, jsonb_strip_nulls(jsonb_build_object(
               'service_tag', v_dev.service_tag, 'bmc_address', v_dev.bmc_address, 'source', 'ome')));
    v_id := (v_res ->> 'server_id')::uuid;
    CONTINUE WHEN v_id IS NULL;
    v_n := v_n + 1;
    IF (v_res ->> 'created')::boolean THEN
      v_added := v_added + 1;
    END IF;
    v_device_ids := v_device_ids || v_dev.ome_device_id;
    v_server_ids := v_server_ids || v_id;
  END LOOP;
  UPDATE ome_sync_devices d SET server_id = x.server_id
    FROM unnest(v_device_ids, v_server_ids) AS x(ome_device_id, server_id)
   WHERE d.ome_device_id = x.ome_device_id;
  -- OME's data on the servers it resolved to, in one statement.
  UPDATE public.servers s SET
    model = coalesce(d.model, s.model),
    hostname = CASE WHEN s.last_refreshed_at IS NULL THEN coalesce(d.hostname, s.hostname)
                    ELSE coalesce(s.hostname, d.hostname) END,
    power_state = coalesce(d.power_state, s.power_state),
    health = coalesce(d.health, s.health),
    ome_device_id = d.ome_device_id,
    ome_endpoint_id = v_endpoint,
    ome_missing_since = NULL
    FROM ome_sync_devices d
   WHERE d.server_id = s.id;

  FOR g IN SELECT * FROM ome_sync_shared ORDER BY bmc_address LOOP
    PERFORM dcops_internal.record_conflict(v_site, 'address_claimed', 'address:' || g.bmc_address,
      format('OME lists %s devices at %s (service tags %s); none of them keeps it', cardinality(g.ids), g.bmc_address,
             array_to_string(g.tags, ', ')),
      ARRAY(SELECT s.id FROM public.servers s WHERE upper(s.service_tag) = ANY (g.tags)), NULL,
      jsonb_build_object('ome', jsonb_build_object('bmc_address', g.bmc_address, 'service_tags', to_jsonb(g.tags),
                                                   'ome_device_ids', to_jsonb(g.ids))));
  END LOOP;

  -- Inventory details (a sync with details: true) replace the component lists of servers no
  -- Redfish refresh has read; a server a refresh reads keeps the Redfish inventory.
  CREATE TEMP TABLE IF NOT EXISTS ome_sync_detailed ON COMMIT DROP AS
    SELECT d.server_id, d.processors, d.memory, d.drives, d.nics, d.controllers, d.power_supplies, d.firmware
      FROM ome_sync_devices d WHERE false;
  TRUNCATE ome_sync_detailed;
  INSERT INTO ome_sync_detailed
  SELECT s.id, d.processors, d.memory, d.drives, d.nics, d.controllers, d.power_supplies, d.firmware
    FROM ome_sync_devices d JOIN public.servers s ON s.id = d.server_id
   WHERE s.last_refreshed_at IS NULL AND d.processors IS NOT NULL;
  GET DIAGNOSTICS v_detailed = ROW_COUNT;
  DELETE FROM public.server_processors p USING ome_sync_detailed x WHERE p.server_id = x.server_id;
  INSERT INTO public.server_processors (server_id, socket, model, manufacturer, cores, max_speed_mhz, health)
  SELECT DISTINCT ON (x.server_id, p.socket) x.server_id, p.socket, p.model, p.manufacturer, p.cores, p.max_speed_mhz, nullif(p.health, '')
    FROM ome_sync_detailed x,
         jsonb_to_recordset(x.processors) AS p(socket text, model text, manufacturer text, cores int, max_speed_mhz int, health text)
   WHERE p.socket IS NOT NULL AND p.socket <> '';
  DELETE FROM public.server_memory m USING ome_sync_detailed x WHERE m.server_id = x.server_id AND x.memory IS NOT NULL;
  INSERT INTO public.server_memory (server_id, slot, capacity_mib, memory_type, speed_mhz, manufacturer, part_number, serial_number, health)
  SELECT DISTINCT ON (x.server_id, m.slot) x.server_id, m.slot, m.capacity_mib, m.memory_type, m.speed_mhz, m.manufacturer,
         m.part_number, m.serial_number, nullif(m.health, '')
    FROM ome_sync_detailed x,
         jsonb_to_recordset(x.memory) AS m(slot text, capacity_mib bigint, memory_type text, speed_mhz int, manufacturer text,
                                           part_number text, serial_number text, health text)
   WHERE m.slot IS NOT NULL AND m.slot <> '';
  DELETE FROM public.server_drives k USING ome_sync_detailed x WHERE k.server_id = x.server_id AND x.drives IS NOT NULL;
  INSERT INTO public.server_drives (server_id, slot, model, serial_number, media_type, protocol, capacity_bytes,
                                    firmware_version, health, predicted_failure, controller)
  SELECT DISTINCT ON (x.server_id, k.slot) x.server_id, k.slot, k.model, k.serial_number, k.media_type, k.protocol, k.capacity_bytes,
         k.firmware_version, nullif(k.health, ''), k.predicted_failure, k.controller
    FROM ome_sync_detailed x,
         jsonb_to_recordset(x.drives) AS k(slot text, model text, serial_number text, media_type text, protocol text,
                                           capacity_bytes bigint, firmware_version text, health text, predicted_failure boolean,
                                           controller text)
   WHERE k.slot IS NOT NULL AND k.slot <> '';
  DELETE FROM public.server_nics n USING ome_sync_detailed x WHERE n.server_id = x.server_id AND x.nics IS NOT NULL;
  INSERT INTO public.server_nics (server_id, port_id, adapter, mac_address, link_status, speed_mbps, firmware_version)
  SELECT DISTINCT ON (x.server_id, n.port_id) x.server_id, n.port_id, n.adapter, n.mac_address, n.link_status, n.speed_mbps,
         n.firmware_version
    FROM ome_sync_detailed x,
         jsonb_to_recordset(x.nics) AS n(port_id text, adapter text, mac_address text, link_status text, speed_mbps int,
                                         firmware_version text)
   WHERE n.port_id IS NOT NULL AND n.port_id <> '';
  DELETE FROM public.server_storage_controllers c USING ome_sync_detailed x
   WHERE c.server_id = x.server_id AND x.controllers IS NOT NULL;
  INSERT INTO public.server_storage_controllers (server_id, fqdd, name, firmware_version, health, cache_mib)
  SELECT DISTINCT ON (x.server_id, c.fqdd) x.server_id, c.fqdd, c.name, c.firmware_version, c.health, c.cache_mib
    FROM ome_sync_detailed x,
         jsonb_to_recordset(x.controllers) AS c(fqdd text, name text, firmware_version text, health text, cache_mib bigint)
   WHERE c.fqdd IS NOT NULL AND c.fqdd <> '';
  DELETE FROM public.server_power_supplies p USING ome_sync_detailed x
   WHERE p.server_id = x.server_id AND x.power_supplies IS NOT NULL;
  INSERT INTO public.server_power_supplies (server_id, slot, model, serial_number, firmware_version, health, capacity_watts)
  SELECT DISTINCT ON (x.server_id, p.slot) x.server_id, p.slot, p.model, p.serial_number, p.firmware_version, p.health,
         p.capacity_watts
    FROM ome_sync_detailed x,
         jsonb_to_recordset(x.power_supplies) AS p(slot text, model text, serial_number text, firmware_version text,
                                                   health text, capacity_watts int)
   WHERE p.slot IS NOT NULL AND p.slot <> '';
  DELETE FROM public.server_firmware f USING ome_sync_detailed x WHERE f.server_id = x.server_id AND x.firmware IS NOT NULL;
  INSERT INTO public.server_firmware (server_id, component_id, name, version, updateable, install_date, fqdd, software_id,
                                      component_type)
  SELECT DISTINCT ON (x.server_id, f.component_id) x.server_id, f.component_id, coalesce(f.name, f.component_id),
         coalesce(f.version, ''), NULL, f.install_date, f.fqdd, f.software_id, f.component_type
    FROM ome_sync_detailed x,
         jsonb_to_recordset(x.firmware) AS f(component_id text, name text, version text, install_date timestamptz,
                                             fqdd text, software_id text, component_type text)
   WHERE f.component_id IS NOT NULL AND f.component_id <> '';

  UPDATE public.servers s SET ome_missing_since = now()
   WHERE s.ome_endpoint_id = v_endpoint AND s.ome_missing_since IS NULL
     AND s.ome_device_id IS NOT NULL
     AND s.ome_device_id NOT IN (SELECT d.ome_device_id FROM ome_sync_devices d WHERE d.ome_device_id IS NOT NULL)
     AND s.ome_device_id NOT IN (SELECT (f ->> 'id')::bigint FROM jsonb_array_elements(v_failed) f
                                  WHERE jsonb_typeof(f -> 'id') = 'number');
  GET DIAGNOSTICS v_missing = ROW_COUNT;
  PERFORM dcops_internal.link_hosts_to_servers(NULL, NULL);
  PERFORM dcops_internal.set_identity_task(NULL);
  UPDATE public.ome_endpoints
     SET last_sync_at = now(),
         last_sync_error = nullif(concat_ws('; ',
           CASE WHEN jsonb_array_length(v_failed) > 0 THEN format('%s device(s) could not be read', jsonb_array_length(v_failed)) END,
           CASE WHEN v_details_failed > 0 THEN format('the details of %s device(s) could not be read', v_details_failed) END), '')
   WHERE id = v_endpoint;
  DELETE FROM public.inventory_staging WHERE task_id = p_task_id;
  RETURN jsonb_build_object('devices', v_n, 'added', v_added, 'newly_missing', v_missing, 'returned', v_returned,
                            'failed', jsonb_array_length(v_failed),
                            'conflicts', dcops_internal.conflicts_counted() - v_before,
                            'no_address', v_no_address, 'untagged', v_untagged, 'detailed', v_detailed,
                            'details_failed', v_details_failed);
END
$$;

-- How many servers' details an OME sync reads at once over its one session.
UPDATE public.job_types
   SET params_schema = jsonb_set(params_schema, '{properties,details_parallelism}',
                                 '{"type":"integer","minimum":1,"maximum":16}')
 WHERE job_type = 'inventory.ome_sync';
