-- cluster.safety_check (issue 17, part): the first esxi-worker step.
--
-- A cluster step targets its cluster ("cluster:<vcenter_clusters.id>", so limits hold per
-- cluster) and reaches the cluster's vCenter: the dispatcher reads that vCenter's address,
-- credentials and trust, with the cluster's moref, when it assigns the step
-- (dispatcher_v1_sync_endpoint('cluster', id)), and credentials are released to it only
-- inside their scope, as for the vCenter itself.

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
  ELSE
    RAISE EXCEPTION 'kind: must be vcenter, ome or cluster, got %', p_kind USING ERRCODE = '22023';
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

-- Steps may target a cluster ("cluster:<id>") besides the kinds before. What a step target
-- is, is said once here, for the table's constraint and for planning's check (they held two
-- copies of one pattern before).
CREATE OR REPLACE FUNCTION dcops_internal.is_step_target(p_target text)
  RETURNS boolean
  LANGUAGE sql IMMUTABLE
AS $$
  SELECT p_target ~ '^(idrac|vcenter|cluster|esxi|zfs|ome|redfish|site):.+$'
$$;
-- A constraint's function runs as whoever writes the row; it is a pure pattern test.
GRANT EXECUTE ON FUNCTION dcops_internal.is_step_target(text) TO PUBLIC;
ALTER TABLE public.job_tasks DROP CONSTRAINT IF EXISTS job_tasks_target_check;
ALTER TABLE public.job_tasks
  ADD CONSTRAINT job_tasks_target_check CHECK (dcops_internal.is_step_target(target));
CREATE OR REPLACE FUNCTION public.dispatcher_v1_plan_jobs(p_plans jsonb)
  RETURNS TABLE (job_id uuid, steps int)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
DECLARE
  v_err text;
