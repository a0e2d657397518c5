-- Job and step life cycle, in one place for every caller: job creation with validation,
-- and the consequences of a step reaching a terminal state (dependents released or skipped,
-- job counters, the job finishing). The UI and dispatcher APIs call these.

CREATE SCHEMA IF NOT EXISTS dcops_internal;
REVOKE ALL ON SCHEMA dcops_internal FROM PUBLIC;

CREATE OR REPLACE FUNCTION dcops_internal.is_terminal(p_status text) RETURNS boolean
  LANGUAGE sql IMMUTABLE AS $$
  SELECT p_status IN ('succeeded', 'failed', 'cancelled', 'skipped')
$$;

-- A W3C traceparent: the caller's (PostgREST passes request headers in request.headers)
-- when well-formed, else a new one.
CREATE OR REPLACE FUNCTION dcops_internal.traceparent() RETURNS text
  LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_header text;
BEGIN
  BEGIN
    v_header := nullif(current_setting('request.headers', true), '')::json ->> 'traceparent';
  EXCEPTION WHEN others THEN
    v_header := NULL;
  END;
  IF v_header ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'
     AND v_header !~ '^00-0{32}-' AND v_header !~ '-0{16}-[0-9a-f]{2}$' THEN
    RETURN v_header;
  END IF;
  RETURN '00-' || replace(gen_random_uuid()::text, '-', '') || '-'
         || left(replace(gen_random_uuid()::text, '-', ''), 16) || '-01';
END
$$;

-- Validates and inserts a job. Every path that creates a job goes through here.
-- Errors: SQLSTATE 22023 with a message naming the field. A repeated idempotency key
-- returns the existing job unchanged (no audit row, no notification).
CREATE OR REPLACE FUNCTION dcops_internal.insert_job(
    p_job_type text, p_target_scope jsonb, p_params jsonb, p_idempotency_key text,
    p_schedule_at timestamptz, p_priority int, p_actor uuid, p_actor_role text,
    p_via text, p_schedule_id uuid)
  RETURNS uuid
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_type  public.job_types%ROWTYPE;
  v_err   text;
  v_id    uuid;
  v_site  text;
  v_size  int;
BEGIN
  IF p_job_type IS NULL OR p_job_type = '' THEN
    RAISE EXCEPTION 'job_type: is required' USING ERRCODE = '22023';
  END IF;
  SELECT * INTO v_type FROM public.job_types WHERE job_type = p_job_type;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'job_type: unknown job type "%"', left(p_job_type, 100)
      USING ERRCODE = '22023', HINT = 'the job_types table lists the known types';
  END IF;
  IF NOT v_type.enabled THEN
    RAISE EXCEPTION 'job_type: "%" is disabled on this control plane', p_job_type
      USING ERRCODE = '22023';
  END IF;
  IF p_params IS NULL OR jsonb_typeof(p_params) <> 'object' THEN
    RAISE EXCEPTION 'params: must be a JSON object' USING ERRCODE = '22023';
  END IF;
  v_size := octet_length(p_params::text);
  IF v_size > 65536 THEN
    RAISE EXCEPTION 'params: % bytes, at most 65536 allowed', v_size USING ERRCODE = '22023';
  END IF;
  IF p_target_scope IS NOT NULL AND octet_length(p_target_scope::text) > 1048576 THEN
    RAISE EXCEPTION 'target_scope: % bytes, at most 1048576 allowed',
      octet_length(p_target_scope::text) USING ERRCODE = '22023';
  END IF;
  v_err := public.dcops_validate_scope(p_target_scope, v_type.scope_kinds);
  IF v_err IS NOT NULL THEN
    RAISE EXCEPTION '%', v_err USING ERRCODE = '22023';
  END IF;
  v_err := public.dcops_validate_json(p_params, v_type.params_schema, 'params');
  IF v_err IS NOT NULL THEN
    RAISE EXCEPTION '%', v_err USING ERRCODE = '22023';
  END IF;
  IF p_priority IS NULL OR p_priority NOT BETWEEN -100 AND 100 THEN
    RAISE EXCEPTION 'priority: must be between -100 and 100, got %', p_priority
      USING ERRCODE = '22023';
  END IF;
  IF p_idempotency_key IS NOT NULL AND length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'idempotency_key: must be 1 to 200 characters' USING ERRCODE = '22023';
  END IF;
  v_site := coalesce(p_target_scope ->> 'site', 'default');

  INSERT INTO public.jobs (site, job_type, status, target_scope, params, priority,
                           idempotency_key, schedule_at, created_by, created_via,
                           schedule_id, traceparent)
  VALUES (v_site, p_job_type,
          CASE WHEN p_schedule_at > now() THEN 'scheduled' ELSE 'pending' END,
          p_target_scope, p_params, p_priority, p_idempotency_key, p_schedule_at, p_actor,
          p_via, p_schedule_id, dcops_internal.traceparent())
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING id INTO v_id;

  IF v_id IS NULL THEN
    SELECT id INTO v_id FROM public.jobs WHERE idempotency_key = p_idempotency_key;
    RETURN v_id;
  END IF;

  INSERT INTO public.audit_log (actor, actor_role, action, object_type, object_id, details)
  VALUES (p_actor, p_actor_role, 'job.create', 'job', v_id::text,
          jsonb_build_object('job_type', p_job_type, 'site', v_site, 'via', p_via,
                             'target_scope', p_target_scope, 'priority', p_priority,
                             'schedule_at', p_schedule_at));
  PERFORM pg_notify('dcops_work',
                    json_build_object('site', v_site, 'job_id', v_id, 'event', 'job_created')::text);
  RETURN v_id;
