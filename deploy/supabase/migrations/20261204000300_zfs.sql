-- zfs.replicate, zfs.prune and zfs.health (issue 19): the zfs-worker's steps.
--
-- A ZFS step targets its host ("zfs:<zfs_hosts.id>"; limits hold per host) and reaches it over
-- SSH with the host's credential set and pinned host key, read when the step is assigned
-- (dispatcher_v1_sync_endpoint('zfs', id)). A replication, and the pruning of a pair, also
-- reach the pair's target host (params.target_host_id, same site): its set is released to
-- that host alone, under the same rules (credential_reach_refusal).
--
-- What the steps find is kept for the UI: each host's capabilities (probed per pool: old ZFS
-- lacks bookmarks, resume tokens and raw sends), its pools and datasets (zfs.health), and
-- per replication pair the send flags of its first replication (stable from then on), the
-- last snapshot and when it arrived.

ALTER TABLE public.zfs_hosts
  ADD COLUMN IF NOT EXISTS capabilities jsonb,
  ADD COLUMN IF NOT EXISTS capabilities_at timestamptz;

CREATE TABLE IF NOT EXISTS public.zfs_pools (
  host_id               uuid NOT NULL REFERENCES public.zfs_hosts(id) ON DELETE CASCADE,
  name                  text NOT NULL,
  health                text NOT NULL,
  size_bytes            bigint,
  allocated_bytes       bigint,
  free_bytes            bigint,
  sizes_exact           boolean NOT NULL DEFAULT true,
  capacity_percent      int,
  fragmentation_percent int,
  scrub_state           text,
  scrub_finished_at     timestamptz,
  scrub_errors          bigint,
  data_errors           bigint NOT NULL DEFAULT 0,
  device_errors         bigint NOT NULL DEFAULT 0,
  capabilities          jsonb,
  seen_at               timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (host_id, name)
);

CREATE TABLE IF NOT EXISTS public.zfs_datasets (
  host_id          uuid NOT NULL REFERENCES public.zfs_hosts(id) ON DELETE CASCADE,
  name             text NOT NULL,
  type             text NOT NULL,
  used_bytes       bigint,
  available_bytes  bigint,
  referenced_bytes bigint,
  snapshots        int,  -- NULL when the host has too many to list
  seen_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (host_id, name)
);

