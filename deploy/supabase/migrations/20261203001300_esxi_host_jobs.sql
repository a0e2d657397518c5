-- host.maintenance, host.reboot and host.esxi_upgrade (issue 17): the esxi-worker's host steps.
--
-- A host step targets its host ("esxi:<vcenter_hosts.id>", so limits hold per host) and
-- reaches the host's vCenter: the dispatcher reads the vCenter's address, credentials and
-- trust, with the host's and its cluster's morefs, when it assigns the step
-- (dispatcher_v1_sync_endpoint('esxi', id)); the vCenter's credentials are released to it
-- only inside their scope, as for a cluster step.
--
-- At most one host of a cluster in maintenance through dcops at a time (DESIGN.md §4), held
-- across jobs: an entry takes its cluster's slot when the dispatcher assigns it
-- (dispatcher_v1_maintenance_slot), keeps it while the host is in maintenance, and gives it
-- back when an exit of that host succeeds. A job may allow more (max_hosts_in_maintenance,
-- never more than one on a vSAN cluster). A slot whose entry ended without the host entering
-- (failed, cancelled) counts no more.
--
-- An upgrade reaches the host itself over SSH: where (ssh_address, default its name; ssh_port),
-- as whom (ssh_credential_set_id, a set of kind esxi), and the host key pinned for it
-- (ssh_host_key, "SHA256:…" as ssh-keygen prints it). The SSH secret is released only to a host
-- whose key is pinned, unless an admin's job says first_contact; the key a first contact saw
-- is recorded from the step's result, never over one already pinned.

ALTER TABLE public.vcenter_hosts
  ADD COLUMN IF NOT EXISTS ssh_address text CHECK (ssh_address ~ '^[A-Za-z0-9.:_-]{1,253}$'),
  ADD COLUMN IF NOT EXISTS ssh_port int CHECK (ssh_port BETWEEN 1 AND 65535),
  ADD COLUMN IF NOT EXISTS ssh_host_key text CHECK (ssh_host_key ~ '^SHA256:[A-Za-z0-9+/]{43}$'),
  ADD COLUMN IF NOT EXISTS ssh_credential_set_id uuid REFERENCES public.credential_sets(id) ON DELETE SET NULL;

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
  ELSIF p_kind = 'cluster' THEN
    SELECT jsonb_build_object('id', e.id, 'name', e.name, 'address', e.address,
                              'credential_set_id', coalesce(e.credential_set_id::text, ''),
                              'tls_verify', e.tls_verify, 'tls_pin_sha256', coalesce(e.tls_pin_sha256, ''),
                              'enabled', e.enabled, 'cluster_id', c.id, 'cluster_moref', c.moref, 'cluster_name', c.name)
      INTO v FROM public.vcenter_clusters c JOIN public.vcenters e ON e.id = c.vcenter_id WHERE c.id = p_id;
  ELSIF p_kind = 'esxi' THEN
    -- A host is worked on through its vCenter; its cluster (none for a standalone host) is
    -- what its safety check reads.
    SELECT jsonb_build_object('id', e.id, 'name', e.name, 'address', e.address,
                              'credential_set_id', coalesce(e.credential_set_id::text, ''),
                              'tls_verify', e.tls_verify, 'tls_pin_sha256', coalesce(e.tls_pin_sha256, ''),
                              'enabled', e.enabled, 'host_id', h.id, 'host_moref', h.moref, 'host_name', h.name,
                              'cluster_id', coalesce(c.id::text, ''), 'cluster_moref', coalesce(c.moref, ''),
                              'cluster_name', coalesce(c.name, ''), 'vsan_enabled', coalesce(c.vsan_enabled, false),
                              'ssh_address', coalesce(h.ssh_address, h.name), 'ssh_port', coalesce(h.ssh_port, 22),
                              'ssh_host_key', coalesce(h.ssh_host_key, ''),
                              'ssh_credential_set_id', coalesce(h.ssh_credential_set_id::text, ''),
                              -- Other hosts of the cluster holding a maintenance slot: leaving, or gone,
                              -- whatever vCenter said a moment ago (two entries at once each count the other).
                              'hosts_leaving', coalesce((SELECT jsonb_agg(o.moref ORDER BY o.moref)
                                                           FROM public.cluster_maintenance_slots s
                                                           JOIN public.vcenter_hosts o ON o.id = s.host_id
                                                          WHERE s.cluster_id = h.cluster_id AND s.host_id <> h.id), '[]'::jsonb))
      INTO v
      FROM public.vcenter_hosts h JOIN public.vcenters e ON e.id = h.vcenter_id
      LEFT JOIN public.vcenter_clusters c ON c.id = h.cluster_id
     WHERE h.id = p_id;
  ELSE
    RAISE EXCEPTION 'kind: must be vcenter, ome, cluster or esxi, got %', p_kind USING ERRCODE = '22023';
  END IF;
  RETURN v;