END
$$;

-- Steps reached terminal states (any statement, any number of steps, set-based):
--   * dependents whose dependencies all succeeded become 'ready';
--   * dependents of a step that did not succeed become 'skipped' (which cascades, as that
--     UPDATE fires this trigger again);
--   * each job's counters move once per statement, and a job whose last step ended ends:
--     'cancelled' if cancellation was asked, 'failed' if a step failed, else 'succeeded'.
-- Statement-level with transition tables, so a batch of completions costs one update of each
-- job row, not one per step (a job row updated per step inside one transaction grows a HOT
-- chain that every later update has to walk).
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
  FOR v_job IN
    WITH counts AS (
      SELECT f.job_id, count(*) AS n,
             count(*) FILTER (WHERE f.status = 'succeeded') AS ok,
             count(*) FILTER (WHERE f.status = 'failed') AS bad
        FROM unnest(v_jobs, v_status) AS f(job_id, status) GROUP BY f.job_id)
    UPDATE public.jobs j
       SET steps_finished  = j.steps_finished + c.n,
           steps_succeeded = j.steps_succeeded + c.ok,
           steps_failed    = j.steps_failed + c.bad,
           progress        = CASE WHEN j.steps_total > 0
                                  THEN least(100, ((j.steps_finished + c.n) * 100) / j.steps_total)
                                  ELSE 100 END
      FROM counts c
     WHERE j.id = c.job_id
    RETURNING j.id, j.status, j.steps_finished, j.steps_total
  LOOP
    CONTINUE WHEN dcops_internal.is_terminal(v_job.status) OR v_job.steps_finished < v_job.steps_total;
    PERFORM dcops_internal.finish_job(v_job.id);
  END LOOP;
  RETURN NULL;
END
$$;

-- Ends a job whose steps have all ended, with the status they add up to.
CREATE OR REPLACE FUNCTION dcops_internal.finish_job(p_job_id uuid) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_job public.jobs%ROWTYPE;
  v_final text;
BEGIN
  SELECT * INTO v_job FROM public.jobs WHERE id = p_job_id;
  v_final := CASE
    WHEN v_job.cancel_requested_at IS NOT NULL THEN 'cancelled'
    WHEN v_job.steps_failed > 0 THEN 'failed'
    WHEN v_job.steps_succeeded < v_job.steps_total THEN 'cancelled'
    ELSE 'succeeded' END;
  UPDATE public.jobs
     SET status = v_final,
         finished_at = now(),
         error_code = CASE WHEN v_final = 'failed' THEN 'steps_failed' END,
         error_message = CASE WHEN v_final = 'failed'
                              THEN format('%s of %s step(s) failed', v_job.steps_failed, v_job.steps_total) END
   WHERE id = p_job_id;
  INSERT INTO public.job_events (job_id, level, message, data, source, trace_id)
  VALUES (p_job_id, CASE v_final WHEN 'succeeded' THEN 'info' WHEN 'cancelled' THEN 'warn' ELSE 'error' END,
          format('job %s: %s of %s step(s) succeeded', v_final, v_job.steps_succeeded, v_job.steps_total),
          jsonb_build_object('status', v_final, 'succeeded', v_job.steps_succeeded,
                             'failed', v_job.steps_failed, 'total', v_job.steps_total),
          'control-plane', split_part(v_job.traceparent, '-', 2));
  PERFORM pg_notify('dcops_work', json_build_object('site', v_job.site, 'job_id', p_job_id,
                                                    'event', 'job_finished')::text);
END
$$;

DROP TRIGGER IF EXISTS job_tasks_on_status ON public.job_tasks;
CREATE OR REPLACE TRIGGER job_tasks_steps_changed AFTER UPDATE ON public.job_tasks
  REFERENCING OLD TABLE AS old_steps NEW TABLE AS new_steps
  FOR EACH STATEMENT EXECUTE FUNCTION dcops_internal.on_steps_changed();

-- Exponential backoff with "equal jitter": a delay drawn from [d/2, d] where
-- d = min(max_ms, base_ms * 2^(attempt-1)).
CREATE OR REPLACE FUNCTION dcops_internal.retry_delay(p_attempt int, p_base_ms int, p_max_ms int)
  RETURNS interval
  LANGUAGE sql VOLATILE AS $$
  SELECT make_interval(secs => d / 2000.0 + random() * d / 2000.0)
    FROM (SELECT least(p_max_ms::numeric,
                       p_base_ms::numeric * power(2::numeric, greatest(p_attempt - 1, 0))) AS d) x
$$;
