-- What the dispatcher's operator console reads (docs/CONSOLE.md): the job catalog with its
-- params schemas (the create form is generated from them), one step with its result (the
-- safety report and blockers of host jobs), agents with the steps they run, inventory search
-- across servers, vCenter hosts and VMs with their links and identity conflicts, and the
-- site's schedules. All read-only, all for one site, all through the dispatcher's role.

-- The catalog as the console shows it: every job type, enabled or not, with its params schema.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_job_types()
  RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'job_type', t.job_type, 'description', t.description, 'agent_kind', t.agent_kind,
           'mutating', t.mutating, 'enabled', t.enabled, 'scope_kinds', to_jsonb(t.scope_kinds),
           'params_schema', t.params_schema, 'max_attempts', t.max_attempts) ORDER BY t.job_type), '[]')
    FROM public.job_types t
   WHERE t.agent_kind <> 'bench-agent'
$$;

-- One step of a job of `p_site`, with its params and result (NULL when the job is not the
-- site's or the step not the job's: the caller answers 404 either way).
CREATE OR REPLACE FUNCTION public.dispatcher_v1_get_step(p_site text, p_job_id uuid, p_task_id uuid)
  RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT jsonb_build_object(
           'id', t.id, 'job_id', t.job_id, 'key', t.step_key, 'kind', t.step_kind, 'target', t.target,
           'mutating', t.mutating, 'status', t.status, 'attempt', t.attempt, 'max_attempts', t.max_attempts,
           'progress', t.progress, 'progress_message', t.progress_message, 'error_code', t.error_code,
           'error_message', t.error_message, 'outcome', t.result ->> 'outcome', 'params', t.params,
           'result', t.result, 'agent', t.lease_owner, 'started_at', t.started_at, 'finished_at', t.finished_at)
    FROM public.job_tasks t
    JOIN public.jobs j ON j.id = t.job_id
   WHERE t.id = p_task_id AND t.job_id = p_job_id AND j.site = p_site
$$;

-- Agents as before, with the steps each runs now (what its capacity is spent on).
CREATE OR REPLACE FUNCTION public.dispatcher_v1_list_agents(p_site text)
  RETURNS SETOF jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT jsonb_build_object('id', a.id, 'kind', a.kind, 'version', a.version,
                            'hostname', a.hostname, 'capacity', a.capacity, 'running', a.running,
                            'status', a.status, 'step_kinds', to_jsonb(a.step_kinds),
                            'connected_at', a.connected_at, 'last_seen_at', a.last_seen_at,
                            'disconnected_at', a.disconnected_at,
                            'running_steps', coalesce((
                              SELECT jsonb_agg(jsonb_build_object(
                                       'task_id', t.id, 'job_id', t.job_id, 'kind', t.step_kind,
                                       'target', t.target, 'progress', t.progress,
                                       'progress_message', t.progress_message, 'started_at', t.started_at)
                                     ORDER BY t.started_at, t.id)
                                FROM public.job_tasks t
                               WHERE t.site = a.site AND t.lease_owner = a.id AND t.status = 'running'), '[]'))
    FROM public.agents a
   WHERE a.site = p_site
   ORDER BY a.status = 'offline', a.kind, a.id
$$;

-- Inventory search: servers, vCenter hosts and VMs of the site whose names, tags, addresses or
-- UUIDs contain `p_q` (case-insensitive, taken literally: no wildcards), each kind at most
-- `p_limit`, with the links between them and the open identity conflicts naming them. A VM
-- matches also through its host, a host through its server, so a search for a service tag
-- shows the whole chain. An empty query lists the first ones.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_search_inventory(p_site text, p_q text, p_limit int DEFAULT 50)
  RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_q     text := lower(coalesce(p_q, ''));
  v_limit int := greatest(1, least(coalesce(p_limit, 50), 500));
  v_server_ids uuid[];
  v_host_ids   uuid[];
  v_vm_ids     uuid[];
  v_servers jsonb;
  v_hosts   jsonb;
  v_vms     jsonb;
  v_conflicts jsonb;
