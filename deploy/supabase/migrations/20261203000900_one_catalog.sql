-- One job-type catalog (issue 14). public.job_types is the single source of what exists, what
-- is enabled, what mutates, which agent kind runs it and its parameters; the dispatcher
-- registers planners by name and refuses to start when the two disagree
-- (dispatcher_v1_job_catalog). Before this migration a step's "mutating" came from the
-- dispatcher's C++ and the catalog's value never took effect; now the catalog decides, for
-- every step by its kind. Job types no agent implements yet are disabled, so create_job refuses
-- them by name instead of failing them at planning. Discovery ranges are read by the same
-- grammar as the planner's, so whatever create_job accepts the dispatcher can plan.

-- Every dispatcher_v1_* function has a caller in production code (tests/contract/callers.cmake
-- checks it). These had none: the dispatcher claims with dispatcher_v1_claim_steps_affine,
-- completes with dispatcher_v1_complete_steps and learns of cancellations from
-- dispatcher_v1_extend_leases; dispatcher_v1_get_credential_set handed any set's ciphertext to
-- the dispatcher role with no step to justify it (dispatcher_v1_credential_set_for_step does).
DROP FUNCTION IF EXISTS public.dispatcher_v1_claim_steps(text, text, text[], int, int, text[], int);
DROP FUNCTION IF EXISTS public.dispatcher_v1_complete_step(uuid, uuid, jsonb);
DROP FUNCTION IF EXISTS public.dispatcher_v1_cancel_requests(text);
DROP FUNCTION IF EXISTS public.dispatcher_v1_get_credential_set(uuid);
-- Functions created from here on (by a later migration, or an older file run again by hand)
-- start with no EXECUTE for anyone: every grant is explicit, as in every migration so far.
-- (PUBLIC's EXECUTE is a global default, revocable only globally; Supabase grants anon and
-- authenticated per schema.) For functions the migrating role creates.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM anon, authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA dcops_internal REVOKE EXECUTE ON FUNCTIONS FROM anon, authenticated;

-- Types whose agents are not built yet (esxi-worker, zfs-worker; the rolling update). The
-- migration that ships an agent enables its types.
UPDATE public.job_types SET enabled = false, updated_at = now()
 WHERE job_type IN ('host.maintenance', 'host.reboot', 'host.esxi_upgrade', 'cluster.safety_check',
                    'cluster.rolling_update', 'zfs.replicate', 'zfs.prune', 'zfs.health')
   AND enabled;

-- The steps of a batch of plans as rows. A step's mutating, retry settings and whether its
-- kind exists come from the catalog row of the step's kind (a plan may hold steps of other
-- kinds than its job's: the reboot after a BIOS change, the refresh after an update); the
-- plan's own retry settings, when given, win. (A new name: plan_rows keeps its shape, so the
-- older migration stays re-runnable; plan_rows itself is no longer used.)
DROP FUNCTION IF EXISTS dcops_internal.plan_rows(jsonb);
CREATE OR REPLACE FUNCTION dcops_internal.catalog_plan_rows(p_plans jsonb)
  RETURNS TABLE (pi int, job_id uuid, si int, step_key text, kind text, target text,
                 params jsonb, depends_on jsonb, mutating boolean, max_attempts int,
                 retry_base_ms int, retry_max_ms int, kind_known boolean)
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, public
AS $$
  SELECT p.ord::int - 1, (p.v ->> 'job_id')::uuid, s.ord::int - 1, s.v ->> 'key', s.v ->> 'kind',
         s.v ->> 'target', coalesce(s.v -> 'params', '{}'), coalesce(s.v -> 'depends_on', '[]'),
         coalesce(kt.mutating, true),
         coalesce((s.v ->> 'max_attempts')::int, kt.max_attempts),
         coalesce((s.v ->> 'retry_base_ms')::int, kt.retry_base_ms),
         coalesce((s.v ->> 'retry_max_ms')::int, kt.retry_max_ms),
         kt.job_type IS NOT NULL
    FROM jsonb_array_elements(p_plans) WITH ORDINALITY AS p(v, ord)
   CROSS JOIN LATERAL jsonb_array_elements(p.v -> 'steps') WITH ORDINALITY AS s(v, ord)
    LEFT JOIN public.job_types kt ON kt.job_type = s.v ->> 'kind'