-- One row per (source dataset, target dataset) pair that has replicated at least once.
CREATE TABLE IF NOT EXISTS public.zfs_replication_pairs (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site             text NOT NULL,
  source_host_id   uuid NOT NULL REFERENCES public.zfs_hosts(id) ON DELETE CASCADE,
  source_dataset   text NOT NULL,
  target_host_id   uuid NOT NULL REFERENCES public.zfs_hosts(id) ON DELETE CASCADE,
  target_dataset   text NOT NULL,
  send_flags       text[],  -- NULL until a replication of the pair sent a stream (resumes and up-to-date runs send none)
  last_snapshot    text,
  last_guid        text,
  last_decision    text,
  last_bytes       bigint,
  last_seconds     double precision,
  last_success_at  timestamptz,
  last_job_id      uuid REFERENCES public.jobs(id) ON DELETE SET NULL,
  -- Set by an admin when the pair is no longer used: its snapshots stop being kept for it (a
  -- later replication of the pair clears it).
  retired_at       timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source_host_id, source_dataset, target_host_id, target_dataset)
);

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['zfs_pools', 'zfs_datasets', 'zfs_replication_pairs'] LOOP
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('DROP POLICY IF EXISTS %I ON public.%I', t || '_read', t);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR SELECT TO authenticated USING (public.dcops_has_role(''viewer''))',
                   t || '_read', t);
    EXECUTE format('GRANT SELECT ON public.%I TO authenticated', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON public.%I TO service_role', t);
  END LOOP;
END
$$;
-- An admin retires a pair (the UI's one write here).
DROP POLICY IF EXISTS zfs_replication_pairs_retire ON public.zfs_replication_pairs;
CREATE POLICY zfs_replication_pairs_retire ON public.zfs_replication_pairs
  FOR UPDATE TO authenticated USING (public.dcops_has_role('admin')) WITH CHECK (public.dcops_has_role('admin'));
GRANT UPDATE (retired_at) ON public.zfs_replication_pairs TO authenticated;

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
  ELSIF p_kind = 'zfs' THEN
    -- A ZFS host over SSH: no TLS; its pinned host key, and what its last probe found.
    SELECT jsonb_build_object('id', z.id, 'name', z.name, 'address', z.address, 'site', z.site,
                              'ssh_port', z.ssh_port, 'ssh_user', z.ssh_user,
                              'host_key', coalesce(z.host_key_fingerprint, ''),
                              'credential_set_id', coalesce(z.credential_set_id::text, ''),
                              'enabled', z.enabled, 'capabilities', coalesce(z.capabilities, '{}'::jsonb))
      INTO v FROM public.zfs_hosts z WHERE z.id = p_id;
  ELSE
    RAISE EXCEPTION 'kind: must be vcenter, ome, cluster, esxi or zfs, got %', p_kind USING ERRCODE = '22023';
  END IF;
  RETURN v;
END
$$;

-- Whether a set may go to a host over SSH: inside the set's scope, and the host's key pinned
-- unless an admin's job says first_contact. NULL when it may; the refusal otherwise. (ESXi
-- hosts for an upgrade, ZFS hosts.)
CREATE OR REPLACE FUNCTION dcops_internal.ssh_reach_refusal(p_set public.credential_sets, p_address text, p_pinned_key text,
                                                            p_target_scope jsonb)
  RETURNS text
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_refusal text := dcops_internal.credential_scope_refusal(p_set, p_address);
BEGIN
  IF v_refusal IS NOT NULL THEN
    RETURN v_refusal;
  END IF;
  IF p_pinned_key IS NULL AND (p_target_scope -> 'first_contact') IS DISTINCT FROM 'true'::jsonb THEN
    RETURN format('credential set %s may not be sent to %s: its SSH host key is not pinned (pin it, or an admin''s job with target_scope.first_contact may reach it)',
                  p_set.name, p_address);
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION dcops_internal.ssh_reach_refusal(public.credential_sets, text, text, jsonb) FROM PUBLIC;

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
  v_found boolean := false;
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
    RETURN dcops_internal.ssh_reach_refusal(p_set, v_server.ssh_address, v_server.ssh_host_key, v_task.target_scope);
  ELSIF v_kind = 'zfs' THEN
    -- Work on a ZFS host reaches it over SSH, and a replication (or the pruning of a pair)
    -- also reaches the pair's target host (params.target_host_id). A set goes only to hosts of
    -- this step whose set it is, and every such host must be of the job's site, inside the
    -- set's scope, and pinned (or the admin's job says first_contact): a set shared by both
    -- hosts is checked against both.
    IF v_id !~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' THEN
      RETURN format('credential set %s: the step''s target %s names no ZFS host', p_set.name, v_task.target);
    END IF;
    FOR v_server IN
      SELECT z.address, z.host_key_fingerprint, z.site
        FROM public.zfs_hosts z
       WHERE z.credential_set_id = p_set.id
         AND (z.id = v_id::uuid
              OR (v_task.step_kind IN ('zfs.replicate', 'zfs.prune')
                  AND coalesce(v_task.params ->> 'target_host_id', '') ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
                  AND z.id = (v_task.params ->> 'target_host_id')::uuid)) LOOP
      v_found := true;
      IF v_server.site IS DISTINCT FROM v_task.site THEN
        RETURN format('credential set %s may not be sent to %s: that ZFS host is of another site', p_set.name, v_server.address);
      END IF;
      v_refusal := dcops_internal.ssh_reach_refusal(p_set, v_server.address, v_server.host_key_fingerprint, v_task.target_scope);
      IF v_refusal IS NOT NULL THEN
        RETURN v_refusal;
      END IF;
    END LOOP;
    IF NOT v_found THEN
      RETURN format('credential set %s is not the set of ZFS host %s or of its replication target', p_set.name, v_task.target);
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

-- What the recorded, unretired replication pairs of one dataset still need from it: the last
-- snapshot (guid) of each pair it sends in, and of each pair it receives in, with the pair
-- named ("zfs-b:backup/data") for the events that say what keeps a snapshot.
CREATE OR REPLACE FUNCTION dcops_internal.zfs_pair_guids(p_host uuid, p_dataset text)
  RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, public
