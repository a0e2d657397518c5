-- Inventory syncs (inventory.ome_sync, inventory.vcenter_sync). A sync agent streams its
-- inventory in batches; the dispatcher stages each batch under the step's lease and applies
-- the whole sync in one transaction when the step succeeds, so a sync that fails half-way
-- leaves the previous inventory exactly as it was.

-- Servers as OME lists them: which endpoint, and since when it no longer lists them (a server
-- OME dropped is kept, marked, not deleted: it may still answer on its iDRAC).
ALTER TABLE public.servers
  ADD COLUMN IF NOT EXISTS ome_endpoint_id uuid REFERENCES public.ome_endpoints(id) ON DELETE SET NULL,
  ADD COLUMN IF NOT EXISTS ome_missing_since timestamptz;
CREATE INDEX IF NOT EXISTS servers_ome_endpoint_idx ON public.servers (ome_endpoint_id)
  WHERE ome_endpoint_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS servers_serial_idx ON public.servers (upper(serial_number));
-- The SMBIOS UUID a Redfish refresh reads; ESXi reports the same one for its host.
ALTER TABLE public.servers ADD COLUMN IF NOT EXISTS system_uuid text;
CREATE INDEX IF NOT EXISTS servers_system_uuid_idx ON public.servers (lower(system_uuid));

-- The property collector version the last sync reached: the next sync asks for changes since
-- it (an agent whose session still holds the filter), else reads everything.
ALTER TABLE public.vcenters ADD COLUMN IF NOT EXISTS sync_version text;
ALTER TABLE public.vcenter_hosts
  ADD COLUMN IF NOT EXISTS datacenter text,
  ADD COLUMN IF NOT EXISTS serial_number text,
  ADD COLUMN IF NOT EXISTS system_uuid text;
ALTER TABLE public.vcenter_vms
  ADD COLUMN IF NOT EXISTS guest_hostname text,
  ADD COLUMN IF NOT EXISTS ip_addresses text[] NOT NULL DEFAULT '{}',
  ADD COLUMN IF NOT EXISTS datastores text[] NOT NULL DEFAULT '{}',
  ADD COLUMN IF NOT EXISTS tools_status text;

-- Batches of a running sync step. Only the dispatcher reads or writes them.
CREATE TABLE IF NOT EXISTS public.inventory_staging (
  task_id   uuid NOT NULL REFERENCES public.job_tasks(id) ON DELETE CASCADE,
  lease_id  uuid NOT NULL,
  sequence  bigint NOT NULL,
  kind      text NOT NULL CHECK (kind IN ('ome.devices', 'vcenter.clusters', 'vcenter.hosts', 'vcenter.vms',
                                          'vcenter.datastores', 'vcenter.networks', 'vcenter.removed')),
  payload   jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'array'),
  staged_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (task_id, sequence)
);
ALTER TABLE public.inventory_staging ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.inventory_staging TO service_role;

-- Stages one batch: false when the lease is no longer the step's (the agent should stop).
-- A batch sent again after a lost acknowledgement replaces itself; batches of an earlier
-- attempt are dropped.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_stage_inventory(p_task_id uuid, p_lease_id uuid,
                                                               p_sequence bigint, p_kind text,
                                                               p_payload jsonb)
  RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
BEGIN
  IF p_payload IS NULL OR jsonb_typeof(p_payload) <> 'array' THEN
    RAISE EXCEPTION 'inventory batch %: must be a JSON array', p_kind USING ERRCODE = '22023';
  END IF;
  IF p_kind NOT IN ('ome.devices', 'vcenter.clusters', 'vcenter.hosts', 'vcenter.vms',
                    'vcenter.datastores', 'vcenter.networks', 'vcenter.removed') THEN
    RAISE EXCEPTION 'inventory batch: unknown kind %', p_kind USING ERRCODE = '22023';
  END IF;
  PERFORM 1 FROM public.job_tasks
   WHERE id = p_task_id AND lease_id = p_lease_id AND status IN ('leased', 'running')
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  DELETE FROM public.inventory_staging WHERE task_id = p_task_id AND lease_id <> p_lease_id;
  INSERT INTO public.inventory_staging (task_id, lease_id, sequence, kind, payload)
  VALUES (p_task_id, p_lease_id, p_sequence, p_kind, p_payload)
  ON CONFLICT (task_id, sequence) DO UPDATE
    SET lease_id = EXCLUDED.lease_id, kind = EXCLUDED.kind, payload = EXCLUDED.payload, staged_at = now();
  UPDATE public.job_tasks SET heartbeat_at = now() WHERE id = p_task_id;
  RETURN true;