$$;
REVOKE ALL ON FUNCTION dcops_internal.catalog_plan_rows(jsonb) FROM PUBLIC;

-- As before, with every step's kind checked against the catalog and its mutating taken from it.
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
      FROM b WHERE b.target !~ '^(idrac|vcenter|esxi|zfs|ome|redfish|site):.+$'
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

-- One job's plan goes through the same code as a batch (one definition of planning); its
-- errors name steps[j] as they always did.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_plan_job(p_job_id uuid, p_steps jsonb)
  RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_n   int;
  v_msg text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.jobs WHERE id = p_job_id) THEN
    RAISE EXCEPTION 'job_id: no job with id %', p_job_id USING ERRCODE = 'P0002';
  END IF;
  IF p_steps IS NULL OR jsonb_typeof(p_steps) <> 'array' THEN
    RAISE EXCEPTION 'steps: must be a JSON array' USING ERRCODE = '22023';
  END IF;
  IF jsonb_array_length(p_steps) > 100000 THEN
    RAISE EXCEPTION 'steps: % steps, at most 100000 per job', jsonb_array_length(p_steps)
      USING ERRCODE = '22023';
  END IF;
  BEGIN
    SELECT r.steps INTO v_n
      FROM public.dispatcher_v1_plan_jobs(jsonb_build_array(
             jsonb_build_object('job_id', p_job_id, 'steps', p_steps))) r;
  EXCEPTION WHEN invalid_parameter_value THEN
    GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT;
    RAISE EXCEPTION '%', regexp_replace(v_msg, '^plans\[0\]\.', '') USING ERRCODE = '22023';
  END;
  RETURN v_n;
END
$$;

-- The catalog as the dispatcher checks it at start.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_job_catalog()
  RETURNS TABLE (job_type text, agent_kind text, mutating boolean, enabled boolean,
                 scope_kinds text[])
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT t.job_type, t.agent_kind, t.mutating, t.enabled, t.scope_kinds
    FROM public.job_types t ORDER BY t.job_type
$$;

-- The newest migration the database has, as recorded by `job-dispatcher migrate` or by
-- Supabase's own tooling (whichever is newer); NULL when neither table exists.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_schema_version()
  RETURNS text
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_ours text;
  v_supabase text;
BEGIN
  IF to_regclass('dcops_meta.schema_migrations') IS NOT NULL THEN
    EXECUTE 'SELECT max(version) FROM dcops_meta.schema_migrations' INTO v_ours;
  END IF;
  IF to_regclass('supabase_migrations.schema_migrations') IS NOT NULL THEN
    EXECUTE 'SELECT max(version::text) FROM supabase_migrations.schema_migrations' INTO v_supabase;
  END IF;
  RETURN greatest(v_ours, v_supabase);
END
$$;

-- Addresses one discovery range item holds, by the grammar of the dispatcher's planner
-- (address_ranges.cpp): "a.b.c.d", "a.b.c.d-a.b.c.e" or "a.b.c.d/n" (host bits ignored; a
-- block of /30 or wider less its network and broadcast addresses), IPv4 only, no leading
-- zeros. NULL when the item is not readable; -1 when a range ends before it starts.
CREATE OR REPLACE FUNCTION dcops_internal.range_size(p_item text)
  RETURNS bigint
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, public
AS $$
DECLARE
  c_octet constant text := '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
  c_quad  text := c_octet || '\.' || c_octet || '\.' || c_octet || '\.' || c_octet;
  v_bits  int;