AS $$
  SELECT jsonb_build_object(
    'sends', coalesce((SELECT jsonb_agg(jsonb_build_object('guid', p.last_guid, 'pair', h.name || ':' || p.target_dataset,
                                                           'last_success_at', p.last_success_at) ORDER BY p.id)
                         FROM public.zfs_replication_pairs p JOIN public.zfs_hosts h ON h.id = p.target_host_id
                        WHERE p.source_host_id = p_host AND p.source_dataset = p_dataset AND p.last_guid IS NOT NULL
                          AND p.retired_at IS NULL), '[]'::jsonb),
    'receives', coalesce((SELECT jsonb_agg(jsonb_build_object('guid', p.last_guid, 'pair', h.name || ':' || p.source_dataset,
                                                              'last_success_at', p.last_success_at) ORDER BY p.id)
                            FROM public.zfs_replication_pairs p JOIN public.zfs_hosts h ON h.id = p.source_host_id
                           WHERE p.target_host_id = p_host AND p.target_dataset = p_dataset AND p.last_guid IS NOT NULL
                             AND p.retired_at IS NULL), '[]'::jsonb))
$$;

-- "_pair" of a replication or a pruning, read at assignment: what the recorded pairs of the
-- step's dataset (and, for a pair, of its target dataset) still need, and for a replication
-- the send flags its pair was first sent with (a pair keeps them, so a later send never
-- changes -w or -L under a target; absent until a stream was sent).
CREATE OR REPLACE FUNCTION public.dispatcher_v1_zfs_pair(p_task_id uuid)
  RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  c_uuid constant text := '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
  v_task record;
  v_host uuid;
  v_peer uuid;
  v_dataset text;
  v_flags text[];
  v_out jsonb;
BEGIN
  SELECT t.target, t.step_kind, t.params INTO v_task FROM public.job_tasks t WHERE t.id = p_task_id;
  IF NOT FOUND OR v_task.target !~ '^zfs:' OR substr(v_task.target, 5) !~ c_uuid THEN
    RETURN '{}'::jsonb;
  END IF;
  v_host := substr(v_task.target, 5)::uuid;
  v_dataset := coalesce(v_task.params ->> 'source_dataset', v_task.params ->> 'dataset');
  v_out := jsonb_build_object('source', dcops_internal.zfs_pair_guids(v_host, v_dataset));
  IF coalesce(v_task.params ->> 'target_host_id', '') ~ c_uuid AND v_task.params ? 'target_dataset' THEN
    v_peer := (v_task.params ->> 'target_host_id')::uuid;
    v_out := v_out || jsonb_build_object('target', dcops_internal.zfs_pair_guids(v_peer, v_task.params ->> 'target_dataset'));
  END IF;
  IF v_task.step_kind = 'zfs.replicate' AND v_peer IS NOT NULL THEN
    SELECT p.send_flags INTO v_flags FROM public.zfs_replication_pairs p
     WHERE p.source_host_id = v_host AND p.source_dataset = v_dataset
       AND p.target_host_id = v_peer AND p.target_dataset = v_task.params ->> 'target_dataset';
    IF v_flags IS NOT NULL THEN
      v_out := v_out || jsonb_build_object('send_flags', to_jsonb(v_flags));
    END IF;
  END IF;
  RETURN v_out;
END
$$;