END
$$;

CREATE OR REPLACE FUNCTION dcops_internal.credential_reach_refusal(p_set public.credential_sets, p_task_id uuid)
  RETURNS text
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_task record;
  v_address text;
  v_server record;
  v_refusal text;
  v_kind text;
  v_id text;
BEGIN
  SELECT t.target, t.step_kind, t.params, j.site, j.job_type, j.target_scope
    INTO v_task
    FROM public.job_tasks t JOIN public.jobs j ON j.id = t.job_id
   WHERE t.id = p_task_id;
  v_kind := split_part(v_task.target, ':', 1);
  v_id := substr(v_task.target, length(v_kind) + 2);
  IF v_kind = 'idrac' THEN
    v_refusal := dcops_internal.credential_scope_refusal(p_set, v_id);
    IF v_refusal IS NOT NULL THEN
      RETURN v_refusal;
    END IF;
    IF (v_task.target_scope -> 'first_contact') = 'true'::jsonb THEN
      RETURN NULL;
    END IF;
    -- One row at most: (site, bmc_address) is unique (servers_bmc_uq).
    SELECT s.tls_pin_sha256 IS NOT NULL OR s.tls_verify AS proven INTO v_server
      FROM public.servers s WHERE s.site = v_task.site AND s.bmc_address = v_id;
    IF NOT FOUND THEN
      RETURN format('credential set %s may not be sent to %s: not a known server of site %s (first contact needs an admin''s job with target_scope.first_contact, or discovery)',
                    p_set.name, v_id, v_task.site);
    END IF;
    IF NOT v_server.proven THEN
      RETURN format('credential set %s may not be sent to %s: its certificate is neither pinned nor verified (pin it, or an admin''s job with target_scope.first_contact may reach it)',
                    p_set.name, v_id);
    END IF;
    RETURN NULL;
  ELSIF v_kind = 'site' AND v_task.step_kind = 'discovery.scan' THEN
    -- The first address outside the scope is reason enough.
    SELECT x.why INTO v_refusal
      FROM (SELECT dcops_internal.credential_scope_refusal(p_set, a) AS why
              FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(v_task.params -> 'addresses') = 'array'
                                                  THEN v_task.params -> 'addresses' ELSE '[]' END) a) x
     WHERE x.why IS NOT NULL
     LIMIT 1;
    RETURN v_refusal;
  ELSIF v_kind = 'cluster' THEN
    -- Work on a cluster reaches the cluster's vCenter.
    IF v_id !~ '^[0-9a-fA-F-]{36}$' THEN
      RETURN format('credential set %s: the step''s target %s names no cluster', p_set.name, v_task.target);
    END IF;
    SELECT v.address INTO v_address
      FROM public.vcenter_clusters c JOIN public.vcenters v ON v.id = c.vcenter_id
     WHERE c.id = v_id::uuid;
    IF NOT FOUND THEN
      RETURN format('credential set %s: no cluster %s', p_set.name, v_task.target);
    END IF;
    RETURN dcops_internal.credential_scope_refusal(p_set, v_address);
  ELSIF v_kind = 'esxi' THEN
    -- Work on an ESXi host reaches the host's vCenter (a vCenter set) and, for an upgrade, the
    -- host itself over SSH (an esxi set: only to a host whose key is pinned, or on an admin's
    -- first contact).
    IF v_id !~ '^[0-9a-fA-F-]{36}$' THEN
      RETURN format('credential set %s: the step''s target %s names no host', p_set.name, v_task.target);
    END IF;
    SELECT v.address AS vcenter_address, coalesce(h.ssh_address, h.name) AS ssh_address, h.ssh_host_key,
           h.ssh_credential_set_id
      INTO v_server
      FROM public.vcenter_hosts h JOIN public.vcenters v ON v.id = h.vcenter_id
     WHERE h.id = v_id::uuid;
    IF NOT FOUND THEN
      RETURN format('credential set %s: no ESXi host %s', p_set.name, v_task.target);
    END IF;
    IF p_set.kind <> 'esxi' THEN
      RETURN dcops_internal.credential_scope_refusal(p_set, v_server.vcenter_address);
    END IF;
    IF v_server.ssh_credential_set_id IS DISTINCT FROM p_set.id THEN
      RETURN format('credential set %s is not the SSH set of ESXi host %s', p_set.name, v_task.target);
    END IF;
    v_refusal := dcops_internal.credential_scope_refusal(p_set, v_server.ssh_address);
    IF v_refusal IS NOT NULL THEN
      RETURN v_refusal;
    END IF;
    IF v_server.ssh_host_key IS NULL AND (v_task.target_scope -> 'first_contact') IS DISTINCT FROM 'true'::jsonb THEN
      RETURN format('credential set %s may not be sent to %s: its SSH host key is not pinned (pin it, or an admin''s job with target_scope.first_contact may reach it)',
                    p_set.name, v_server.ssh_address);
    END IF;
    RETURN NULL;
  ELSIF v_kind IN ('ome', 'vcenter') THEN
    IF v_id !~ '^[0-9a-fA-F-]{36}$' THEN
      RETURN format('credential set %s: the step''s target %s names no endpoint', p_set.name, v_task.target);
    END IF;
    SELECT e.address INTO v_address
      FROM (SELECT o.id, o.address FROM public.ome_endpoints o WHERE v_kind = 'ome'
            UNION ALL SELECT v.id, v.address FROM public.vcenters v WHERE v_kind = 'vcenter') e
     WHERE e.id = v_id::uuid;
    IF NOT FOUND THEN
      RETURN format('credential set %s: no endpoint %s', p_set.name, v_task.target);
    END IF;
    RETURN dcops_internal.credential_scope_refusal(p_set, v_address);
  END IF;
  IF p_set.scope_networks IS NOT NULL OR p_set.scope_hosts IS NOT NULL THEN
    RETURN format('credential set %s is scoped; a step on %s cannot be shown to be inside its scope',
                  p_set.name, v_task.target);
  END IF;
  RETURN NULL;