END
$$;

-- The staged objects of one kind, in the order they were sent.
CREATE OR REPLACE FUNCTION dcops_internal.staged(p_task_id uuid, p_lease_id uuid, p_kind text)
  RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, public
AS $$
  SELECT coalesce(jsonb_agg(x.e ORDER BY s.sequence, x.o), '[]'::jsonb)
    FROM public.inventory_staging s
         CROSS JOIN LATERAL jsonb_array_elements(s.payload) WITH ORDINALITY AS x(e, o)
   WHERE s.task_id = p_task_id AND s.lease_id = p_lease_id AND s.kind = p_kind
$$;

-- The endpoint a sync step works on (the planner put it in the step's params as _endpoint.id),
-- after checking every batch the agent says it sent has been staged. A missing batch fails
-- the apply as retryable (40001): the sync runs again rather than remove what it did not see.
CREATE OR REPLACE FUNCTION dcops_internal.sync_endpoint(p_task_id uuid, p_lease_id uuid, p_result jsonb)
  RETURNS uuid
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_endpoint uuid;
  v_sent bigint;
  v_staged bigint;
BEGIN
  SELECT nullif(t.params #>> '{_endpoint,id}', '')::uuid INTO v_endpoint
    FROM public.job_tasks t WHERE t.id = p_task_id;
  IF v_endpoint IS NULL THEN
    RAISE EXCEPTION 'task %: not a sync step (no _endpoint.id)', p_task_id USING ERRCODE = '22023';
  END IF;
  IF p_result IS NULL OR jsonb_typeof(p_result -> 'batches') <> 'number' THEN
    RAISE EXCEPTION 'sync result: batches must be a number' USING ERRCODE = '22023';
  END IF;
  v_sent := (p_result ->> 'batches')::bigint;
  SELECT count(*) INTO v_staged FROM public.inventory_staging
   WHERE task_id = p_task_id AND lease_id = p_lease_id;
  IF v_staged <> v_sent THEN
    RAISE EXCEPTION 'sync: the agent sent % batch(es), % arrived; nothing was applied', v_sent, v_staged
      USING ERRCODE = '40001';
  END IF;
  RETURN v_endpoint;
END
$$;

-- What the dispatcher needs at assignment time to reach a sync endpoint ('ome' or
-- 'vcenter'): its address, credential set and TLS trust, and for vCenter the version the
-- last sync reached. NULL when the endpoint is gone.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_sync_endpoint(p_kind text, p_id uuid)
  RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v jsonb;
BEGIN
  IF p_kind = 'ome' THEN
    SELECT jsonb_build_object('id', e.id, 'name', e.name, 'address', e.address,
                              'credential_set_id', coalesce(e.credential_set_id::text, ''),
                              'tls_verify', e.tls_verify, 'tls_pin_sha256', coalesce(e.tls_pin_sha256, ''),
                              'enabled', e.enabled)
      INTO v FROM public.ome_endpoints e WHERE e.id = p_id;
  ELSIF p_kind = 'vcenter' THEN
    SELECT jsonb_build_object('id', e.id, 'name', e.name, 'address', e.address,
                              'credential_set_id', coalesce(e.credential_set_id::text, ''),
                              'tls_verify', e.tls_verify, 'tls_pin_sha256', coalesce(e.tls_pin_sha256, ''),
                              'enabled', e.enabled, 'version', coalesce(e.sync_version, ''))
      INTO v FROM public.vcenters e WHERE e.id = p_id;
  ELSE
    RAISE EXCEPTION 'kind: must be vcenter or ome, got %', p_kind USING ERRCODE = '22023';
  END IF;
  RETURN v;
END
$$;

-- Links vCenter hosts to servers: by service tag, else by serial number, else by system
-- (SMBIOS) UUID: hardware whose tag vCenter does not report. Every link made, moved or
-- dropped goes to the audit log.
CREATE OR REPLACE FUNCTION dcops_internal.link_hosts_to_servers(p_service_tag text DEFAULT NULL,
                                                               p_vcenter_id uuid DEFAULT NULL)
  RETURNS int
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_changed int;
BEGIN
  WITH wanted AS (
    SELECT h.id AS host_id, h.server_id AS old_server,
           coalesce((SELECT s.id FROM public.servers s
                      WHERE h.service_tag IS NOT NULL AND upper(s.service_tag) = upper(h.service_tag)),
                    (SELECT s.id FROM public.servers s
                      WHERE h.serial_number IS NOT NULL AND upper(s.serial_number) = upper(h.serial_number)
                      ORDER BY s.id LIMIT 1),
                    (SELECT s.id FROM public.servers s
                      WHERE h.system_uuid IS NOT NULL AND lower(s.system_uuid) = lower(h.system_uuid)
                      ORDER BY s.id LIMIT 1)) AS new_server
      FROM public.vcenter_hosts h
     WHERE (p_vcenter_id IS NULL OR h.vcenter_id = p_vcenter_id)
       AND (p_service_tag IS NULL OR upper(h.service_tag) = upper(p_service_tag)
            OR h.server_id IN (SELECT s.id FROM public.servers s WHERE upper(s.service_tag) = upper(p_service_tag))
            OR upper(h.serial_number) IN (SELECT upper(s.serial_number) FROM public.servers s
                                          WHERE upper(s.service_tag) = upper(p_service_tag))
            OR lower(h.system_uuid) IN (SELECT lower(s.system_uuid) FROM public.servers s
                                        WHERE upper(s.service_tag) = upper(p_service_tag)))
  ), changed AS (
    UPDATE public.vcenter_hosts h SET server_id = w.new_server
      FROM wanted w
     WHERE h.id = w.host_id AND w.old_server IS DISTINCT FROM w.new_server
    RETURNING h.id, h.vcenter_id, h.moref, h.name, w.old_server, w.new_server
  ), audited AS (
    INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
    SELECT 'dispatcher', CASE WHEN c.new_server IS NULL THEN 'host.unlink' ELSE 'host.link' END,
           'vcenter_host', c.id::text,
           jsonb_build_object('vcenter_id', c.vcenter_id, 'moref', c.moref, 'name', c.name,
                              'server_id', c.new_server, 'previous_server_id', c.old_server)
      FROM changed c
    RETURNING 1
  )
  SELECT count(*) INTO v_changed FROM audited;
  RETURN v_changed;
END
$$;

-- One refresh (the landed contract), now also keeping the system UUID the refresh read and
-- linking the server's vCenter host by it.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_upsert_server_inventory(p_site text, p_server jsonb)
  RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_id      uuid;
  v_server  jsonb := p_server;
  v_digests jsonb;
  v_changed jsonb := '{}';
  v_key     text;
  v_md5     text;
  v_tag     text := nullif(trim(p_server ->> 'service_tag'), '');
BEGIN
  IF p_server IS NULL OR jsonb_typeof(p_server) <> 'object' THEN
    RAISE EXCEPTION 'server: must be a JSON object' USING ERRCODE = '22023';
  END IF;
  IF p_server ? 'volumes' AND jsonb_typeof(p_server -> 'volumes') <> 'array' THEN
    RAISE EXCEPTION 'server.volumes: must be an array' USING ERRCODE = '22023';
  END IF;
  -- The row the upsert will find (by service tag, else by address), for its digests.
  IF v_tag IS NOT NULL THEN
    SELECT inventory_digests INTO v_digests FROM public.servers WHERE upper(service_tag) = upper(v_tag);
  END IF;
  IF v_digests IS NULL THEN
    SELECT inventory_digests INTO v_digests FROM public.servers
     WHERE site = p_site AND bmc_address = nullif(trim(p_server ->> 'bmc_address'), '');
  END IF;
  FOREACH v_key IN ARRAY ARRAY['processors', 'memory', 'drives', 'nics', 'firmware', 'volumes'] LOOP
    CONTINUE WHEN NOT v_server ? v_key;
    v_md5 := md5((v_server -> v_key)::text);
    IF coalesce(v_digests ->> v_key, '') = v_md5 THEN
      v_server := v_server - v_key;  -- unchanged: left as it is
    ELSE
      v_changed := v_changed || jsonb_build_object(v_key, v_md5);
    END IF;
  END LOOP;
  PERFORM set_config('dcops.inventory_writer', 'on', true);
  v_id := public.dispatcher_v1_upsert_server(p_site, v_server);
  IF v_changed <> '{}' THEN
    UPDATE public.servers SET inventory_digests = inventory_digests || v_changed WHERE id = v_id;
  END IF;
  IF v_server ? 'volumes' THEN
    DELETE FROM public.server_volumes WHERE server_id = v_id;
    INSERT INTO public.server_volumes (server_id, volume_id, name, raid_type, capacity_bytes, health, controller, drives)
    SELECT DISTINCT ON (x.volume_id) v_id, x.volume_id, x.name, x.raid_type, x.capacity_bytes, x.health,
           x.controller, coalesce(ARRAY(SELECT jsonb_array_elements_text(x.drives)), '{}')
      FROM jsonb_to_recordset(v_server -> 'volumes')
           AS x(volume_id text, name text, raid_type text, capacity_bytes bigint, health text,
                controller text, drives jsonb)
     WHERE x.volume_id IS NOT NULL;
  END IF;
  IF nullif(trim(p_server ->> 'system_uuid'), '') IS NOT NULL THEN
    UPDATE public.servers SET system_uuid = trim(p_server ->> 'system_uuid')
     WHERE id = v_id AND system_uuid IS DISTINCT FROM trim(p_server ->> 'system_uuid');
    IF FOUND THEN
      PERFORM dcops_internal.link_hosts_to_servers((SELECT service_tag FROM public.servers WHERE id = v_id), NULL);
    END IF;
  END IF;
  PERFORM set_config('dcops.inventory_writer', 'off', true);
  RETURN v_id;
END
$$;

-- Upserts the vCenter objects of every class present in p_inventory (shapes as in
-- dispatcher_v1_upsert_vcenter_inventory). With p_full, objects of a present class that the
-- list lacks are removed. Returns counts per class.
CREATE OR REPLACE FUNCTION dcops_internal.upsert_vcenter_objects(p_vcenter_id uuid, p_inventory jsonb,
                                                                p_full boolean)
  RETURNS jsonb
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_out jsonb := '{}';
  v_up int;
  v_rm int;
BEGIN
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
    v_rm := 0;
    IF p_full THEN
      DELETE FROM public.vcenter_clusters c
       WHERE c.vcenter_id = p_vcenter_id
         AND c.moref NOT IN (SELECT x ->> 'moref' FROM jsonb_array_elements(p_inventory -> 'clusters') x
                              WHERE x ->> 'moref' IS NOT NULL);
      GET DIAGNOSTICS v_rm = ROW_COUNT;
    END IF;
    v_out := v_out || jsonb_build_object('clusters', jsonb_build_object('upserted', v_up, 'removed', v_rm));
  END IF;

  IF p_inventory ? 'hosts' THEN
    INSERT INTO public.vcenter_hosts AS h (vcenter_id, cluster_id, moref, name, datacenter,
                                           connection_state, power_state, maintenance_mode,
                                           esxi_version, esxi_build, vendor, model, service_tag,
                                           serial_number, system_uuid, last_seen_at)
    SELECT DISTINCT ON (x.moref) p_vcenter_id,
           (SELECT c.id FROM public.vcenter_clusters c
             WHERE c.vcenter_id = p_vcenter_id AND c.moref = x.cluster_moref),
           x.moref, coalesce(x.name, x.moref), x.datacenter, x.connection_state, x.power_state,
           x.maintenance_mode, x.esxi_version, x.esxi_build, x.vendor, x.model,
           nullif(trim(x.service_tag), ''), nullif(trim(x.serial_number), ''),
           nullif(trim(x.system_uuid), ''), now()
      FROM jsonb_to_recordset(p_inventory -> 'hosts')
           AS x(moref text, name text, cluster_moref text, datacenter text, connection_state text,
                power_state text, maintenance_mode boolean, esxi_version text, esxi_build text,
                vendor text, model text, service_tag text, serial_number text, system_uuid text)
     WHERE x.moref IS NOT NULL
    ON CONFLICT (vcenter_id, moref) DO UPDATE
      SET cluster_id = EXCLUDED.cluster_id, name = EXCLUDED.name, datacenter = EXCLUDED.datacenter,
          connection_state = EXCLUDED.connection_state, power_state = EXCLUDED.power_state,
          maintenance_mode = EXCLUDED.maintenance_mode, esxi_version = EXCLUDED.esxi_version,
          esxi_build = EXCLUDED.esxi_build, vendor = EXCLUDED.vendor, model = EXCLUDED.model,
          service_tag = EXCLUDED.service_tag, serial_number = EXCLUDED.serial_number,
          system_uuid = EXCLUDED.system_uuid, last_seen_at = now();
    GET DIAGNOSTICS v_up = ROW_COUNT;
    v_rm := 0;
    IF p_full THEN
      DELETE FROM public.vcenter_hosts h
       WHERE h.vcenter_id = p_vcenter_id
         AND h.moref NOT IN (SELECT x ->> 'moref' FROM jsonb_array_elements(p_inventory -> 'hosts') x
                              WHERE x ->> 'moref' IS NOT NULL);
      GET DIAGNOSTICS v_rm = ROW_COUNT;
    END IF;
    v_out := v_out || jsonb_build_object('hosts', jsonb_build_object('upserted', v_up, 'removed', v_rm));
  END IF;

  IF p_inventory ? 'vms' THEN
    INSERT INTO public.vcenter_vms AS v (vcenter_id, host_id, moref, name, power_state, guest_os,
                                         num_cpu, memory_mib, instance_uuid, guest_hostname,
                                         ip_addresses, datastores, tools_status, last_seen_at)
    SELECT DISTINCT ON (x.moref) p_vcenter_id,
           (SELECT h.id FROM public.vcenter_hosts h
             WHERE h.vcenter_id = p_vcenter_id AND h.moref = x.host_moref),
           x.moref, coalesce(x.name, x.moref), x.power_state, x.guest_os, x.num_cpu, x.memory_mib,
           x.instance_uuid, x.guest_hostname,
           coalesce(ARRAY(SELECT jsonb_array_elements_text(coalesce(x.ip_addresses, '[]'))), '{}'),
           coalesce(ARRAY(SELECT jsonb_array_elements_text(coalesce(x.datastores, '[]'))), '{}'),
           x.tools_status, now()
      FROM jsonb_to_recordset(p_inventory -> 'vms')
           AS x(moref text, name text, host_moref text, power_state text, guest_os text,
                num_cpu int, memory_mib bigint, instance_uuid text, guest_hostname text,
                ip_addresses jsonb, datastores jsonb, tools_status text)
     WHERE x.moref IS NOT NULL
    ON CONFLICT (vcenter_id, moref) DO UPDATE
      SET host_id = EXCLUDED.host_id, name = EXCLUDED.name, power_state = EXCLUDED.power_state,
          guest_os = EXCLUDED.guest_os, num_cpu = EXCLUDED.num_cpu,
          memory_mib = EXCLUDED.memory_mib, instance_uuid = EXCLUDED.instance_uuid,
          guest_hostname = EXCLUDED.guest_hostname, ip_addresses = EXCLUDED.ip_addresses,
          datastores = EXCLUDED.datastores, tools_status = EXCLUDED.tools_status,
          last_seen_at = now();
    GET DIAGNOSTICS v_up = ROW_COUNT;
    v_rm := 0;
    IF p_full THEN
      DELETE FROM public.vcenter_vms v
       WHERE v.vcenter_id = p_vcenter_id
         AND v.moref NOT IN (SELECT x ->> 'moref' FROM jsonb_array_elements(p_inventory -> 'vms') x
                              WHERE x ->> 'moref' IS NOT NULL);
      GET DIAGNOSTICS v_rm = ROW_COUNT;
    END IF;
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
    v_rm := 0;
    IF p_full THEN
      DELETE FROM public.vcenter_datastores d
       WHERE d.vcenter_id = p_vcenter_id
         AND d.moref NOT IN (SELECT x ->> 'moref' FROM jsonb_array_elements(p_inventory -> 'datastores') x
                              WHERE x ->> 'moref' IS NOT NULL);
      GET DIAGNOSTICS v_rm = ROW_COUNT;
    END IF;
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
    v_rm := 0;
    IF p_full THEN
      DELETE FROM public.vcenter_networks n
       WHERE n.vcenter_id = p_vcenter_id
         AND n.moref NOT IN (SELECT x ->> 'moref' FROM jsonb_array_elements(p_inventory -> 'networks') x
                              WHERE x ->> 'moref' IS NOT NULL);
      GET DIAGNOSTICS v_rm = ROW_COUNT;
    END IF;
    v_out := v_out || jsonb_build_object('networks', jsonb_build_object('upserted', v_up, 'removed', v_rm));
  END IF;
  RETURN v_out;
END
$$;

-- A full snapshot (the landed contract, now with the new host and VM fields).
CREATE OR REPLACE FUNCTION public.dispatcher_v1_upsert_vcenter_inventory(p_vcenter_id uuid,
                                                                        p_inventory jsonb)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_out jsonb;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.vcenters WHERE id = p_vcenter_id) THEN
    RAISE EXCEPTION 'vcenter_id: no vCenter with id %', p_vcenter_id USING ERRCODE = 'P0002';
  END IF;
  IF p_inventory IS NULL OR jsonb_typeof(p_inventory) <> 'object' THEN
    RAISE EXCEPTION 'inventory: must be a JSON object' USING ERRCODE = '22023';
  END IF;
  v_out := dcops_internal.upsert_vcenter_objects(p_vcenter_id, p_inventory, true);
  PERFORM dcops_internal.link_hosts_to_servers(NULL, p_vcenter_id);
  UPDATE public.vcenters SET last_sync_at = now(), last_sync_error = NULL WHERE id = p_vcenter_id;
  RETURN v_out;
END
$$;

-- Applies a succeeded inventory.vcenter_sync step from its staged batches, in this one
-- transaction. Result: {"mode": "full"|"incremental", "version": "…", "batches": n}.
-- full: every class is replaced (objects not seen are removed). incremental: the objects sent
-- are upserted and those in vcenter.removed ({"class": "vms", "moref": "vm-12"}) deleted.
-- Returns counts per class and the mode.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_apply_vcenter_sync(p_task_id uuid, p_lease_id uuid,
                                                                  p_result jsonb)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_vc uuid := dcops_internal.sync_endpoint(p_task_id, p_lease_id, p_result);
  v_mode text := coalesce(p_result ->> 'mode', '');
  v_inv jsonb := '{}';
  v_out jsonb;
  v_removed jsonb;
  v_class text;
  v_n int;
BEGIN
  IF v_mode NOT IN ('full', 'incremental') THEN
    RAISE EXCEPTION 'sync result: mode must be full or incremental, got %', v_mode USING ERRCODE = '22023';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM public.vcenters WHERE id = v_vc) THEN
    RAISE EXCEPTION 'vcenter_id: no vCenter with id %', v_vc USING ERRCODE = 'P0002';
  END IF;
  FOREACH v_class IN ARRAY ARRAY['clusters', 'hosts', 'vms', 'datastores', 'networks'] LOOP
    IF v_mode = 'full' OR EXISTS (SELECT 1 FROM public.inventory_staging s
                                   WHERE s.task_id = p_task_id AND s.lease_id = p_lease_id
                                     AND s.kind = 'vcenter.' || v_class) THEN
      v_inv := v_inv || jsonb_build_object(v_class, dcops_internal.staged(p_task_id, p_lease_id, 'vcenter.' || v_class));
    END IF;
  END LOOP;
  v_out := dcops_internal.upsert_vcenter_objects(v_vc, v_inv, v_mode = 'full');
  IF v_mode = 'incremental' THEN
    v_removed := dcops_internal.staged(p_task_id, p_lease_id, 'vcenter.removed');
    -- VMs before hosts before clusters: nothing points at a row already gone.
    DELETE FROM public.vcenter_vms t WHERE t.vcenter_id = v_vc
       AND t.moref IN (SELECT r ->> 'moref' FROM jsonb_array_elements(v_removed) r WHERE r ->> 'class' = 'vms');
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_out := jsonb_set(v_out, '{vms_removed}', to_jsonb(v_n));
    DELETE FROM public.vcenter_hosts t WHERE t.vcenter_id = v_vc
       AND t.moref IN (SELECT r ->> 'moref' FROM jsonb_array_elements(v_removed) r WHERE r ->> 'class' = 'hosts');
    DELETE FROM public.vcenter_clusters t WHERE t.vcenter_id = v_vc
       AND t.moref IN (SELECT r ->> 'moref' FROM jsonb_array_elements(v_removed) r WHERE r ->> 'class' = 'clusters');
    DELETE FROM public.vcenter_datastores t WHERE t.vcenter_id = v_vc
       AND t.moref IN (SELECT r ->> 'moref' FROM jsonb_array_elements(v_removed) r WHERE r ->> 'class' = 'datastores');
    DELETE FROM public.vcenter_networks t WHERE t.vcenter_id = v_vc
       AND t.moref IN (SELECT r ->> 'moref' FROM jsonb_array_elements(v_removed) r WHERE r ->> 'class' = 'networks');
    v_out := v_out || jsonb_build_object('removed', jsonb_array_length(v_removed));
  END IF;
  PERFORM dcops_internal.link_hosts_to_servers(NULL, v_vc);
  UPDATE public.vcenters
     SET last_sync_at = now(), last_sync_error = NULL, sync_version = nullif(p_result ->> 'version', '')
   WHERE id = v_vc;
  DELETE FROM public.inventory_staging WHERE task_id = p_task_id;
  RETURN v_out || jsonb_build_object('mode', v_mode);