-- A JSON number as bigint; NULL for anything else (a string, null, a number out of range).
CREATE OR REPLACE FUNCTION dcops_internal.json_bigint(p jsonb)
  RETURNS bigint
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog
AS $$
  SELECT CASE WHEN jsonb_typeof(p) = 'number' AND (p #>> '{}')::numeric BETWEEN -9223372036854775808 AND 9223372036854775807
              THEN trunc((p #>> '{}')::numeric)::bigint END
$$;

-- A zfs.* step's result, kept for the UI: host keys a first contact saw (pinned only where
-- none is), capabilities, the replication pair (send flags fixed by its first replication),
-- and a health reading (the host's pools and datasets replaced by what the step saw).
CREATE OR REPLACE FUNCTION public.dispatcher_v1_record_zfs(p_task_id uuid, p_result jsonb)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_task record;
  v_host_id uuid;
  v_target_id uuid;
  v_key record;
  v_n int;
  v_said text[] := '{}';
  v_pool jsonb;
BEGIN
  SELECT t.job_id, t.target, t.step_kind, t.params, j.site INTO v_task
    FROM public.job_tasks t JOIN public.jobs j ON j.id = t.job_id WHERE t.id = p_task_id;
  IF NOT FOUND OR v_task.target !~ '^zfs:' OR substr(v_task.target, 5) !~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
     OR jsonb_typeof(p_result) IS DISTINCT FROM 'object' THEN
    RETURN '';
  END IF;
  v_host_id := substr(v_task.target, 5)::uuid;
  IF coalesce(v_task.params ->> 'target_host_id', '') ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' THEN
    v_target_id := (v_task.params ->> 'target_host_id')::uuid;
  END IF;
  -- First contact: a key is pinned only for this step's hosts, and never over one pinned.
  FOR v_key IN SELECT k ->> 'host_id' AS host_id, k ->> 'host_key' AS host_key
                 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_result -> 'new_host_keys') = 'array'
                                                THEN p_result -> 'new_host_keys' ELSE '[]' END) k LOOP
    IF v_key.host_key ~ '^SHA256:[A-Za-z0-9+/]{43}$' AND v_key.host_id IN (v_host_id::text, coalesce(v_target_id::text, '')) THEN
      -- (ids as the dispatcher wrote them: lower-case text of the uuid)
      UPDATE public.zfs_hosts SET host_key_fingerprint = v_key.host_key, updated_at = now()
       WHERE id = v_key.host_id::uuid AND host_key_fingerprint IS NULL;
      GET DIAGNOSTICS v_n = ROW_COUNT;
      IF v_n > 0 THEN
        INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
        VALUES ('dispatcher', 'ssh_host_key.pinned', 'zfs_host', v_key.host_id,
                jsonb_build_object('key', v_key.host_key, 'job_id', v_task.job_id, 'task_id', p_task_id, 'why', 'first contact'));
        v_said := v_said || format('first contact: SSH host key %s pinned for ZFS host %s', v_key.host_key, v_key.host_id);
      END IF;
    END IF;
  END LOOP;
  -- An overtaken run (a later one brought a newer snapshot) leaves the pair's record as it is.
  IF v_task.step_kind = 'zfs.replicate' AND v_target_id IS NOT NULL AND p_result ->> 'decision' IS DISTINCT FROM 'overtaken' THEN
    UPDATE public.zfs_hosts SET capabilities = p_result -> 'source_capabilities', capabilities_at = now()
     WHERE id = v_host_id AND jsonb_typeof(p_result -> 'source_capabilities') = 'object';
    UPDATE public.zfs_hosts SET capabilities = p_result -> 'target_capabilities', capabilities_at = now()
     WHERE id = v_target_id AND jsonb_typeof(p_result -> 'target_capabilities') = 'object';
    INSERT INTO public.zfs_replication_pairs AS p
           (site, source_host_id, source_dataset, target_host_id, target_dataset, send_flags, last_snapshot, last_guid,
            last_decision, last_bytes, last_seconds, last_success_at, last_job_id)
    SELECT v_task.site, v_host_id, v_task.params ->> 'source_dataset', v_target_id, v_task.params ->> 'target_dataset',
           -- Known only from a run that sent a stream.
           CASE WHEN p_result ->> 'decision' IN ('full', 'incremental')
                THEN coalesce((SELECT array_agg(f) FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(p_result -> 'send_flags') = 'array'
                                                                                       THEN p_result -> 'send_flags' ELSE '[]' END) f
                               WHERE f IN ('-w', '-L', '-e', '-c')), '{}') END,
           p_result ->> 'snapshot', p_result ->> 'guid', p_result ->> 'decision',
           dcops_internal.json_bigint(p_result -> 'bytes'),
           CASE WHEN jsonb_typeof(p_result -> 'seconds') = 'number' THEN (p_result ->> 'seconds')::double precision END,
           now(), v_task.job_id
    ON CONFLICT (source_host_id, source_dataset, target_host_id, target_dataset) DO UPDATE
       SET last_snapshot = EXCLUDED.last_snapshot, last_guid = EXCLUDED.last_guid, last_decision = EXCLUDED.last_decision,
           last_bytes = EXCLUDED.last_bytes, last_seconds = EXCLUDED.last_seconds, last_success_at = now(),
           last_job_id = EXCLUDED.last_job_id, updated_at = now(), retired_at = NULL,
           -- Fixed by the first run that sent a stream, then kept.
           send_flags = coalesce(p.send_flags, EXCLUDED.send_flags);
    v_said := v_said || format('%s → %s: %s (%s)', v_task.params ->> 'source_dataset', v_task.params ->> 'target_dataset',
                               p_result ->> 'snapshot', p_result ->> 'decision');
  ELSIF v_task.step_kind = 'zfs.health' AND jsonb_typeof(p_result -> 'pools') = 'array' THEN
    DELETE FROM public.zfs_pools WHERE host_id = v_host_id
       AND name NOT IN (SELECT x ->> 'name' FROM jsonb_array_elements(p_result -> 'pools') x)
       AND NOT (jsonb_typeof(v_task.params -> 'pools') = 'array' AND jsonb_array_length(v_task.params -> 'pools') > 0);
    FOR v_pool IN SELECT x FROM jsonb_array_elements(p_result -> 'pools') x WHERE jsonb_typeof(x) = 'object' AND x ->> 'name' IS NOT NULL LOOP
      INSERT INTO public.zfs_pools AS z (host_id, name, health, size_bytes, allocated_bytes, free_bytes, sizes_exact, capacity_percent,
                                         fragmentation_percent, scrub_state, scrub_finished_at, scrub_errors, data_errors,
                                         device_errors, capabilities, seen_at)
      VALUES (v_host_id, v_pool ->> 'name', coalesce(v_pool ->> 'health', 'UNKNOWN'),
              dcops_internal.json_bigint(v_pool -> 'size'), dcops_internal.json_bigint(v_pool -> 'allocated'),
              dcops_internal.json_bigint(v_pool -> 'free'), (v_pool -> 'sizes_exact') = 'true'::jsonb,
              dcops_internal.json_bigint(v_pool -> 'capacity_percent')::int, dcops_internal.json_bigint(v_pool -> 'fragmentation_percent')::int,
              v_pool ->> 'scrub_state', to_timestamp(dcops_internal.json_bigint(v_pool -> 'scrub_finished_at')),
              dcops_internal.json_bigint(v_pool -> 'scrub_errors'), coalesce(dcops_internal.json_bigint(v_pool -> 'data_errors'), 0),
              coalesce(dcops_internal.json_bigint(v_pool -> 'device_errors'), 0),
              CASE WHEN jsonb_typeof(v_pool -> 'capabilities') = 'object' THEN v_pool -> 'capabilities' END, now())
      ON CONFLICT (host_id, name) DO UPDATE
         SET health = EXCLUDED.health, size_bytes = EXCLUDED.size_bytes, allocated_bytes = EXCLUDED.allocated_bytes,
             free_bytes = EXCLUDED.free_bytes, sizes_exact = EXCLUDED.sizes_exact, capacity_percent = EXCLUDED.capacity_percent,
             fragmentation_percent = EXCLUDED.fragmentation_percent, scrub_state = EXCLUDED.scrub_state,
             scrub_finished_at = EXCLUDED.scrub_finished_at, scrub_errors = EXCLUDED.scrub_errors,
             data_errors = EXCLUDED.data_errors, device_errors = EXCLUDED.device_errors,
             capabilities = EXCLUDED.capabilities, seen_at = now();
    END LOOP;
    IF jsonb_typeof(p_result -> 'datasets') = 'array' THEN
      DELETE FROM public.zfs_datasets WHERE host_id = v_host_id
         AND name NOT IN (SELECT x ->> 'name' FROM jsonb_array_elements(p_result -> 'datasets') x)
         AND NOT (jsonb_typeof(v_task.params -> 'pools') = 'array' AND jsonb_array_length(v_task.params -> 'pools') > 0);
      INSERT INTO public.zfs_datasets AS d (host_id, name, type, used_bytes, available_bytes, referenced_bytes, snapshots, seen_at)
      SELECT v_host_id, x ->> 'name', coalesce(x ->> 'type', ''), dcops_internal.json_bigint(x -> 'used'),
             dcops_internal.json_bigint(x -> 'available'), dcops_internal.json_bigint(x -> 'referenced'),
             dcops_internal.json_bigint(x -> 'snapshots')::int, now()
        FROM jsonb_array_elements(p_result -> 'datasets') x
       WHERE jsonb_typeof(x) = 'object' AND x ->> 'name' IS NOT NULL
      ON CONFLICT (host_id, name) DO UPDATE
         SET type = EXCLUDED.type, used_bytes = EXCLUDED.used_bytes, available_bytes = EXCLUDED.available_bytes,
             referenced_bytes = EXCLUDED.referenced_bytes, snapshots = EXCLUDED.snapshots, seen_at = now();
    END IF;
    UPDATE public.zfs_hosts SET last_health = p_result - 'datasets', last_health_at = now(), updated_at = now() WHERE id = v_host_id;
    v_said := v_said || format('%s pool(s) recorded, %s', jsonb_array_length(p_result -> 'pools'),
                               CASE WHEN (p_result -> 'healthy') = 'true'::jsonb THEN 'healthy'
                                    ELSE format('%s problem(s)', jsonb_array_length(coalesce(p_result -> 'problems', '[]'))) END);
  END IF;
  RETURN array_to_string(v_said, '; ');