BEGIN
  IF length(v_q) > 200 THEN
    RAISE EXCEPTION 'q: at most 200 characters' USING ERRCODE = '22023';
  END IF;
  v_server_ids := ARRAY(
    SELECT s.id FROM public.servers s
     WHERE s.site = p_site
       AND (v_q = '' OR position(v_q IN lower(concat_ws(' ', s.hostname, s.service_tag, s.serial_number, s.bmc_address,
                                                        s.model, s.system_uuid, s.id::text))) > 0)
     ORDER BY s.hostname NULLS LAST, s.bmc_address, s.id
     LIMIT v_limit);
  v_host_ids := ARRAY(
    SELECT h.id FROM public.vcenter_hosts h JOIN public.vcenters v ON v.id = h.vcenter_id
     WHERE v.site = p_site
       AND (v_q = '' OR position(v_q IN lower(concat_ws(' ', h.name, h.service_tag, h.serial_number, h.system_uuid,
                                                        h.moref, h.id::text))) > 0
            OR h.server_id = ANY (v_server_ids))
     ORDER BY h.name, h.id
     LIMIT v_limit);
  v_vm_ids := ARRAY(
    SELECT m.id FROM public.vcenter_vms m JOIN public.vcenters v ON v.id = m.vcenter_id
     WHERE v.site = p_site
       AND (v_q = '' OR position(v_q IN lower(concat_ws(' ', m.name, m.guest_hostname, m.instance_uuid, m.moref,
                                                        array_to_string(m.ip_addresses, ' '), m.id::text))) > 0
            OR m.host_id = ANY (v_host_ids))
     ORDER BY m.name, m.id
     LIMIT v_limit);

  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'id', s.id, 'hostname', s.hostname, 'service_tag', s.service_tag, 'serial_number', s.serial_number,
           'bmc_address', s.bmc_address, 'manufacturer', s.manufacturer, 'model', s.model,
           'power_state', s.power_state, 'health', s.health, 'system_uuid', s.system_uuid, 'source', s.source,
           'last_refreshed_at', s.last_refreshed_at,
           'hosts', coalesce((SELECT jsonb_agg(jsonb_build_object('id', h.id, 'name', h.name) ORDER BY h.name)
                                FROM public.vcenter_hosts h WHERE h.server_id = s.id), '[]'),
           'open_conflicts', (SELECT count(*) FROM public.server_identity_conflicts c
                               WHERE c.site = p_site AND c.status = 'open' AND s.id = ANY (c.server_ids)))
         ORDER BY s.hostname NULLS LAST, s.bmc_address, s.id), '[]')
    INTO v_servers
    FROM public.servers s WHERE s.id = ANY (v_server_ids);

  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'id', h.id, 'name', h.name, 'vcenter', v.name, 'cluster', c.name, 'server_id', h.server_id,
           'server_name', coalesce(s.hostname, s.bmc_address), 'service_tag', h.service_tag,
           'connection_state', h.connection_state, 'power_state', h.power_state,
           'maintenance_mode', h.maintenance_mode, 'esxi_version', h.esxi_version,
           'link_evidence', h.link_evidence, 'link_pinned', h.link_pinned,
           'vm_count', (SELECT count(*) FROM public.vcenter_vms m WHERE m.host_id = h.id),
           'open_conflicts', (SELECT count(*) FROM public.server_identity_conflicts x
                               WHERE x.site = p_site AND x.status = 'open' AND x.host_id = h.id))
         ORDER BY h.name, h.id), '[]')
    INTO v_hosts
    FROM public.vcenter_hosts h
    JOIN public.vcenters v ON v.id = h.vcenter_id
    LEFT JOIN public.vcenter_clusters c ON c.id = h.cluster_id
    LEFT JOIN public.servers s ON s.id = h.server_id
   WHERE h.id = ANY (v_host_ids);

  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'id', m.id, 'name', m.name, 'host_id', m.host_id, 'host_name', h.name, 'power_state', m.power_state,
           'guest_os', m.guest_os, 'guest_hostname', m.guest_hostname, 'ip_addresses', to_jsonb(m.ip_addresses),
           'num_cpu', m.num_cpu, 'memory_mib', m.memory_mib)
         ORDER BY m.name, m.id), '[]')
    INTO v_vms
    FROM public.vcenter_vms m LEFT JOIN public.vcenter_hosts h ON h.id = m.host_id
   WHERE m.id = ANY (v_vm_ids);

  SELECT coalesce(jsonb_agg(dcops_internal.conflict_json(c) ORDER BY c.last_seen_at DESC, c.id), '[]')
    INTO v_conflicts
    FROM public.server_identity_conflicts c
   WHERE c.site = p_site AND c.status = 'open'
     AND (c.server_ids && v_server_ids OR c.host_id = ANY (v_host_ids));

  RETURN jsonb_build_object('servers', v_servers, 'hosts', v_hosts, 'vms', v_vms, 'conflicts', v_conflicts);
END
$$;

CREATE OR REPLACE FUNCTION public.dispatcher_v1_list_schedules(p_site text)
  RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'id', s.id, 'name', s.name, 'job_type', s.job_type, 'target_scope', s.target_scope,
           'params', s.params, 'interval_seconds', s.interval_seconds, 'enabled', s.enabled,
           'next_run_at', s.next_run_at, 'last_run_at', s.last_run_at, 'last_job_id', s.last_job_id,
           'last_job_status', (SELECT j.status FROM public.jobs j WHERE j.id = s.last_job_id))
         ORDER BY s.name), '[]')
    FROM public.schedules s WHERE s.site = p_site
$$;

REVOKE ALL ON FUNCTION public.dispatcher_v1_job_types() FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatcher_v1_get_step(text, uuid, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatcher_v1_list_agents(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatcher_v1_search_inventory(text, text, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatcher_v1_list_schedules(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_job_types() TO dcops_dispatcher;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_get_step(text, uuid, uuid) TO dcops_dispatcher;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_list_agents(text) TO dcops_dispatcher;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_search_inventory(text, text, int) TO dcops_dispatcher;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_list_schedules(text) TO dcops_dispatcher;