END
$$;

-- Applies a succeeded inventory.ome_sync step from its staged devices, in this one
-- transaction and set-based (10,000 devices is a normal OME). Each device
-- ({"ome_device_id", "service_tag", "bmc_address", "model", "power_state", "health"}) updates
-- the server of its service tag, or becomes one: a discovered BMC at its address without a
-- tag yet is that server. OME never moves a BMC address: a server keeps the address a
-- refresh gave it (it may carry a port OME does not know), and a new server does not take an
-- address another server holds. Redfish stays the source of a server it refreshed. Servers
-- of this endpoint that OME no longer lists are marked ome_missing_since; devices the agent
-- could not read (result "failed": [{"id": …}]) are neither written nor marked.
-- Returns {"devices", "added", "newly_missing", "returned", "failed"}.
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
  v_n int;
  v_added int;
  v_returned int;
  v_missing int;
  v_failed jsonb := CASE WHEN jsonb_typeof(p_result -> 'failed') = 'array' THEN p_result -> 'failed' ELSE '[]' END;
BEGIN
  SELECT site INTO v_site FROM public.ome_endpoints WHERE id = v_endpoint;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ome_endpoint_id: no OME endpoint with id %', v_endpoint USING ERRCODE = 'P0002';
  END IF;
  v_devices := dcops_internal.staged(p_task_id, p_lease_id, 'ome.devices');
  CREATE TEMP TABLE IF NOT EXISTS ome_sync_devices (
    ome_device_id bigint, service_tag text, bmc_address text, model text, power_state text, health text,
    processors jsonb, memory jsonb, drives jsonb, firmware jsonb
  ) ON COMMIT DROP;
  TRUNCATE ome_sync_devices;
  INSERT INTO ome_sync_devices
  SELECT DISTINCT ON (upper(trim(x.service_tag))) x.ome_device_id, trim(x.service_tag), nullif(trim(x.bmc_address), ''),
         x.model, x.power_state, x.health, x.processors, x.memory, x.drives, x.firmware
    FROM jsonb_to_recordset(v_devices)
         AS x(ome_device_id bigint, service_tag text, bmc_address text, model text, power_state text, health text,
              processors jsonb, memory jsonb, drives jsonb, firmware jsonb)
   WHERE nullif(trim(x.service_tag), '') IS NOT NULL;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  ANALYZE ome_sync_devices;

  -- A discovered BMC (an address, no tag yet) is the device at that address.
  UPDATE public.servers s SET service_tag = d.service_tag
    FROM ome_sync_devices d
   WHERE s.site = v_site AND s.service_tag IS NULL AND s.bmc_address = d.bmc_address
     AND NOT EXISTS (SELECT 1 FROM public.servers t WHERE upper(t.service_tag) = upper(d.service_tag));

  SELECT count(*) INTO v_returned
    FROM public.servers s JOIN ome_sync_devices d ON upper(s.service_tag) = upper(d.service_tag)
   WHERE s.ome_missing_since IS NOT NULL OR s.ome_endpoint_id IS DISTINCT FROM v_endpoint;
  UPDATE public.servers s SET
    model = coalesce(d.model, s.model),
    power_state = coalesce(d.power_state, s.power_state),
    health = coalesce(d.health, s.health),
    ome_device_id = d.ome_device_id,
    ome_endpoint_id = v_endpoint,
    ome_missing_since = NULL,
    bmc_address = CASE WHEN s.bmc_address IS NULL AND d.bmc_address IS NOT NULL
                            AND NOT EXISTS (SELECT 1 FROM public.servers o WHERE o.site = s.site AND o.bmc_address = d.bmc_address)
                       THEN d.bmc_address ELSE s.bmc_address END,
    last_refreshed_at = now()
    FROM ome_sync_devices d
   WHERE upper(s.service_tag) = upper(d.service_tag);

  INSERT INTO public.servers (site, bmc_address, service_tag, source, model, power_state, health, ome_device_id,
                              ome_endpoint_id, last_refreshed_at)
  SELECT v_site,
         CASE WHEN NOT EXISTS (SELECT 1 FROM public.servers o WHERE o.site = v_site AND o.bmc_address = d.bmc_address)
              THEN d.bmc_address END,
         d.service_tag, 'ome', d.model, d.power_state, d.health, d.ome_device_id, v_endpoint, now()
    FROM ome_sync_devices d
   WHERE NOT EXISTS (SELECT 1 FROM public.servers s WHERE upper(s.service_tag) = upper(d.service_tag))
  ON CONFLICT DO NOTHING;  -- two devices claiming one address: the first keeps it
  GET DIAGNOSTICS v_added = ROW_COUNT;

  -- Inventory details (a sync with details: true) replace the component lists of servers OME
  -- is the source of; a server a Redfish refresh reads keeps the Redfish inventory.
  CREATE TEMP TABLE IF NOT EXISTS ome_sync_detailed ON COMMIT DROP AS
    SELECT s.id AS server_id, d.processors, d.memory, d.drives, d.firmware
      FROM ome_sync_devices d JOIN public.servers s ON upper(s.service_tag) = upper(d.service_tag)
     WHERE false;
  TRUNCATE ome_sync_detailed;
  INSERT INTO ome_sync_detailed
  SELECT s.id, d.processors, d.memory, d.drives, d.firmware
    FROM ome_sync_devices d JOIN public.servers s ON upper(s.service_tag) = upper(d.service_tag)
   WHERE s.source = 'ome' AND d.processors IS NOT NULL;
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
  DELETE FROM public.server_firmware f USING ome_sync_detailed x WHERE f.server_id = x.server_id AND x.firmware IS NOT NULL;
  INSERT INTO public.server_firmware (server_id, component_id, name, version, updateable, install_date)
  SELECT DISTINCT ON (x.server_id, f.component_id) x.server_id, f.component_id, coalesce(f.name, f.component_id),
         coalesce(f.version, ''), NULL, f.install_date
    FROM ome_sync_detailed x,
         jsonb_to_recordset(x.firmware) AS f(component_id text, name text, version text, install_date timestamptz)
   WHERE f.component_id IS NOT NULL AND f.component_id <> '';

  UPDATE public.servers s SET ome_missing_since = now()
   WHERE s.ome_endpoint_id = v_endpoint AND s.ome_missing_since IS NULL
     AND s.ome_device_id IS NOT NULL
     AND s.ome_device_id NOT IN (SELECT d.ome_device_id FROM ome_sync_devices d WHERE d.ome_device_id IS NOT NULL)
     AND s.ome_device_id NOT IN (SELECT (f ->> 'id')::bigint FROM jsonb_array_elements(v_failed) f
                                  WHERE jsonb_typeof(f -> 'id') = 'number');
  GET DIAGNOSTICS v_missing = ROW_COUNT;
  PERFORM dcops_internal.link_hosts_to_servers(NULL, NULL);
  UPDATE public.ome_endpoints
     SET last_sync_at = now(),
         last_sync_error = CASE WHEN jsonb_array_length(v_failed) > 0
                                THEN format('%s device(s) could not be read', jsonb_array_length(v_failed)) END
   WHERE id = v_endpoint;
  DELETE FROM public.inventory_staging WHERE task_id = p_task_id;
  RETURN jsonb_build_object('devices', v_n, 'added', v_added, 'newly_missing', v_missing, 'returned', v_returned,
                            'failed', jsonb_array_length(v_failed));
