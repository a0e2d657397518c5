-- The pickup path (a job created -> planned -> its step claimed), measured one job at a time
-- (issue 23): plan_jobs took 1.2 ms for one job, the claim 0.5 ms, and planning took six
-- round trips (BEGIN, a SET, the two statements, COMMIT, then the claim). Four changes,
-- numbered through this file; what the functions return is unchanged but for the claim's new
-- column (4).
--
-- 1. Planning's commits do not wait for their WAL flush. jobs_to_plan and plan_jobs set
--    synchronous_commit off for the transaction that calls them (set_config(..., true): it
--    outlives the call, ends with the transaction). A plan lost with a crashed server leaves
--    its jobs pending, and they are planned again; a promotion of due scheduled jobs is made
--    again. Nothing acts on a plan before a step of it is claimed, and the claim's commit
--    waits for the flush through its own record, which takes every earlier record with it: no
--    claimed step rests on a lost plan. Said here, in the functions, so the dispatcher can
--    call them outside a transaction of its own (each is one statement, atomic on its own).
--    A job that ends at planning is another matter: consoles and scripts hear of it at
--    commit, and a crash must not bring it back to run. plan_jobs keeps the session's own
--    setting when a plan has no step (its job succeeds, "nothing to do"), and the dispatcher
--    restores it in a transaction that also fails jobs.
--
-- 2. plan_jobs locked its jobs with `id IN (SELECT ... FROM plans)`, which the planner ran as
--    a hash join over a sequential scan of jobs (0.56 ms at 500 rows; it grows with the table
--    until statistics make it switch). `= ANY (ARRAY(...))` is an index lookup per job, as in
--    the claim.
--
-- Otherwise both functions are as 20261127000700_dispatcher_api_v1.sql and
-- 20261204000200_finalizers.sql left them.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_jobs_to_plan(p_site text, p_limit int DEFAULT 100)
  RETURNS TABLE (job_id uuid, job_type text, target_scope jsonb, params jsonb, priority int,
                 traceparent text, created_at timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);  -- see 1. above
  UPDATE public.jobs j SET status = 'pending'
   WHERE j.site = p_site AND j.status = 'scheduled' AND j.schedule_at <= now();
  RETURN QUERY
    SELECT j.id, j.job_type, j.target_scope, j.params, j.priority, j.traceparent, j.created_at
      FROM public.jobs j
     WHERE j.site = p_site AND j.status = 'pending'
     ORDER BY j.priority DESC, j.created_at
     LIMIT greatest(p_limit, 1)
       FOR UPDATE SKIP LOCKED;