END
$$;


-- Who holds a cluster's maintenance slots. One row per host; `entered` once the entry step
-- reported the host in maintenance.
CREATE TABLE IF NOT EXISTS public.cluster_maintenance_slots (
  host_id    uuid PRIMARY KEY REFERENCES public.vcenter_hosts(id) ON DELETE CASCADE,
  cluster_id uuid NOT NULL REFERENCES public.vcenter_clusters(id) ON DELETE CASCADE,
  job_id     uuid REFERENCES public.jobs(id) ON DELETE SET NULL,
  task_id    uuid REFERENCES public.job_tasks(id) ON DELETE SET NULL,
  entered    boolean NOT NULL DEFAULT false,
  since      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS cluster_maintenance_slots_cluster_idx ON public.cluster_maintenance_slots (cluster_id);
ALTER TABLE public.cluster_maintenance_slots ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS cluster_maintenance_slots_read ON public.cluster_maintenance_slots;
CREATE POLICY cluster_maintenance_slots_read ON public.cluster_maintenance_slots
  FOR SELECT TO authenticated USING (public.dcops_has_role('viewer'));
GRANT SELECT ON public.cluster_maintenance_slots TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.cluster_maintenance_slots TO service_role;

-- Takes the maintenance slot of the step's host's cluster for a host.maintenance entry.
-- NULL: the step may run (slot taken, or no slot needed: an exit, a standalone host). Text:
-- why it must wait, or (prefixed "refused: ") why it never can (this job already holds the
-- slot it would need).
CREATE OR REPLACE FUNCTION public.dispatcher_v1_maintenance_slot(p_task_id uuid)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_task record;
  v_host record;
  v_allowed int;
  v_holder record;
  v_held int;
  v_why text;
  v_since timestamptz;
  v_limit int;
BEGIN
  SELECT t.id, t.job_id, t.step_kind, t.target, t.params INTO v_task FROM public.job_tasks t WHERE t.id = p_task_id;
  IF NOT FOUND OR v_task.step_kind <> 'host.maintenance' OR coalesce(v_task.params ->> 'action', '') <> 'enter'
     OR v_task.target !~ '^esxi:[0-9a-fA-F-]{36}$' THEN
    RETURN NULL;
  END IF;
  SELECT h.id, h.name, h.cluster_id, coalesce(c.vsan_enabled, false) AS vsan, c.name AS cluster_name
    INTO v_host
    FROM public.vcenter_hosts h LEFT JOIN public.vcenter_clusters c ON c.id = h.cluster_id
   WHERE h.id = substr(v_task.target, 6)::uuid;
  IF NOT FOUND OR v_host.cluster_id IS NULL THEN
    RETURN NULL;
  END IF;
  -- One writer per cluster at a time.
  PERFORM 1 FROM public.vcenter_clusters c WHERE c.id = v_host.cluster_id FOR UPDATE;
  -- Slots that count: the host entered, or its entry step may still enter it, or it ended
  -- with the host possibly in maintenance (an undo that failed, a cancel vCenter did not
  -- confirm). A host a later vCenter sync saw out of maintenance holds nothing any more (left
  -- maintenance outside dcops).
  DELETE FROM public.cluster_maintenance_slots s
   USING public.vcenter_hosts h
   WHERE h.id = s.host_id AND s.cluster_id = v_host.cluster_id
     AND ((NOT s.entered AND h.maintenance_mode IS NOT TRUE
           AND NOT EXISTS (SELECT 1 FROM public.job_tasks t
                            WHERE t.id = s.task_id
                              AND (t.status IN ('ready', 'blocked', 'leased', 'running')
                                   OR t.error_code IN ('esxi.undo_failed', 'esxi.cancel_unconfirmed'))))
          OR (h.maintenance_mode IS FALSE AND h.last_seen_at > s.since));
  v_allowed := CASE WHEN jsonb_typeof(v_task.params -> 'max_hosts_in_maintenance') = 'number'
                    THEN greatest(1, (v_task.params ->> 'max_hosts_in_maintenance')::int) ELSE 1 END;
  IF v_host.vsan THEN
    v_allowed := 1;
  END IF;
  SELECT count(*) INTO v_held FROM public.cluster_maintenance_slots s
   WHERE s.cluster_id = v_host.cluster_id AND s.host_id <> v_host.id;
  IF v_held >= v_allowed THEN
    SELECT s.job_id, h.name INTO v_holder
      FROM public.cluster_maintenance_slots s JOIN public.vcenter_hosts h ON h.id = s.host_id
     WHERE s.cluster_id = v_host.cluster_id AND s.host_id <> v_host.id
     ORDER BY s.since LIMIT 1;
    IF v_holder.job_id = v_task.job_id THEN
      RETURN format('refused: this job already has %s of cluster %s in maintenance; entering %s too needs max_hosts_in_maintenance above %s%s',
                    v_holder.name, v_host.cluster_name, v_host.name, v_allowed,
                    CASE WHEN v_host.vsan THEN ' (never on a vSAN cluster)' ELSE '' END);
    END IF;
    -- A wait has a bound (slot_wait_seconds, default 2 h) counted from its first event: no
    -- entry waits forever on a host nobody takes out of maintenance.
    SELECT min(e.ts) INTO v_since FROM public.job_events e WHERE e.task_id = p_task_id AND e.message LIKE 'waiting: %';
    v_limit := CASE WHEN jsonb_typeof(v_task.params -> 'slot_wait_seconds') = 'number'
                    THEN (v_task.params ->> 'slot_wait_seconds')::int ELSE 7200 END;
    IF v_since IS NOT NULL AND now() - v_since > make_interval(secs => v_limit) THEN
      RETURN format('refused: waited more than %s s for the maintenance slot of cluster %s (%s is in maintenance through job %s)',
                    v_limit, v_host.cluster_name, v_holder.name, coalesce(v_holder.job_id::text, 'gone'));
    END IF;
    v_why := format('waiting: %s of cluster %s is in maintenance through job %s (%s host(s) of this cluster at a time)',
                    v_holder.name, v_host.cluster_name, coalesce(v_holder.job_id::text, 'gone'), v_allowed);
    -- Said once per wait, not at every look.
    IF NOT EXISTS (SELECT 1 FROM public.job_tasks t WHERE t.id = p_task_id AND t.progress_message = v_why) THEN
      INSERT INTO public.job_events (job_id, task_id, level, message)
      VALUES (v_task.job_id, p_task_id, 'info', v_why);
    END IF;
    RETURN v_why;
  END IF;
  INSERT INTO public.cluster_maintenance_slots (host_id, cluster_id, job_id, task_id)
  VALUES (v_host.id, v_host.cluster_id, v_task.job_id, p_task_id)
  ON CONFLICT (host_id) DO UPDATE
    SET job_id = EXCLUDED.job_id, task_id = EXCLUDED.task_id,
        since = CASE WHEN cluster_maintenance_slots.entered THEN cluster_maintenance_slots.since ELSE now() END;
  RETURN NULL;
END
$$;

-- A host.maintenance step's result: an entry that left the host in maintenance keeps its
-- slot; an exit gives it back. Returns what it did, for the job's events.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_record_maintenance(p_task_id uuid, p_result jsonb)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_task record;
  v_host_id uuid;
  v_cluster uuid;
  v_n int;
BEGIN
  SELECT t.job_id, t.target INTO v_task FROM public.job_tasks t WHERE t.id = p_task_id;
  IF NOT FOUND OR v_task.target !~ '^esxi:[0-9a-fA-F-]{36}$' OR jsonb_typeof(p_result -> 'in_maintenance') <> 'boolean' THEN
    RETURN '';
  END IF;
  v_host_id := substr(v_task.target, 6)::uuid;
  UPDATE public.vcenter_hosts SET maintenance_mode = (p_result ->> 'in_maintenance')::boolean WHERE id = v_host_id
  RETURNING cluster_id INTO v_cluster;
  IF (p_result ->> 'in_maintenance')::boolean THEN
    IF v_cluster IS NULL THEN
      RETURN '';
    END IF;
    INSERT INTO public.cluster_maintenance_slots (host_id, cluster_id, job_id, task_id, entered)
    VALUES (v_host_id, v_cluster, v_task.job_id, p_task_id, true)
    ON CONFLICT (host_id) DO UPDATE SET entered = true, job_id = EXCLUDED.job_id, task_id = EXCLUDED.task_id;
    RETURN 'the host holds its cluster''s maintenance slot until it leaves maintenance';
  END IF;
  DELETE FROM public.cluster_maintenance_slots WHERE host_id = v_host_id;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN CASE WHEN v_n > 0 THEN 'the cluster''s maintenance slot is free again' ELSE '' END;
END
$$;

-- A host.esxi_upgrade result: the host's build, and the SSH host key a first contact saw
-- (pinned only when none is: a key already pinned is never replaced by a step).
CREATE OR REPLACE FUNCTION public.dispatcher_v1_record_esxi_upgrade(p_task_id uuid, p_result jsonb)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_task record;
  v_host_id uuid;
  v_pinned int := 0;
  v_key text := p_result ->> 'ssh_host_key';
BEGIN
  SELECT t.job_id, t.target INTO v_task FROM public.job_tasks t WHERE t.id = p_task_id;
  IF NOT FOUND OR v_task.target !~ '^esxi:[0-9a-fA-F-]{36}$' THEN
    RETURN '';
  END IF;
  v_host_id := substr(v_task.target, 6)::uuid;
  IF coalesce(p_result ->> 'build_after', '') ~ '^[0-9]{1,12}$' THEN
    UPDATE public.vcenter_hosts SET esxi_build = p_result ->> 'build_after' WHERE id = v_host_id;
  END IF;
  IF (p_result -> 'ssh_host_key_new') = 'true'::jsonb AND v_key ~ '^SHA256:[A-Za-z0-9+/]{43}$' THEN
    UPDATE public.vcenter_hosts SET ssh_host_key = v_key WHERE id = v_host_id AND ssh_host_key IS NULL;
    GET DIAGNOSTICS v_pinned = ROW_COUNT;
    IF v_pinned > 0 THEN
      INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
      VALUES ('dispatcher', 'ssh_host_key.pinned', 'vcenter_host', v_host_id::text,
              jsonb_build_object('key', v_key, 'job_id', v_task.job_id, 'task_id', p_task_id, 'why', 'first contact'));
      RETURN format('first contact: SSH host key %s pinned for this host', v_key);
    END IF;
  END IF;
  RETURN '';
END
$$;

REVOKE ALL ON FUNCTION public.dispatcher_v1_record_esxi_upgrade(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_record_esxi_upgrade(uuid, jsonb) TO dcops_dispatcher;
REVOKE ALL ON FUNCTION public.dispatcher_v1_maintenance_slot(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatcher_v1_record_maintenance(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_maintenance_slot(uuid) TO dcops_dispatcher;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_record_maintenance(uuid, jsonb) TO dcops_dispatcher;

UPDATE public.job_types
   SET enabled = true,
       params_schema = '{"type":"object","additionalProperties":false,"required":["action"],"properties":{
         "action":{"type":"string","enum":["enter","exit"]},
         "evacuate_powered_off":{"type":"boolean"},
         "vsan_mode":{"type":"string","enum":["ensureObjectAccessibility","evacuateAllData","noAction"]},
         "timeout_seconds":{"type":"integer","minimum":60,"maximum":86400},
         "min_hosts_up":{"type":"integer","minimum":1,"maximum":64},
         "max_hosts_in_maintenance":{"type":"integer","minimum":1,"maximum":8},
         "slot_wait_seconds":{"type":"integer","minimum":60,"maximum":86400}}}',
       updated_at = now()
 WHERE job_type = 'host.maintenance';
UPDATE public.job_types
   SET enabled = true,
       params_schema = '{"type":"object","additionalProperties":false,"properties":{
         "action":{"type":"string","enum":["reboot","shutdown"]},
         "require_maintenance":{"type":"boolean"},
         "timeout_seconds":{"type":"integer","minimum":60,"maximum":86400}}}',
       updated_at = now()
 WHERE job_type = 'host.reboot';
UPDATE public.job_types
   SET enabled = true,
       params_schema = '{"type":"object","additionalProperties":false,"required":["depot","profile"],"properties":{
         "depot":{"type":"string","maxLength":2048,"pattern":"^(https?://[A-Za-z0-9:/._%?=&+~-]+|/vmfs/volumes/[A-Za-z0-9_./-]+)$"},
         "profile":{"type":"string","maxLength":200,"pattern":"^[A-Za-z0-9_.-]+$"},
         "build":{"type":"string","pattern":"^[0-9]{5,12}$"},
         "min_free_mb":{"type":"integer","minimum":0,"maximum":1048576},
         "timeout_seconds":{"type":"integer","minimum":300,"maximum":86400}}}',
       updated_at = now()
 WHERE job_type = 'host.esxi_upgrade';