BEGIN
  IF p_item ~ ('^' || c_quad || '/[0-9]{1,2}$') THEN
    v_bits := split_part(p_item, '/', 2)::int;
    IF v_bits > 32 THEN RETURN NULL; END IF;
    RETURN (2::bigint ^ (32 - v_bits))::bigint - CASE WHEN v_bits <= 30 THEN 2 ELSE 0 END;
  ELSIF p_item ~ ('^' || c_quad || '-' || c_quad || '$') THEN
    IF split_part(p_item, '-', 2)::inet < split_part(p_item, '-', 1)::inet THEN RETURN -1; END IF;
    RETURN (split_part(p_item, '-', 2)::inet - split_part(p_item, '-', 1)::inet) + 1;
  ELSIF p_item ~ ('^' || c_quad || '$') THEN
    RETURN 1;
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION dcops_internal.range_size(text) FROM PUBLIC;

-- Target scopes: a JSON object with an optional "site" and exactly one targeting key out of
-- the job type's scope_kinds:
--   server_ids        [uuid, ...]            servers by id (must exist)
--   bmc_addresses     ["host[:port]", ...]   BMCs by address
--   all_servers       true                   every server of the site
--   ranges            ["10.0.0.0/24", "a.b.c.d-a.b.c.e", "a.b.c.d"]   discovery (IPv4, see range_size)
--   vcenter_id, cluster_id, ome_endpoint_id, zfs_host_id   uuid (must exist)
--   vcenter_host_ids  [uuid, ...]            ESXi hosts by id (must exist)
CREATE OR REPLACE FUNCTION public.dcops_validate_scope(p_scope jsonb, p_kinds text[])
  RETURNS text
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, public
AS $$
DECLARE
  c_uuid    constant text := '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
  v_targets text[];
  v_kind    text;
  v_value   jsonb;
  v_err     text;
  v_missing text;
  v_total   numeric := 0;
  v_item    text;
  v_size    bigint;
