-- Set-based job planning and job ending (issue 3, measured in docs/BENCHMARKS.md): a batch
-- of plans is one statement, and the jobs a batch of completions ends are ended with one
-- UPDATE and one INSERT of events, instead of a handful of statements per job. Behaviour is
-- that of dispatcher_v1_plan_job and dcops_internal.finish_job, which stay as they are.

-- The steps of a batch of plans as rows (pi: plan index, si: step index, both from 0).
-- No temporary table: DDL in the hot path would invalidate every session's caches.
CREATE OR REPLACE FUNCTION dcops_internal.plan_rows(p_plans jsonb)
  RETURNS TABLE (pi int, job_id uuid, si int, step_key text, kind text, target text,
                 params jsonb, depends_on jsonb, mutating boolean, max_attempts int,
                 retry_base_ms int, retry_max_ms int)
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, public
AS $$
  SELECT p.ord::int - 1, (p.v ->> 'job_id')::uuid, s.ord::int - 1, s.v ->> 'key', s.v ->> 'kind',
         s.v ->> 'target', coalesce(s.v -> 'params', '{}'), coalesce(s.v -> 'depends_on', '[]'),
         (s.v ->> 'mutating')::boolean, (s.v ->> 'max_attempts')::int,
         (s.v ->> 'retry_base_ms')::int, (s.v ->> 'retry_max_ms')::int
    FROM jsonb_array_elements(p_plans) WITH ORDINALITY AS p(v, ord),
         jsonb_array_elements(p.v -> 'steps') WITH ORDINALITY AS s(v, ord)
$$;