END
$$;

REVOKE ALL ON FUNCTION public.dispatcher_v1_zfs_pair(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION dcops_internal.zfs_pair_guids(uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION dcops_internal.json_bigint(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatcher_v1_record_zfs(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_zfs_pair(uuid) TO dcops_dispatcher;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_record_zfs(uuid, jsonb) TO dcops_dispatcher;

-- The agent is built: the types are enabled, with the parameters the steps take.
UPDATE public.job_types
   SET enabled = true,
       params_schema = '{"type":"object","additionalProperties":false,"required":["source_dataset","target_host_id","target_dataset"],"properties":{
         "source_dataset":{"type":"string","maxLength":255,"pattern":"^[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:][A-Za-z0-9_.:-]*)*$"},
         "target_host_id":{"type":"string","pattern":"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
         "target_dataset":{"type":"string","maxLength":255,"pattern":"^[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:][A-Za-z0-9_.:-]*)*$"},
         "snapshot_prefix":{"type":"string","maxLength":64,"pattern":"^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
         "incremental":{"type":"string","enum":["i","I"]},
         "allow_target_destroy":{"type":"boolean"},
         "bandwidth_limit_mib_s":{"type":"integer","minimum":1,"maximum":100000},
         "stall_timeout_seconds":{"type":"integer","minimum":10,"maximum":3600},
         "prune_source_grid":{"type":"string","maxLength":512,"pattern":"^[0-9xsmhdw |]+$"},
         "prune_target_grid":{"type":"string","maxLength":512,"pattern":"^[0-9xsmhdw |]+$"},
         "prune_keep_last":{"type":"integer","minimum":1,"maximum":100000}}}',
       updated_at = now()
 WHERE job_type = 'zfs.replicate';
UPDATE public.job_types
   SET enabled = true,
       params_schema = '{"type":"object","additionalProperties":false,"required":["dataset","source_grid"],"properties":{
         "dataset":{"type":"string","maxLength":255,"pattern":"^[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:][A-Za-z0-9_.:-]*)*$"},
         "snapshot_prefix":{"type":"string","maxLength":64,"pattern":"^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
         "source_grid":{"type":"string","maxLength":512,"pattern":"^[0-9xsmhdw |]+$"},
         "target_host_id":{"type":"string","pattern":"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
         "target_dataset":{"type":"string","maxLength":255,"pattern":"^[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:][A-Za-z0-9_.:-]*)*$"},
         "target_grid":{"type":"string","maxLength":512,"pattern":"^[0-9xsmhdw |]+$"},
         "keep_last":{"type":"integer","minimum":1,"maximum":100000},
         "dry_run":{"type":"boolean"}}}',
       updated_at = now()
 WHERE job_type = 'zfs.prune';
UPDATE public.job_types
   SET enabled = true,
       params_schema = '{"type":"object","additionalProperties":false,"properties":{
         "pools":{"type":"array","maxItems":64,"items":{"type":"string","maxLength":255,"pattern":"^[A-Za-z][A-Za-z0-9_.:-]*$"}},
         "max_scrub_age_days":{"type":"integer","minimum":1,"maximum":3650}}}',
       updated_at = now()
 WHERE job_type = 'zfs.health';