END
$$;

-- A sync step that failed: its batches are dropped (the previous inventory stays) and the
-- endpoint shows the error.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_discard_sync(p_task_id uuid, p_error text)
  RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_kind text;
  v_endpoint uuid;
BEGIN
  SELECT t.step_kind, nullif(t.params #>> '{_endpoint,id}', '')::uuid INTO v_kind, v_endpoint
    FROM public.job_tasks t WHERE t.id = p_task_id;
  DELETE FROM public.inventory_staging WHERE task_id = p_task_id;
  IF v_endpoint IS NOT NULL AND v_kind IN ('inventory.ome_sync', 'inventory.vcenter_sync') THEN
    PERFORM public.dispatcher_v1_record_sync(CASE v_kind WHEN 'inventory.ome_sync' THEN 'ome' ELSE 'vcenter' END,
                                             v_endpoint, coalesce(p_error, 'sync failed'));
  END IF;
END
$$;

-- The catalog: an OME sync may read each server's inventory details.
UPDATE public.job_types
   SET params_schema = jsonb_set(params_schema, '{properties,details}', '{"type":"boolean"}')
 WHERE job_type = 'inventory.ome_sync';

DO $$
DECLARE
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['dispatcher_v1_stage_inventory(uuid, uuid, bigint, text, jsonb)',
                           'dispatcher_v1_sync_endpoint(text, uuid)',
                           'dispatcher_v1_apply_vcenter_sync(uuid, uuid, jsonb)',
                           'dispatcher_v1_apply_ome_sync(uuid, uuid, jsonb)',
                           'dispatcher_v1_discard_sync(uuid, text)']
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION public.%s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION public.%s TO dcops_dispatcher', f);
  END LOOP;
END
$$;