-- Plans many pending jobs at once. p_plans: [{"job_id": "...", "steps": [...]}, ...] with
-- steps as dispatcher_v1_plan_job takes them. Every plan is checked before anything is
-- written; an invalid one fails the whole call with a message naming plans[i].steps[j], so
-- the caller can fall back to planning job by job. Jobs no longer pending are left alone and
-- answer their current step count. Returns one row per job, in input order.
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
      FROM dcops_internal.plan_rows(p_plans) r
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
    SELECT d.pi, d.si, format('plans[%s].steps[%s].depends_on: "%s" is not an earlier step', d.pi, d.si, d.key)
      FROM deps d LEFT JOIN b o ON o.pi = d.pi AND o.step_key = d.key AND o.si < d.si
     WHERE o.pi IS NULL
  ) e ORDER BY e.pi, e.si LIMIT 1;
  IF v_err IS NOT NULL THEN RAISE EXCEPTION '%', v_err USING ERRCODE = '22023'; END IF;

  RETURN QUERY
  WITH batch AS MATERIALIZED (
    SELECT * FROM dcops_internal.plan_rows(p_plans)
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
    SELECT d.job_id, d.site, b.si + 1, b.step_key, b.kind, b.target, coalesce(b.mutating, d.mutating),
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

-- Ends many jobs whose steps have all ended, each with the status its steps add up to (as
-- finish_job does for one): one UPDATE, one INSERT of events, one notification per job.
CREATE OR REPLACE FUNCTION dcops_internal.finish_jobs(p_job_ids uuid[]) RETURNS void
  LANGUAGE sql
  SET search_path = pg_catalog, public
AS $$
  WITH verdict AS (
    SELECT j.id, CASE
             WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
             WHEN j.steps_failed > 0 THEN 'failed'
             WHEN j.steps_succeeded < j.steps_total THEN 'cancelled'
             ELSE 'succeeded' END AS final
      FROM public.jobs j WHERE j.id = ANY (p_job_ids)
  ), ended AS (
    UPDATE public.jobs j
       SET status = v.final, finished_at = now(),
           error_code = CASE WHEN v.final = 'failed' THEN 'steps_failed' END,
           error_message = CASE WHEN v.final = 'failed'
                                THEN format('%s of %s step(s) failed', j.steps_failed, j.steps_total) END
      FROM verdict v
     WHERE j.id = v.id AND j.id = ANY (p_job_ids)
    RETURNING j.id, j.site, j.status, j.steps_succeeded, j.steps_failed, j.steps_total, j.traceparent
  ), logged AS (
    INSERT INTO public.job_events (job_id, level, message, data, source, trace_id)
    SELECT e.id, CASE e.status WHEN 'succeeded' THEN 'info' WHEN 'cancelled' THEN 'warn' ELSE 'error' END,
           format('job %s: %s of %s step(s) succeeded', e.status, e.steps_succeeded, e.steps_total),
           jsonb_build_object('status', e.status, 'succeeded', e.steps_succeeded,
                              'failed', e.steps_failed, 'total', e.steps_total),
           'control-plane', split_part(e.traceparent, '-', 2)
      FROM ended e
    RETURNING 1
  )
  SELECT count(pg_notify('dcops_work', json_build_object('site', e.site, 'job_id', e.id,
                                                         'event', 'job_finished')::text))
    FROM ended e
$$;

-- on_steps_changed as before, ending the finished jobs with one finish_jobs call.
CREATE OR REPLACE FUNCTION dcops_internal.on_steps_changed() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  -- The steps this statement finished, held in local arrays: the UPDATEs below fire this
  -- trigger again (nested), so nothing may be shared between invocations.
  v_ids    uuid[];
  v_jobs   uuid[];
  v_status text[];
  v_keys   text[];
  v_done   uuid[];
  v_job    record;
BEGIN
  SELECT array_agg(n.id), array_agg(n.job_id), array_agg(n.status), array_agg(n.step_key)
    INTO v_ids, v_jobs, v_status, v_keys
    FROM new_steps n JOIN old_steps o ON o.id = n.id
   WHERE n.status IN ('succeeded', 'failed', 'cancelled', 'skipped')
     AND o.status NOT IN ('succeeded', 'failed', 'cancelled', 'skipped');
  IF v_ids IS NULL THEN
    RETURN NULL;
  END IF;

  -- Lock the jobs first, in id order, so concurrent batches never deadlock.
  PERFORM 1 FROM public.jobs j WHERE j.id = ANY (v_jobs) ORDER BY j.id FOR UPDATE;

  -- Release dependents whose dependencies have all succeeded (most steps have none: the
  -- check keeps the two UPDATEs, and their own trigger calls, off that path).
  IF EXISTS (SELECT 1 FROM public.job_task_deps d WHERE d.depends_on = ANY (v_ids)) THEN
  WITH released AS (
    UPDATE public.job_tasks c
       SET status = 'ready', run_after = now()
     WHERE c.status = 'blocked'
       AND c.id IN (SELECT d.task_id
                      FROM unnest(v_ids, v_status) AS f(id, status)
                      JOIN public.job_task_deps d ON d.depends_on = f.id
                     WHERE f.status = 'succeeded')
       AND NOT EXISTS (SELECT 1 FROM public.job_task_deps d2
                         JOIN public.job_tasks p ON p.id = d2.depends_on
                        WHERE d2.task_id = c.id AND p.status <> 'succeeded')
    RETURNING c.site, c.job_id)
  SELECT count(*) AS n, min(site) AS site, min(job_id::text) AS job_id INTO v_job FROM released;
  IF v_job.n > 0 THEN
    PERFORM pg_notify('dcops_work', json_build_object('site', v_job.site, 'job_id', v_job.job_id,
                                                      'event', 'steps_ready')::text);
  END IF;

  -- Skip dependents of steps that did not succeed (fires this trigger again for them).
  UPDATE public.job_tasks c
     SET status = 'skipped', finished_at = now(),
         error_code = 'dependency_' || f.status,
         error_message = format('skipped: step %s %s', f.step_key, f.status)
    FROM unnest(v_ids, v_status, v_keys) AS f(id, status, step_key)
    JOIN public.job_task_deps d ON d.depends_on = f.id
   WHERE c.id = d.task_id AND c.status IN ('blocked', 'ready') AND f.status <> 'succeeded';
  END IF;

  -- Account on the jobs, then end the jobs whose last step ended.
  WITH counts AS (
    SELECT f.job_id, count(*) AS n,
           count(*) FILTER (WHERE f.status = 'succeeded') AS ok,
           count(*) FILTER (WHERE f.status = 'failed') AS bad
      FROM unnest(v_jobs, v_status) AS f(job_id, status) GROUP BY f.job_id
  ), moved AS (
    UPDATE public.jobs j
       SET steps_finished  = j.steps_finished + c.n,
           steps_succeeded = j.steps_succeeded + c.ok,
           steps_failed    = j.steps_failed + c.bad,
           progress        = CASE WHEN j.steps_total > 0
                                  THEN least(100, ((j.steps_finished + c.n) * 100) / j.steps_total)
                                  ELSE 100 END
      FROM counts c
     WHERE j.id = c.job_id
       AND j.id = ANY (v_jobs)  -- lets the plan look rows up by key whatever the statistics say
    RETURNING j.id, j.status, j.steps_finished, j.steps_total
  )
  SELECT array_agg(m.id) INTO v_done
    FROM moved m
   WHERE NOT dcops_internal.is_terminal(m.status) AND m.steps_finished >= m.steps_total;
  IF v_done IS NOT NULL THEN
    PERFORM dcops_internal.finish_jobs(v_done);
  END IF;
  RETURN NULL;
END
$$;

-- Statistics of the queue tables, refreshed when they moved a lot since the last ANALYZE.
-- A burst (a 10,000-server job) changes these tables within seconds, long before autovacuum
-- looks (once a minute); plans from the empty-table statistics then scan jobs and job_tasks
-- per batch. The dispatcher calls this every few seconds; it is cheap when nothing changed.
-- Returns the tables analysed.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_refresh_statistics()
  RETURNS text[]
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_table text;
  v_done  text[] := '{}';
BEGIN
  FOR v_table IN
    SELECT s.relname FROM pg_stat_user_tables s
     WHERE s.schemaname = 'public' AND s.relname IN ('jobs', 'job_tasks', 'job_events')
       AND s.n_mod_since_analyze > greatest(1000, (s.n_live_tup * 0.2)::bigint)
  LOOP
    EXECUTE format('ANALYZE public.%I', v_table);
    v_done := v_done || v_table;
  END LOOP;
  RETURN v_done;
END
$$;

REVOKE ALL ON FUNCTION public.dispatcher_v1_refresh_statistics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_refresh_statistics() TO dcops_dispatcher;
REVOKE ALL ON FUNCTION public.dispatcher_v1_plan_jobs(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION dcops_internal.finish_jobs(uuid[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION dcops_internal.plan_rows(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_plan_jobs(jsonb) TO dcops_dispatcher;