BEGIN
  IF p_scope IS NULL OR jsonb_typeof(p_scope) <> 'object' THEN
    RETURN 'target_scope: must be a JSON object such as {"server_ids": ["..."]}';
  END IF;
  IF p_scope ? 'site' AND (jsonb_typeof(p_scope -> 'site') <> 'string'
                           OR (p_scope ->> 'site') !~ '^[a-z0-9][a-z0-9_-]{0,62}$') THEN
    RETURN 'target_scope.site: must be a site name (lower-case letters, digits, - and _)';
  END IF;
  SELECT array_agg(k ORDER BY k) INTO v_targets FROM jsonb_object_keys(p_scope) k WHERE k <> 'site';
  FOREACH v_kind IN ARRAY coalesce(v_targets, '{}') LOOP
    IF NOT v_kind = ANY (p_kinds) THEN
      RETURN format('target_scope.%s: not a target for this job type (use one of: %s)',
                    v_kind, array_to_string(p_kinds, ', '));
    END IF;
  END LOOP;
  IF coalesce(array_length(v_targets, 1), 0) <> 1 THEN
    RETURN format('target_scope: needs exactly one of: %s', array_to_string(p_kinds, ', '));
  END IF;
  v_kind := v_targets[1];
  v_value := p_scope -> v_kind;

  IF v_kind IN ('server_ids', 'vcenter_host_ids') THEN
    v_err := public.dcops_validate_json(v_value,
      jsonb_build_object('type', 'array', 'minItems', 1, 'maxItems', 10000,
                         'items', jsonb_build_object('type', 'string', 'pattern', c_uuid)),
      'target_scope.' || v_kind);
    IF v_err IS NOT NULL THEN RETURN v_err; END IF;
    IF v_kind = 'server_ids' THEN
      SELECT e INTO v_missing FROM jsonb_array_elements_text(v_value) e
       WHERE NOT EXISTS (SELECT 1 FROM public.servers s WHERE s.id = e::uuid) LIMIT 1;
    ELSE
      SELECT e INTO v_missing FROM jsonb_array_elements_text(v_value) e
       WHERE NOT EXISTS (SELECT 1 FROM public.vcenter_hosts h WHERE h.id = e::uuid) LIMIT 1;
    END IF;
    IF v_missing IS NOT NULL THEN
      RETURN format('target_scope.%s: no %s with id %s', v_kind,
                    CASE v_kind WHEN 'server_ids' THEN 'server' ELSE 'vCenter host' END, v_missing);
    END IF;
    IF (SELECT count(DISTINCT e) FROM jsonb_array_elements_text(v_value) e) <> jsonb_array_length(v_value) THEN
      RETURN format('target_scope.%s: lists the same id twice', v_kind);
    END IF;
  ELSIF v_kind = 'bmc_addresses' THEN
    RETURN public.dcops_validate_json(v_value,
      '{"type":"array","minItems":1,"maxItems":10000,"items":{"type":"string","maxLength":253,
        "pattern":"^([A-Za-z0-9]([A-Za-z0-9-]{0,62})(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?$"}}'::jsonb,
      'target_scope.bmc_addresses');
  ELSIF v_kind = 'all_servers' THEN
    IF v_value <> 'true'::jsonb THEN
      RETURN 'target_scope.all_servers: must be true';
    END IF;
  ELSIF v_kind = 'ranges' THEN
    v_err := public.dcops_validate_json(v_value,
      '{"type":"array","minItems":1,"maxItems":1024,"items":{"type":"string","maxLength":100}}'::jsonb,
      'target_scope.ranges');
    IF v_err IS NOT NULL THEN RETURN v_err; END IF;
    FOR v_item IN SELECT jsonb_array_elements_text(v_value) LOOP
      v_size := dcops_internal.range_size(v_item);
      IF v_size IS NULL THEN
        RETURN format('target_scope.ranges: %s is not an IPv4 address, range a.b.c.d-a.b.c.e or CIDR block a.b.c.d/n', v_item);
      ELSIF v_size < 0 THEN
        RETURN format('target_scope.ranges: %s ends before it starts', v_item);
      END IF;
      v_total := v_total + v_size;
    END LOOP;
    IF v_total > 65536 THEN
      RETURN format('target_scope.ranges: covers %s addresses, at most 65536 per scan', v_total);
    END IF;
  ELSIF v_kind IN ('vcenter_id', 'cluster_id', 'ome_endpoint_id', 'zfs_host_id') THEN
    IF jsonb_typeof(v_value) <> 'string' OR (v_value #>> '{}') !~ c_uuid THEN
      RETURN format('target_scope.%s: must be a UUID string', v_kind);
    END IF;
    IF NOT (CASE v_kind
      WHEN 'vcenter_id' THEN EXISTS (SELECT 1 FROM public.vcenters WHERE id = (v_value #>> '{}')::uuid)
      WHEN 'cluster_id' THEN EXISTS (SELECT 1 FROM public.vcenter_clusters WHERE id = (v_value #>> '{}')::uuid)
      WHEN 'ome_endpoint_id' THEN EXISTS (SELECT 1 FROM public.ome_endpoints WHERE id = (v_value #>> '{}')::uuid)
      ELSE EXISTS (SELECT 1 FROM public.zfs_hosts WHERE id = (v_value #>> '{}')::uuid)
    END) THEN
      RETURN format('target_scope.%s: nothing with id %s', v_kind, v_value #>> '{}');
    END IF;
  ELSE
    RETURN format('target_scope.%s: unknown scope kind', v_kind);
  END IF;
  RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION public.dispatcher_v1_plan_jobs(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatcher_v1_plan_job(uuid, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatcher_v1_job_catalog() FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatcher_v1_schema_version() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_plan_jobs(jsonb) TO dcops_dispatcher;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_plan_job(uuid, jsonb) TO dcops_dispatcher;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_job_catalog() TO dcops_dispatcher;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_schema_version() TO dcops_dispatcher;