END
$$;

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
  -- See 1. above. A plan with no step ends its job here ("nothing to do"), and an ended job is
  -- announced at commit: that commit waits for its flush as the session's own setting says.
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_plans) AS p(v) WHERE jsonb_array_length(p.v -> 'steps') = 0) THEN
    PERFORM set_config('synchronous_commit',
                       (SELECT s.reset_val FROM pg_catalog.pg_settings s WHERE s.name = 'synchronous_commit'), true);
  ELSE
    PERFORM set_config('synchronous_commit', 'off', true);
  END IF;

  -- The checks of dispatcher_v1_plan_job, for all steps at once; the first failure wins.
  WITH b AS MATERIALIZED (
    SELECT r.*, row_number() OVER (PARTITION BY r.pi, r.step_key ORDER BY r.si) AS nth,
           p_plans -> r.pi -> 'steps' -> r.si AS raw
      FROM dcops_internal.catalog_plan_rows(p_plans) r
  ), deps AS (
    SELECT b.pi, b.si, d.key
      FROM b CROSS JOIN LATERAL jsonb_array_elements_text(
               CASE WHEN jsonb_typeof(b.depends_on) = 'array' THEN b.depends_on ELSE '[]' END
               || CASE WHEN jsonb_typeof(b.raw -> 'after_finished') = 'array' THEN b.raw -> 'after_finished'
                       ELSE '[]' END) AS d(key)
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
    SELECT b.pi, b.si, format('plans[%s].steps[%s].on_cancel: must be stop, finish or run', b.pi, b.si)
      FROM b WHERE coalesce(b.raw ->> 'on_cancel', 'stop') NOT IN ('stop', 'finish', 'run')
    UNION ALL
    SELECT d.pi, d.si, format('plans[%s].steps[%s].depends_on: "%s" is not an earlier step', d.pi, d.si, d.key)
      FROM deps d LEFT JOIN b o ON o.pi = d.pi AND o.step_key = d.key AND o.si < d.si
     WHERE o.pi IS NULL
  ) e ORDER BY e.pi, e.si LIMIT 1;
  IF v_err IS NOT NULL THEN RAISE EXCEPTION '%', v_err USING ERRCODE = '22023'; END IF;

  RETURN QUERY
  WITH batch AS MATERIALIZED (
    SELECT r.*, p_plans -> r.pi -> 'steps' -> r.si AS raw FROM dcops_internal.catalog_plan_rows(p_plans) r
  ), plans AS (
    SELECT p.ord::int - 1 AS pi, (p.v ->> 'job_id')::uuid AS job_id,
           jsonb_array_length(p.v -> 'steps') AS n
      FROM jsonb_array_elements(p_plans) WITH ORDINALITY AS p(v, ord)
  ), locked AS (
    -- In id order, so concurrent planners never deadlock.
    SELECT j.id, j.site, j.status, j.priority, j.job_type, j.traceparent, j.steps_total
      FROM public.jobs j WHERE j.id = ANY (ARRAY(SELECT pl.job_id FROM plans pl))
     ORDER BY j.id FOR UPDATE
  ), todo AS (
    SELECT pl.pi, pl.job_id, pl.n, l.site, l.priority, l.traceparent, t.mutating, t.max_attempts,
           t.retry_base_ms, t.retry_max_ms
      FROM plans pl JOIN locked l ON l.id = pl.job_id JOIN public.job_types t ON t.job_type = l.job_type
     WHERE l.status = 'pending'
  ), tasks AS (
    INSERT INTO public.job_tasks (job_id, site, seq, step_key, step_kind, target, mutating,
                                  params, status, priority, max_attempts, retry_base_ms,
                                  retry_max_ms, on_cancel)
    SELECT d.job_id, d.site, b.si + 1, b.step_key, b.kind, b.target, b.mutating,
           b.params,
           CASE WHEN (jsonb_typeof(b.depends_on) = 'array' AND jsonb_array_length(b.depends_on) > 0)
                  OR (jsonb_typeof(b.raw -> 'after_finished') = 'array' AND jsonb_array_length(b.raw -> 'after_finished') > 0)
                THEN 'blocked' ELSE 'ready' END,
           d.priority, coalesce(b.max_attempts, d.max_attempts),
           coalesce(b.retry_base_ms, d.retry_base_ms), coalesce(b.retry_max_ms, d.retry_max_ms),
           coalesce(b.raw ->> 'on_cancel', 'stop')
      FROM todo d JOIN batch b ON b.pi = d.pi
    RETURNING job_tasks.id, job_tasks.job_id, job_tasks.step_key
  ), deps AS (
    INSERT INTO public.job_task_deps (task_id, depends_on, kind)
    SELECT t.id, dt.id, min(k.kind)  -- both: 'finished' < 'succeeded', the weaker need wins
      FROM todo d
      JOIN batch b ON b.pi = d.pi
      JOIN tasks t ON t.job_id = d.job_id AND t.step_key = b.step_key
     CROSS JOIN LATERAL (
            SELECT x.key, 'succeeded' AS kind FROM jsonb_array_elements_text(
              CASE WHEN jsonb_typeof(b.depends_on) = 'array' THEN b.depends_on ELSE '[]' END) AS x(key)
            UNION ALL
            SELECT x.key, 'finished' FROM jsonb_array_elements_text(
              CASE WHEN jsonb_typeof(b.raw -> 'after_finished') = 'array' THEN b.raw -> 'after_finished' ELSE '[]' END) AS x(key)) k
      JOIN tasks dt ON dt.job_id = d.job_id AND dt.step_key = k.key
     GROUP BY t.id, dt.id
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

-- 3. The claim looked up each of up to 512 preferred targets (an agent's recent ones) by
--    index, 0.35 ms a claim, even when the general look-ahead had already read every ready
--    step. The look-ahead reads up to limit * 4 + 64 rows under the same conditions; when it
--    returns fewer, it holds every step a preferred lookup could find, so the lookups are
--    skipped (a one-time filter: PostgreSQL does not run them). The order does not change:
--    within one target the preferred rows were its first in queue order anyway, and the
--    final order tests membership of p_prefer_targets directly.
--
-- 4. The claim says whether it took everything it could (queue_drained, on every row): its
--    look-ahead read the whole queue it may claim from, and every candidate was taken (none
--    left by the per-target bound, the limit or another claimer's lock). Until now the
--    dispatcher could only tell an empty claim from one that found something, and asked
--    again in the next round after any claim that found something: after each result, a
--    claim for nothing, ahead of the next job's planning. A new column is a new row type, so
--    this is a new function, dispatcher_v1_claim_ready_steps. dispatcher_v1_claim_steps_affine
--    keeps its row type and now calls it, for a dispatcher older than this file (and so that
--    every migration file still re-runs cleanly, as Supabase's tooling may run them).
--
-- Otherwise the claim is as 20261127001000_dispatcher_api_v1_affinity.sql left it.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_claim_ready_steps(
    p_site text, p_owner text, p_step_kinds text[], p_limit int,
    p_lease_seconds int, p_exclude_targets text[], p_per_target int,
    p_prefer_targets text[])
  RETURNS TABLE (task_id uuid, job_id uuid, lease_id uuid, step_key text, step_kind text,
                 target text, mutating boolean, params jsonb, checkpoint jsonb, attempt int,
                 max_attempts int, lease_expires_at timestamptz, job_type text,
                 job_params jsonb, traceparent text, waited_ms double precision,
                 queue_drained boolean)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
  IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION 'lease_seconds: must be between 1 and 86400' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  WITH general AS (
    SELECT t.id, t.target, t.priority, t.seq, t.created_at, false AS affine
      FROM public.job_tasks t
     WHERE t.site = p_site AND t.status = 'ready' AND t.run_after <= now()
       AND t.step_kind = ANY (p_step_kinds)
       AND NOT (t.target = ANY (coalesce(p_exclude_targets, '{}')))
     ORDER BY t.priority DESC, t.seq, t.created_at
     -- Bounded look-ahead: enough to skip rows other claimers hold, never the whole queue.
     LIMIT greatest(p_limit, 1) * 4 + 64
  ), ahead AS (
    -- The look-ahead came back full: the queue may hold more than it read.
    SELECT count(*) >= greatest(p_limit, 1) * 4 + 64 AS cut_short FROM general
  ), preferred AS (
    -- One index lookup per preferred target, in queue order (job_tasks_ready_target_idx).
    -- The lookup names only the target, so no plan can walk the queue-order index and filter
    -- it per target (which the planner picks when this busy table's statistics are stale);
    -- the other conditions apply to the few rows found.
    SELECT t.id, t.target, t.priority, t.seq, t.created_at, true AS affine
      FROM unnest(coalesce(p_prefer_targets, '{}')) AS pt(target)
     CROSS JOIN LATERAL (
       SELECT r.id, r.target, r.priority, r.seq, r.created_at, r.site, r.run_after, r.step_kind
         FROM public.job_tasks r
        WHERE r.target = pt.target AND r.status = 'ready'
        ORDER BY r.priority DESC, r.seq, r.created_at
        LIMIT 4) t
     WHERE t.site = p_site AND t.run_after <= now() AND t.step_kind = ANY (p_step_kinds)
       AND NOT (t.target = ANY (coalesce(p_exclude_targets, '{}')))
       -- Only when the look-ahead was cut short: otherwise it holds every row found here.
       AND (SELECT a.cut_short FROM ahead a)
     ORDER BY t.priority DESC, t.seq, t.created_at
     LIMIT greatest(p_limit, 1)
  ), scan AS (
    SELECT DISTINCT ON (u.id) u.* FROM (SELECT * FROM preferred UNION ALL SELECT * FROM general) u
     ORDER BY u.id, u.affine DESC
  ), ranked AS (
    SELECT s.id, s.priority, s.affine, s.seq, s.created_at,
           row_number() OVER (PARTITION BY s.target
                              ORDER BY s.priority DESC, s.affine DESC, s.seq, s.created_at) AS rn
      FROM scan s
  ), picked AS (
    -- Locks by primary key (an index lookup per candidate, never a scan of the table).
    SELECT t.id
      FROM public.job_tasks t
     WHERE t.id = ANY (ARRAY(SELECT r.id FROM ranked r
                              WHERE p_per_target IS NULL OR r.rn <= p_per_target
                              ORDER BY r.priority DESC, r.affine DESC, r.seq, r.created_at
                              LIMIT greatest(p_limit, 1) * 4 + 64))
       AND t.status = 'ready'
     ORDER BY t.priority DESC, (t.target = ANY (coalesce(p_prefer_targets, '{}'))) DESC,
              t.seq, t.created_at
     LIMIT greatest(p_limit, 1)
       FOR UPDATE OF t SKIP LOCKED
  ), leased AS (
    -- Straight to 'running': the dispatcher sends the Assign right after this statement,
    -- and an Assign that cannot be delivered is handed back with a snooze.
    UPDATE public.job_tasks t
       SET status = 'running', attempt = t.attempt + 1, lease_id = gen_random_uuid(),
           lease_owner = p_owner,
           lease_expires_at = now() + make_interval(secs => p_lease_seconds),
           heartbeat_at = now(), started_at = coalesce(t.started_at, now()),
           error_code = NULL, error_message = NULL
      FROM picked
     WHERE t.id = picked.id
    RETURNING t.*
  ), jobs_started AS (
    -- = ANY(ARRAY(...)): looked up by key, never a scan of jobs joined to the batch (which a
    -- plan from stale statistics does, at O(jobs x batch)).
    UPDATE public.jobs j SET started_at = now()
     WHERE j.id = ANY (ARRAY(SELECT DISTINCT l.job_id FROM leased l)) AND j.started_at IS NULL
    RETURNING j.id
  )
  SELECT l.id, l.job_id, l.lease_id, l.step_key, l.step_kind, l.target, l.mutating, l.params,
         l.checkpoint, l.attempt, l.max_attempts, l.lease_expires_at, j.job_type, j.params,
         j.traceparent,
         (extract(epoch FROM clock_timestamp() - greatest(l.run_after, l.created_at)) * 1000)::double precision,
         NOT (SELECT a.cut_short FROM ahead a) AND (SELECT count(*) FROM ranked) = (SELECT count(*) FROM leased)
    FROM leased l JOIN public.jobs j ON j.id = l.job_id
   ORDER BY l.priority DESC, (l.target = ANY (coalesce(p_prefer_targets, '{}'))) DESC,
            l.seq, l.created_at;
END
$$;

CREATE OR REPLACE FUNCTION public.dispatcher_v1_claim_steps_affine(
    p_site text, p_owner text, p_step_kinds text[], p_limit int,
    p_lease_seconds int, p_exclude_targets text[], p_per_target int,
    p_prefer_targets text[])
  RETURNS TABLE (task_id uuid, job_id uuid, lease_id uuid, step_key text, step_kind text,
                 target text, mutating boolean, params jsonb, checkpoint jsonb, attempt int,
                 max_attempts int, lease_expires_at timestamptz, job_type text,
                 job_params jsonb, traceparent text, waited_ms double precision)
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT c.task_id, c.job_id, c.lease_id, c.step_key, c.step_kind, c.target, c.mutating, c.params,
         c.checkpoint, c.attempt, c.max_attempts, c.lease_expires_at, c.job_type, c.job_params,
         c.traceparent, c.waited_ms
    FROM public.dispatcher_v1_claim_ready_steps(p_site, p_owner, p_step_kinds, p_limit, p_lease_seconds,
                                                p_exclude_targets, p_per_target, p_prefer_targets) c
$$;

-- CREATE OR REPLACE keeps a function's grants, a new one has none: each restated here.
REVOKE ALL ON FUNCTION public.dispatcher_v1_jobs_to_plan(text, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_jobs_to_plan(text, int) TO dcops_dispatcher;
REVOKE ALL ON FUNCTION public.dispatcher_v1_plan_jobs(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_plan_jobs(jsonb) TO dcops_dispatcher;
REVOKE ALL ON FUNCTION public.dispatcher_v1_claim_ready_steps(text, text, text[], int, int, text[], int, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_claim_ready_steps(text, text, text[], int, int, text[], int, text[]) TO dcops_dispatcher;
REVOKE ALL ON FUNCTION public.dispatcher_v1_claim_steps_affine(text, text, text[], int, int, text[], int, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_claim_steps_affine(text, text, text[], int, int, text[], int, text[]) TO dcops_dispatcher;