BEGIN
  IF p_plans IS NULL OR jsonb_typeof(p_plans) <> 'array' THEN
    RAISE EXCEPTION 'plans: must be a JSON array' USING ERRCODE = '22023';
  END IF;
  -- Shape of each plan.
  SELECT format('plans[%s]: needs a job_id (UUID) and a steps array', p.ord - 1) INTO v_err
    FROM jsonb_array_elements(p_plans) WITH ORDINALITY AS p(v, ord)
   WHERE jsonb_typeof(p.v) <> 'object'
      OR coalesce(p.v ->> 'job_id', '') !~ '^[0-9a-fA-F-]{36}$'
      OR jsonb_typeof(p.v -> 'steps') IS DISTINCT FROM 'array'
      OR jsonb_array_length(p.v -> 'steps') > 100000
   ORDER BY p.ord LIMIT 1;
  IF v_err IS NOT NULL THEN RAISE EXCEPTION '%', v_err USING ERRCODE = '22023'; END IF;

  -- The checks of dispatcher_v1_plan_job, for all steps at once; the first failure wins.
  WITH b AS MATERIALIZED (
    SELECT r.*, row_number() OVER (PARTITION BY r.pi, r.step_key ORDER BY r.si) AS nth
      FROM dcops_internal.catalog_plan_rows(p_plans) r
  ), deps AS (
    SELECT b.pi, b.si, d.key
      FROM b CROSS JOIN LATERAL jsonb_array_elements_text(
               CASE WHEN jsonb_typeof(b.depends_on) = 'array' THEN b.depends_on ELSE '[]' END) AS d(key)
  )
  SELECT e.msg INTO v_err FROM (
    SELECT b.pi, b.si, format('plans[%s].steps[%s]: needs key, kind and target', b.pi, b.si) AS msg
      FROM b WHERE coalesce(b.step_key, '') = '' OR coalesce(b.kind, '') = '' OR coalesce(b.target, '') = ''
    UNION ALL
    SELECT b.pi, b.si, format('plans[%s].steps[%s].key: "%s" is used twice', b.pi, b.si, b.step_key)
      FROM b WHERE b.nth > 1
    UNION ALL
    SELECT b.pi, b.si, format('plans[%s].steps[%s].target: "%s" is not a target (kind:address)', b.pi, b.si, b.target)
      FROM b WHERE NOT dcops_internal.is_step_target(b.target)
    UNION ALL
    SELECT b.pi, b.si, format('plans[%s].steps[%s].kind: "%s" is not in the job type catalog', b.pi, b.si, b.kind)
      FROM b WHERE NOT b.kind_known AND coalesce(b.kind, '') <> ''
    UNION ALL
    SELECT d.pi, d.si, format('plans[%s].steps[%s].depends_on: "%s" is not an earlier step', d.pi, d.si, d.key)
      FROM deps d LEFT JOIN b o ON o.pi = d.pi AND o.step_key = d.key AND o.si < d.si
     WHERE o.pi IS NULL
  ) e ORDER BY e.pi, e.si LIMIT 1;
  IF v_err IS NOT NULL THEN RAISE EXCEPTION '%', v_err USING ERRCODE = '22023'; END IF;

  RETURN QUERY
  WITH batch AS MATERIALIZED (
    SELECT * FROM dcops_internal.catalog_plan_rows(p_plans)
  ), plans AS (
    SELECT p.ord::int - 1 AS pi, (p.v ->> 'job_id')::uuid AS job_id,
           jsonb_array_length(p.v -> 'steps') AS n
      FROM jsonb_array_elements(p_plans) WITH ORDINALITY AS p(v, ord)
  ), locked AS (
    -- In id order, so concurrent planners never deadlock.
    SELECT j.id, j.site, j.status, j.priority, j.job_type, j.traceparent, j.steps_total
      FROM public.jobs j WHERE j.id IN (SELECT pl.job_id FROM plans pl)
     ORDER BY j.id FOR UPDATE
  ), todo AS (
    SELECT pl.pi, pl.job_id, pl.n, l.site, l.priority, l.traceparent, t.mutating, t.max_attempts,
           t.retry_base_ms, t.retry_max_ms
      FROM plans pl JOIN locked l ON l.id = pl.job_id JOIN public.job_types t ON t.job_type = l.job_type
     WHERE l.status = 'pending'
  ), tasks AS (
    INSERT INTO public.job_tasks (job_id, site, seq, step_key, step_kind, target, mutating,
                                  params, status, priority, max_attempts, retry_base_ms,
                                  retry_max_ms)
    SELECT d.job_id, d.site, b.si + 1, b.step_key, b.kind, b.target, b.mutating,
           b.params,
           CASE WHEN jsonb_typeof(b.depends_on) = 'array' AND jsonb_array_length(b.depends_on) > 0
                THEN 'blocked' ELSE 'ready' END,
           d.priority, coalesce(b.max_attempts, d.max_attempts),
           coalesce(b.retry_base_ms, d.retry_base_ms), coalesce(b.retry_max_ms, d.retry_max_ms)
      FROM todo d JOIN batch b ON b.pi = d.pi
    RETURNING job_tasks.id, job_tasks.job_id, job_tasks.step_key
  ), deps AS (
    INSERT INTO public.job_task_deps (task_id, depends_on)
    SELECT t.id, dt.id
      FROM todo d
      JOIN batch b ON b.pi = d.pi
      JOIN tasks t ON t.job_id = d.job_id AND t.step_key = b.step_key
     CROSS JOIN LATERAL jsonb_array_elements_text(
              CASE WHEN jsonb_typeof(b.depends_on) = 'array' THEN b.depends_on ELSE '[]' END) AS k(key)
      JOIN tasks dt ON dt.job_id = d.job_id AND dt.step_key = k.key
    RETURNING 1
  ), moved AS (
    UPDATE public.jobs j
       SET status = CASE WHEN d.n = 0 THEN 'succeeded' ELSE 'running' END,
           steps_total = d.n, planned_at = now(),
           progress = CASE WHEN d.n = 0 THEN 100 ELSE 0 END,
           finished_at = CASE WHEN d.n = 0 THEN now() END,
           result = CASE WHEN d.n = 0 THEN '{"note":"nothing to do"}'::jsonb END
      FROM todo d
     WHERE j.id = d.job_id
    RETURNING j.id
  ), logged AS (
    INSERT INTO public.job_events (job_id, level, message, data, source, trace_id)
    SELECT d.job_id, 'info', format('planned %s step(s)', d.n), jsonb_build_object('steps', d.n),
           'dispatcher', split_part(d.traceparent, '-', 2)
      FROM todo d
    RETURNING 1
  ), told AS (
    SELECT count(pg_notify('dcops_work', json_build_object('site', s.site, 'event', 'steps_ready')::text)) AS n
      FROM (SELECT DISTINCT d.site FROM todo d WHERE d.n > 0) s
  )
  SELECT pl.job_id,
         CASE WHEN d.job_id IS NOT NULL THEN d.n ELSE coalesce(l.steps_total, 0) END::int
    FROM plans pl
    LEFT JOIN todo d ON d.pi = pl.pi
    LEFT JOIN locked l ON l.id = pl.job_id
   CROSS JOIN told  -- the other data-modifying CTEs run to completion unread
   ORDER BY pl.pi;
END
$$;

-- The check is built: its type is enabled, with the params the step takes.
UPDATE public.job_types
   SET enabled = true,
       params_schema = '{"type":"object","additionalProperties":false,"properties":{
         "min_hosts_up":{"type":"integer","minimum":1,"maximum":64},
         "hosts":{"type":"array","maxItems":64,"items":{"type":"string","minLength":1,"maxLength":64}},
         "evacuate_powered_off":{"type":"boolean"}}}',
       updated_at = now()
 WHERE job_type = 'cluster.safety_check';
