-- The dispatcher's API, version 1. Everything the dispatcher does in the database goes
-- through these functions, so the same calls work over libpq (SELECT fn(...)) and PostgREST
-- (POST /rest/v1/rpc/fn). They are SECURITY DEFINER: the dcops_dispatcher role holds EXECUTE
-- on them and no table privilege at all.
--
-- Leases: a claim gives each step a fresh lease_id. Every later call about that step names
-- the lease_id; a call with an old one (from an agent whose lease expired and was rescued)
-- changes nothing and answers 'stale_lease'. Terminal states are final.

CREATE OR REPLACE FUNCTION public.dispatcher_v1_api_version() RETURNS int
  LANGUAGE sql IMMUTABLE AS $$ SELECT 1 $$;

-- Jobs of a site that need planning: due scheduled jobs become pending, then pending jobs
-- are returned by priority and age.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_jobs_to_plan(p_site text, p_limit int DEFAULT 100)
  RETURNS TABLE (job_id uuid, job_type text, target_scope jsonb, params jsonb, priority int,
                 traceparent text, created_at timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
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

-- Plans a pending job into steps, atomically. p_steps is an array, in dependency order:
--   [{"key": "power:127.0.1.1", "kind": "server.power", "target": "idrac:127.0.1.1",
--     "params": {...}, "depends_on": ["earlier key", ...], "mutating": true,
--     "max_attempts": 5, "retry_base_ms": 5000, "retry_max_ms": 120000}, ...]
-- mutating and the retry settings default to the job type's. A step may depend only on
-- steps listed before it (so there are no cycles). Returns the number of steps. Planning
-- a job that is already planned or finished changes nothing and returns its step count.
-- An empty plan finishes the job as succeeded.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_plan_job(p_job_id uuid, p_steps jsonb)
  RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_job   public.jobs%ROWTYPE;
  v_type  public.job_types%ROWTYPE;
  v_step  jsonb;
  v_seq   int := 0;
  v_keys  text[] := '{}';
  v_dep   text;
  v_n     int;
BEGIN
  SELECT * INTO v_job FROM public.jobs WHERE id = p_job_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'job_id: no job with id %', p_job_id USING ERRCODE = 'P0002';
  END IF;
  IF v_job.status <> 'pending' THEN
    RETURN v_job.steps_total;
  END IF;
  IF p_steps IS NULL OR jsonb_typeof(p_steps) <> 'array' THEN
    RAISE EXCEPTION 'steps: must be a JSON array' USING ERRCODE = '22023';
  END IF;
  SELECT * INTO v_type FROM public.job_types WHERE job_type = v_job.job_type;
  v_n := jsonb_array_length(p_steps);
  IF v_n > 100000 THEN
    RAISE EXCEPTION 'steps: % steps, at most 100000 per job', v_n USING ERRCODE = '22023';
  END IF;

  -- Check the whole plan before writing any of it.
  FOR v_step IN SELECT value FROM jsonb_array_elements(p_steps) LOOP
    v_seq := v_seq + 1;
    IF jsonb_typeof(v_step) <> 'object' OR coalesce(v_step ->> 'key', '') = ''
       OR coalesce(v_step ->> 'kind', '') = '' OR coalesce(v_step ->> 'target', '') = '' THEN
      RAISE EXCEPTION 'steps[%]: needs key, kind and target', v_seq - 1 USING ERRCODE = '22023';
    END IF;
    IF (v_step ->> 'key') = ANY (v_keys) THEN
      RAISE EXCEPTION 'steps[%].key: "%" is used twice', v_seq - 1, v_step ->> 'key'
        USING ERRCODE = '22023';
    END IF;
    IF (v_step ->> 'target') !~ '^(idrac|vcenter|esxi|zfs|ome|redfish|site):.+$' THEN
      RAISE EXCEPTION 'steps[%].target: "%" is not a target (kind:address)', v_seq - 1,
        v_step ->> 'target' USING ERRCODE = '22023';
    END IF;
    FOR v_dep IN SELECT jsonb_array_elements_text(coalesce(v_step -> 'depends_on', '[]')) LOOP
      IF NOT v_dep = ANY (v_keys) THEN
        RAISE EXCEPTION 'steps[%].depends_on: "%" is not an earlier step', v_seq - 1, v_dep
          USING ERRCODE = '22023';
      END IF;
    END LOOP;
    v_keys := v_keys || (v_step ->> 'key');
  END LOOP;

  INSERT INTO public.job_tasks (job_id, site, seq, step_key, step_kind, target, mutating,
                                params, status, priority, max_attempts, retry_base_ms,
                                retry_max_ms)
  SELECT p_job_id, v_job.site, s.ord::int, s.v ->> 'key', s.v ->> 'kind', s.v ->> 'target',
         coalesce((s.v ->> 'mutating')::boolean, v_type.mutating),
         coalesce(s.v -> 'params', '{}'),
         CASE WHEN jsonb_array_length(coalesce(s.v -> 'depends_on', '[]')) = 0
              THEN 'ready' ELSE 'blocked' END,
         v_job.priority,
         coalesce((s.v ->> 'max_attempts')::int, v_type.max_attempts),
         coalesce((s.v ->> 'retry_base_ms')::int, v_type.retry_base_ms),
         coalesce((s.v ->> 'retry_max_ms')::int, v_type.retry_max_ms)
    FROM jsonb_array_elements(p_steps) WITH ORDINALITY AS s(v, ord);

  INSERT INTO public.job_task_deps (task_id, depends_on)
  SELECT t.id, d.id
    FROM jsonb_array_elements(p_steps) AS s(v)
    JOIN public.job_tasks t ON t.job_id = p_job_id AND t.step_key = s.v ->> 'key'
    CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(s.v -> 'depends_on', '[]')) AS k(key)
    JOIN public.job_tasks d ON d.job_id = p_job_id AND d.step_key = k.key;

  UPDATE public.jobs
     SET status = CASE WHEN v_n = 0 THEN 'succeeded' ELSE 'running' END,
         steps_total = v_n, planned_at = now(),
         progress = CASE WHEN v_n = 0 THEN 100 ELSE 0 END,
         finished_at = CASE WHEN v_n = 0 THEN now() END,
         result = CASE WHEN v_n = 0 THEN '{"note":"nothing to do"}'::jsonb END
   WHERE id = p_job_id;
  INSERT INTO public.job_events (job_id, level, message, data, source, trace_id)
  VALUES (p_job_id, 'info', format('planned %s step(s)', v_n), jsonb_build_object('steps', v_n),
          'dispatcher', split_part(v_job.traceparent, '-', 2));
  IF v_n > 0 THEN
    PERFORM pg_notify('dcops_work', json_build_object('site', v_job.site, 'job_id', p_job_id,
                                                      'event', 'steps_ready')::text);
  END IF;
  RETURN v_n;
END
$$;

-- A job the dispatcher cannot plan (no planner, a target that does not resolve) fails
-- with the reason. Only a pending job can fail this way; returns whether it did.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_fail_job(p_job_id uuid, p_error_code text,
                                                        p_error_message text)
  RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_trace text;
BEGIN
  UPDATE public.jobs
     SET status = 'failed', finished_at = now(), error_code = p_error_code,
         error_message = left(p_error_message, 4000)
   WHERE id = p_job_id AND status IN ('pending', 'scheduled')
   RETURNING traceparent INTO v_trace;
  IF NOT FOUND THEN RETURN false; END IF;
  INSERT INTO public.job_events (job_id, level, message, data, source, trace_id)
  VALUES (p_job_id, 'error', left(format('job failed: %s', p_error_message), 4000),
          jsonb_build_object('code', p_error_code), 'dispatcher', split_part(v_trace, '-', 2));
  RETURN true;
END
$$;

-- Claims up to p_limit ready steps of the given kinds for one agent, in one statement.
-- Order: job priority, then position within the job (so every job gets its first steps
-- before any job gets its later ones), then age. Targets in p_exclude_targets (at their
-- limit in the dispatcher) are passed over, and at most p_per_target steps of one target
-- are taken per call (NULL: no bound). Concurrent claimers never get the same step.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_claim_steps(
    p_site text, p_owner text, p_step_kinds text[], p_limit int,
    p_lease_seconds int DEFAULT 30, p_exclude_targets text[] DEFAULT '{}',
    p_per_target int DEFAULT NULL)
  RETURNS TABLE (task_id uuid, job_id uuid, lease_id uuid, step_key text, step_kind text,
                 target text, mutating boolean, params jsonb, checkpoint jsonb, attempt int,
                 max_attempts int, lease_expires_at timestamptz, job_type text,
                 job_params jsonb, traceparent text)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
  IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION 'lease_seconds: must be between 1 and 86400' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  WITH scan AS (
    SELECT t.id, t.target, t.priority, t.seq, t.created_at
      FROM public.job_tasks t
     WHERE t.site = p_site AND t.status = 'ready' AND t.run_after <= now()
       AND t.step_kind = ANY (p_step_kinds)
       AND NOT (t.target = ANY (coalesce(p_exclude_targets, '{}')))
     ORDER BY t.priority DESC, t.seq, t.created_at
     -- Bounded look-ahead: enough to skip rows other claimers hold, never the whole queue.
     LIMIT greatest(p_limit, 1) * 4 + 64
  ), picked AS (
    -- Locks by primary key (an index lookup per candidate, never a scan of the table).
    SELECT t.id
      FROM public.job_tasks t
     WHERE t.id = ANY (ARRAY(
             SELECT r.id
               FROM (SELECT s.id, row_number() OVER (PARTITION BY s.target
                                                     ORDER BY s.priority DESC, s.seq, s.created_at) AS rn
                       FROM scan s) r
              WHERE p_per_target IS NULL OR r.rn <= p_per_target))
       AND t.status = 'ready'
     ORDER BY t.priority DESC, t.seq, t.created_at
     LIMIT greatest(p_limit, 1)
       FOR UPDATE OF t SKIP LOCKED
  ), leased AS (
    UPDATE public.job_tasks t
       SET status = 'leased', attempt = t.attempt + 1, lease_id = gen_random_uuid(),
           lease_owner = p_owner,
           lease_expires_at = now() + make_interval(secs => p_lease_seconds),
           heartbeat_at = now(), error_code = NULL, error_message = NULL
      FROM picked
     WHERE t.id = picked.id
    RETURNING t.*
  )
  SELECT l.id, l.job_id, l.lease_id, l.step_key, l.step_kind, l.target, l.mutating, l.params,
         l.checkpoint, l.attempt, l.max_attempts, l.lease_expires_at, j.job_type, j.params,
         j.traceparent
    FROM leased l JOIN public.jobs j ON j.id = l.job_id
   ORDER BY l.priority DESC, l.seq, l.created_at;
END
$$;

-- The agent began the step (leased -> running). Repeating it is harmless.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_start_step(p_task_id uuid, p_lease_id uuid)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_job uuid;
BEGIN
  UPDATE public.job_tasks
     SET status = 'running', started_at = coalesce(started_at, now()), heartbeat_at = now()
   WHERE id = p_task_id AND lease_id = p_lease_id AND status IN ('leased', 'running')
   RETURNING job_id INTO v_job;
  IF NOT FOUND THEN
    RETURN CASE WHEN EXISTS (SELECT 1 FROM public.job_tasks WHERE id = p_task_id)
                THEN 'stale_lease' ELSE 'not_found' END;
  END IF;
  UPDATE public.jobs SET started_at = now() WHERE id = v_job AND started_at IS NULL;
  RETURN 'ok';
END
$$;

-- Extends the leases an agent still holds. Answers, per lease asked about, whether it is
-- still valid and whether its job was cancelled (so the dispatcher forwards Cancel).
CREATE OR REPLACE FUNCTION public.dispatcher_v1_extend_leases(p_lease_ids uuid[],
                                                             p_lease_seconds int DEFAULT 30)
  RETURNS TABLE (lease_id uuid, task_id uuid, valid boolean, cancel_requested boolean)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH extended AS (
    UPDATE public.job_tasks t
       SET lease_expires_at = now() + make_interval(secs => p_lease_seconds), heartbeat_at = now()
     WHERE t.lease_id = ANY (p_lease_ids) AND t.status IN ('leased', 'running')
    RETURNING t.lease_id, t.id, t.job_id
  )
  SELECT l.id, e.id, e.id IS NOT NULL, coalesce(j.cancel_requested_at IS NOT NULL, false)
    FROM unnest(p_lease_ids) AS l(id)
    LEFT JOIN extended e ON e.lease_id = l.id
    LEFT JOIN public.jobs j ON j.id = e.job_id;
END
$$;

CREATE OR REPLACE FUNCTION public.dispatcher_v1_report_progress(
    p_task_id uuid, p_lease_id uuid, p_progress int, p_message text DEFAULT NULL)
  RETURNS boolean
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  WITH u AS (
    UPDATE public.job_tasks
       SET progress = least(greatest(p_progress, 0), 100),
           progress_message = left(p_message, 1000), heartbeat_at = now()
     WHERE id = p_task_id AND lease_id = p_lease_id AND status IN ('leased', 'running')
    RETURNING 1)
  SELECT EXISTS (SELECT 1 FROM u)
$$;

-- Saves what the worker has done so far; a retried step receives it back with its claim.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_save_checkpoint(
    p_task_id uuid, p_lease_id uuid, p_checkpoint jsonb)
  RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
BEGIN
  IF octet_length(p_checkpoint::text) > 262144 THEN
    RAISE EXCEPTION 'checkpoint: % bytes, at most 262144 allowed', octet_length(p_checkpoint::text)
      USING ERRCODE = '22023';
  END IF;
  UPDATE public.job_tasks SET checkpoint = p_checkpoint, heartbeat_at = now()
   WHERE id = p_task_id AND lease_id = p_lease_id AND status IN ('leased', 'running');
  RETURN FOUND;
END
$$;

-- The answer to a call that names a step and a lease that no longer match.
CREATE OR REPLACE FUNCTION dcops_internal.lease_mismatch(p_task_id uuid) RETURNS text
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, public
AS $$
  SELECT CASE WHEN EXISTS (SELECT 1 FROM public.job_tasks WHERE id = p_task_id)
              THEN 'stale_lease' ELSE 'not_found' END
$$;

-- The step succeeded. Returns 'ok', or 'stale_lease' / 'not_found' (nothing changed).
CREATE OR REPLACE FUNCTION public.dispatcher_v1_complete_step(
    p_task_id uuid, p_lease_id uuid, p_result jsonb DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
BEGIN
  UPDATE public.job_tasks
     SET status = 'succeeded', result = p_result, progress = 100, finished_at = now(),
         lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL
   WHERE id = p_task_id AND lease_id = p_lease_id AND status IN ('leased', 'running');
  IF NOT FOUND THEN RETURN dcops_internal.lease_mismatch(p_task_id); END IF;
  RETURN 'ok';
END
$$;

-- Completes many steps in one statement (one commit, one update of each job row):
--   [{"task_id": "...", "lease_id": "...", "result": {...}}, ...]
-- Returns each step's outcome as dispatcher_v1_complete_step would.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_complete_steps(p_items jsonb)
  RETURNS TABLE (task_id uuid, outcome text)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
  IF p_items IS NULL OR jsonb_typeof(p_items) <> 'array' THEN
    RAISE EXCEPTION 'items: must be a JSON array' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  WITH items AS (
    SELECT x.task_id AS id, x.lease_id AS lease, x.result AS res
      FROM jsonb_to_recordset(p_items) AS x(task_id uuid, lease_id uuid, result jsonb)
  ), done AS (
    UPDATE public.job_tasks t
       SET status = 'succeeded', result = i.res, progress = 100, finished_at = now(),
           lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL
      FROM items i
     WHERE t.id = i.id AND t.lease_id = i.lease AND t.status IN ('leased', 'running')
    RETURNING t.id, i.lease)
  SELECT i.id,
         CASE WHEN d.id IS NOT NULL THEN 'ok'
              WHEN EXISTS (SELECT 1 FROM public.job_tasks t WHERE t.id = i.id) THEN 'stale_lease'
              ELSE 'not_found' END
    FROM items i LEFT JOIN done d ON d.id = i.id AND d.lease = i.lease;
END
$$;

-- The step failed. A retryable failure with attempts left goes back to 'ready' after an
-- exponential backoff with jitter ('retry_scheduled'); otherwise the step fails ('failed')
-- and its dependents are skipped. A failure of a step whose job is being cancelled ends it
-- as 'cancelled'. 'stale_lease' / 'not_found': nothing changed.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_fail_step(
    p_task_id uuid, p_lease_id uuid, p_error_code text, p_error_message text,
    p_retryable boolean DEFAULT false, p_result jsonb DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_task public.job_tasks%ROWTYPE;
  v_cancel boolean;
  v_outcome text;
BEGIN
  SELECT t.* INTO v_task FROM public.job_tasks t
   WHERE t.id = p_task_id AND t.lease_id = p_lease_id AND t.status IN ('leased', 'running')
     FOR UPDATE;
  IF NOT FOUND THEN RETURN dcops_internal.lease_mismatch(p_task_id); END IF;
  SELECT cancel_requested_at IS NOT NULL INTO v_cancel FROM public.jobs WHERE id = v_task.job_id;
  v_outcome := CASE WHEN v_cancel THEN 'cancelled'
                    WHEN p_retryable AND v_task.attempt < v_task.max_attempts THEN 'retry_scheduled'
                    ELSE 'failed' END;
  UPDATE public.job_tasks
     SET status = CASE v_outcome WHEN 'retry_scheduled' THEN 'ready' ELSE v_outcome END,
         run_after = CASE WHEN v_outcome = 'retry_scheduled'
                          THEN now() + dcops_internal.retry_delay(attempt, retry_base_ms, retry_max_ms)
                          ELSE run_after END,
         error_code = left(p_error_code, 200), error_message = left(p_error_message, 4000),
         result = coalesce(p_result, result),
         finished_at = CASE WHEN v_outcome = 'retry_scheduled' THEN NULL ELSE now() END,
         lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL
   WHERE id = p_task_id;
  RETURN v_outcome;
END
$$;

-- The step waits for its device without using an attempt (a BMC not ready, a session cap):
-- back to 'ready' after p_seconds. Also how an agent hands a step back when draining
-- (p_seconds = 0). Returns 'snoozed', 'cancelled' (its job is being cancelled), or
-- 'stale_lease' / 'not_found'.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_snooze_step(
    p_task_id uuid, p_lease_id uuid, p_seconds int, p_reason text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_cancel boolean;
BEGIN
  SELECT j.cancel_requested_at IS NOT NULL INTO v_cancel
    FROM public.job_tasks t JOIN public.jobs j ON j.id = t.job_id
   WHERE t.id = p_task_id AND t.lease_id = p_lease_id AND t.status IN ('leased', 'running')
     FOR UPDATE OF t;
  IF NOT FOUND THEN RETURN dcops_internal.lease_mismatch(p_task_id); END IF;
  UPDATE public.job_tasks
     SET status = CASE WHEN v_cancel THEN 'cancelled' ELSE 'ready' END,
         attempt = CASE WHEN v_cancel THEN attempt ELSE greatest(attempt - 1, 0) END,
         run_after = now() + make_interval(secs => greatest(coalesce(p_seconds, 0), 0)),
         progress_message = left(p_reason, 1000),
         finished_at = CASE WHEN v_cancel THEN now() END,
         error_code = CASE WHEN v_cancel THEN 'cancelled' END,
         lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL
   WHERE id = p_task_id;
  RETURN CASE WHEN v_cancel THEN 'cancelled' ELSE 'snoozed' END;
END
$$;

-- The agent stopped a step because of a Cancel. Returns 'ok' / 'stale_lease' / 'not_found'.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_cancel_step(
    p_task_id uuid, p_lease_id uuid, p_message text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
BEGIN
  UPDATE public.job_tasks
     SET status = 'cancelled', finished_at = now(), error_code = 'cancelled',
         error_message = left(coalesce(p_message, 'cancelled'), 4000),
         lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL
   WHERE id = p_task_id AND lease_id = p_lease_id AND status IN ('leased', 'running');
  IF NOT FOUND THEN RETURN dcops_internal.lease_mismatch(p_task_id); END IF;
  RETURN 'ok';
END
$$;

-- Running steps whose job is being cancelled, so the dispatcher can tell their agents.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_cancel_requests(p_site text)
  RETURNS TABLE (task_id uuid, job_id uuid, lease_id uuid, lease_owner text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT t.id, t.job_id, t.lease_id, t.lease_owner
    FROM public.jobs j JOIN public.job_tasks t ON t.job_id = j.id
   WHERE j.site = p_site AND j.cancel_requested_at IS NOT NULL AND j.status = 'running'
     AND t.status IN ('leased', 'running')
$$;

-- Steps whose lease expired (the agent died or lost its stream) go back to 'ready' after a
-- backoff, or fail when out of attempts, or end 'cancelled' when their job is being
-- cancelled. The state and the expiry are checked in the same statement that changes them,
-- so a heartbeat that extends a lease concurrently wins cleanly.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_rescue_expired(p_site text, p_limit int DEFAULT 1000)
  RETURNS TABLE (task_id uuid, job_id uuid, new_status text, attempt int, lost_owner text)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH expired AS (
    SELECT t.id, t.lease_owner
      FROM public.job_tasks t
     WHERE t.site = p_site AND t.status IN ('leased', 'running') AND t.lease_expires_at < now()
     ORDER BY t.lease_expires_at
     LIMIT greatest(p_limit, 1)
       FOR UPDATE SKIP LOCKED
  ), rescued AS (
    UPDATE public.job_tasks t
       SET status = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
                         WHEN t.attempt >= t.max_attempts THEN 'failed'
                         ELSE 'ready' END,
           run_after = now() + dcops_internal.retry_delay(t.attempt, t.retry_base_ms, t.retry_max_ms),
           error_code = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
                             ELSE 'lease_expired' END,
           error_message = format('lease of agent %s expired (attempt %s of %s)',
                                  t.lease_owner, t.attempt, t.max_attempts),
           finished_at = CASE WHEN j.cancel_requested_at IS NOT NULL OR t.attempt >= t.max_attempts
                              THEN now() END,
           lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL
      FROM expired e, public.jobs j
     WHERE t.id = e.id AND j.id = t.job_id
       AND t.status IN ('leased', 'running') AND t.lease_expires_at < now()
    RETURNING t.id, t.job_id, t.status, t.attempt, e.lease_owner, t.step_key, j.traceparent
  ), logged AS (
    INSERT INTO public.job_events (job_id, task_id, level, message, data, source, trace_id)
    SELECT r.job_id, r.id, CASE r.status WHEN 'ready' THEN 'warn' ELSE 'error' END,
           format('step %s: lease of agent %s expired; %s', r.step_key, r.lease_owner,
                  CASE r.status WHEN 'ready' THEN 'will retry' ELSE r.status END),
           jsonb_build_object('attempt', r.attempt, 'status', r.status),
           'dispatcher', split_part(r.traceparent, '-', 2)
      FROM rescued r
    RETURNING 1
  )
  SELECT r.id, r.job_id, r.status, r.attempt, r.lease_owner FROM rescued r;
END
$$;

-- Appends events in one batch:
--   [{"job_id": "...", "task_id": "...", "level": "info", "message": "...", "data": {...},
--     "ts": "...", "source": "agent-1", "trace_id": "..."}, ...]
-- Events of jobs that no longer exist (pruned) are dropped. Returns the number stored.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_append_events(p_events jsonb)
  RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_n int;
BEGIN
  IF p_events IS NULL OR jsonb_typeof(p_events) <> 'array' THEN
    RAISE EXCEPTION 'events: must be a JSON array' USING ERRCODE = '22023';
  END IF;
  IF jsonb_array_length(p_events) > 10000 THEN
    RAISE EXCEPTION 'events: % in one batch, at most 10000', jsonb_array_length(p_events)
      USING ERRCODE = '22023';
  END IF;
  INSERT INTO public.job_events (job_id, task_id, ts, level, message, data, source, trace_id)
  SELECT e.job_id, e.task_id, coalesce(e.ts, now()),
         CASE WHEN e.level IN ('debug', 'info', 'warn', 'error') THEN e.level ELSE 'info' END,
         left(coalesce(nullif(e.message, ''), '(no message)'), 4000), e.data, e.source, e.trace_id
    FROM jsonb_to_recordset(p_events)
         AS e(job_id uuid, task_id uuid, ts timestamptz, level text, message text, data jsonb,
              source text, trace_id text)
   WHERE EXISTS (SELECT 1 FROM public.jobs j WHERE j.id = e.job_id)
     AND (e.task_id IS NULL OR EXISTS (SELECT 1 FROM public.job_tasks t WHERE t.id = e.task_id));
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END
$$;

-- Cancels a job on behalf of an operator using the dispatcher's own console or CLI.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_cancel_job(p_job_id uuid, p_actor text)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
BEGIN
  RETURN dcops_internal.cancel_job(p_job_id, NULL, 'dispatcher:' || left(coalesce(p_actor, '?'), 100));
END
$$;

-- Creates a job on behalf of an operator using the dispatcher's console or CLI (the site's
-- dispatcher authenticates them). Same validation and answers as create_job.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_create_job(
    p_site text, p_job_type text, p_target_scope jsonb, p_params jsonb DEFAULT '{}',
    p_idempotency_key text DEFAULT NULL, p_schedule_at timestamptz DEFAULT NULL,
    p_priority int DEFAULT 0, p_actor text DEFAULT NULL)
  RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
BEGIN
  IF p_target_scope IS NOT NULL AND jsonb_typeof(p_target_scope) = 'object'
     AND NOT p_target_scope ? 'site' THEN
    p_target_scope := p_target_scope || jsonb_build_object('site', p_site);
  END IF;
  RETURN dcops_internal.insert_job(p_job_type, p_target_scope, coalesce(p_params, '{}'),
                                   p_idempotency_key, p_schedule_at, p_priority, NULL,
                                   'dispatcher:' || left(coalesce(p_actor, '?'), 100),
                                   'dispatcher', NULL);
END
$$;

-- Fires due schedules of a site: one job each, unless the schedule's previous job is still
-- unfinished (runs never pile up). Missed runs are not caught up. Returns the new job ids.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_fire_due_schedules(p_site text)
  RETURNS TABLE (schedule_id uuid, job_id uuid)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
DECLARE
  v_s public.schedules%ROWTYPE;
  v_job uuid;
BEGIN
  FOR v_s IN SELECT * FROM public.schedules s
              WHERE s.site = p_site AND s.enabled AND s.next_run_at <= now()
              ORDER BY s.next_run_at
                FOR UPDATE SKIP LOCKED LOOP
    v_job := NULL;
    IF v_s.last_job_id IS NULL OR NOT EXISTS (
         SELECT 1 FROM public.jobs j WHERE j.id = v_s.last_job_id
            AND NOT dcops_internal.is_terminal(j.status)) THEN
      BEGIN
        v_job := dcops_internal.insert_job(
          v_s.job_type, v_s.target_scope || jsonb_build_object('site', v_s.site), v_s.params,
          NULL, NULL, 0, v_s.created_by, 'schedule', 'schedule', v_s.id);
      EXCEPTION WHEN invalid_parameter_value THEN
        -- A schedule whose target vanished: disable it and say why, rather than fail forever.
        UPDATE public.schedules SET enabled = false WHERE id = v_s.id;
        INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
        VALUES ('dispatcher', 'schedule.disable', 'schedule', v_s.id::text,
                jsonb_build_object('reason', SQLERRM));
        CONTINUE;
      END;
    END IF;
    UPDATE public.schedules
       SET last_run_at = now(),
           last_job_id = coalesce(v_job, last_job_id),
           next_run_at = greatest(next_run_at + make_interval(secs => interval_seconds),
                                  now() + make_interval(secs => interval_seconds / 10))
     WHERE id = v_s.id;
    IF v_job IS NOT NULL THEN
      schedule_id := v_s.id;
      job_id := v_job;
      RETURN NEXT;
    END IF;
  END LOOP;
END
$$;

-- Agents, as the dispatcher sees them connect and go.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_register_agent(
    p_agent_id text, p_site text, p_kind text, p_version text, p_hostname text,
    p_capacity int, p_step_kinds text[])
  RETURNS void
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  INSERT INTO public.agents (id, site, kind, version, hostname, capacity, step_kinds, status,
                             running, connected_at, last_seen_at, disconnected_at)
  VALUES (p_agent_id, p_site, p_kind, coalesce(p_version, ''), coalesce(p_hostname, ''),
          p_capacity, coalesce(p_step_kinds, '{}'), 'online', 0, now(), now(), NULL)
  ON CONFLICT (id) DO UPDATE
    SET site = EXCLUDED.site, kind = EXCLUDED.kind, version = EXCLUDED.version,
        hostname = EXCLUDED.hostname, capacity = EXCLUDED.capacity,
        step_kinds = EXCLUDED.step_kinds, status = 'online', running = 0,
        connected_at = now(), last_seen_at = now(), disconnected_at = NULL
$$;

-- Heartbeats of many agents at once: [{"id": "...", "running": 3, "status": "online"}].
CREATE OR REPLACE FUNCTION public.dispatcher_v1_agents_seen(p_agents jsonb)
  RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_n int;
BEGIN
  UPDATE public.agents a
     SET last_seen_at = now(), running = coalesce(x.running, a.running),
         status = CASE WHEN x.status IN ('online', 'draining') THEN x.status ELSE a.status END
    FROM jsonb_to_recordset(p_agents) AS x(id text, running int, status text)
   WHERE a.id = x.id;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END
$$;

CREATE OR REPLACE FUNCTION public.dispatcher_v1_agent_disconnected(p_agent_id text)
  RETURNS void
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  UPDATE public.agents SET status = 'offline', running = 0, disconnected_at = now()
   WHERE id = p_agent_id
$$;

-- At dispatcher start: every agent of the site not in p_connected is offline.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_agents_reset(p_site text, p_connected text[])
  RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_n int;
BEGIN
  UPDATE public.agents SET status = 'offline', running = 0, disconnected_at = now()
   WHERE site = p_site AND status <> 'offline' AND NOT (id = ANY (coalesce(p_connected, '{}')));
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END
$$;

-- Device credentials: ciphertext in, ciphertext out. Only the dispatcher can open it.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_put_credential_set(
    p_name text, p_kind text, p_username text, p_ciphertext bytea, p_key_id text,
    p_description text DEFAULT '', p_actor text DEFAULT NULL)
  RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_id uuid;
BEGIN
  IF p_ciphertext IS NULL OR length(p_ciphertext) < 29 THEN
    RAISE EXCEPTION 'ciphertext: missing or too short to be AES-256-GCM output'
      USING ERRCODE = '22023';
  END IF;
  INSERT INTO public.credential_sets (name, kind, username, description, ciphertext, key_id)
  VALUES (p_name, p_kind, coalesce(p_username, ''), coalesce(p_description, ''), p_ciphertext, p_key_id)
  ON CONFLICT (name) DO UPDATE
    SET kind = EXCLUDED.kind, username = EXCLUDED.username,
        description = EXCLUDED.description, ciphertext = EXCLUDED.ciphertext,
        key_id = EXCLUDED.key_id
  RETURNING id INTO v_id;
  INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
  VALUES ('dispatcher:' || left(coalesce(p_actor, '?'), 100), 'credential_set.put',
          'credential_set', v_id::text,
          jsonb_build_object('name', p_name, 'kind', p_kind, 'username', p_username));
  RETURN v_id;
END
$$;

CREATE OR REPLACE FUNCTION public.dispatcher_v1_get_credential_set(p_id uuid)
  RETURNS TABLE (id uuid, name text, kind text, username text, ciphertext bytea, key_id text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT c.id, c.name, c.kind, c.username, c.ciphertext, c.key_id
    FROM public.credential_sets c WHERE c.id = p_id
$$;

-- Credential sets of one kind in the order discovery tries them.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_credential_sets_of_kind(p_kind text)
  RETURNS TABLE (id uuid, name text, username text, try_order int)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT c.id, c.name, c.username, c.try_order FROM public.credential_sets c
   WHERE c.kind = p_kind AND c.ciphertext IS NOT NULL
   ORDER BY c.try_order, c.name
$$;

-- Servers a scope names, for planning: the targets and how to reach them.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_resolve_servers(p_site text, p_scope jsonb)
  RETURNS TABLE (server_id uuid, bmc_address text, service_tag text, credential_set_id uuid,
                 tls_verify boolean, tls_pin_sha256 text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT s.id, s.bmc_address, s.service_tag, s.credential_set_id, s.tls_verify, s.tls_pin_sha256
    FROM public.servers s
   WHERE s.bmc_address IS NOT NULL
     AND ((p_scope ? 'server_ids' AND s.id IN (SELECT e::uuid FROM jsonb_array_elements_text(p_scope -> 'server_ids') e))
       OR (p_scope ? 'bmc_addresses' AND s.site = p_site
           AND s.bmc_address IN (SELECT jsonb_array_elements_text(p_scope -> 'bmc_addresses')))
       OR (p_scope -> 'all_servers' = 'true'::jsonb AND s.site = p_site))
   ORDER BY s.bmc_address
$$;

-- Queue depth by step status, for /metrics.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_queue_depth(p_site text)
  RETURNS TABLE (status text, steps bigint)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT t.status, count(*) FROM public.job_tasks t
   WHERE t.site = p_site AND t.status IN ('blocked', 'ready', 'leased', 'running')
   GROUP BY t.status
$$;

-- Reads for the dispatcher's console and CLI API.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_get_job(p_job_id uuid)
  RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT to_jsonb(j) || jsonb_build_object('steps', coalesce((
           SELECT jsonb_agg(jsonb_build_object(
                    'id', t.id, 'key', t.step_key, 'kind', t.step_kind, 'target', t.target,
                    'status', t.status, 'attempt', t.attempt, 'max_attempts', t.max_attempts,
                    'progress', t.progress, 'progress_message', t.progress_message,
                    'error_code', t.error_code, 'error_message', t.error_message,
                    'started_at', t.started_at, 'finished_at', t.finished_at) ORDER BY t.seq)
             FROM public.job_tasks t WHERE t.job_id = j.id), '[]'::jsonb))
    FROM public.jobs j WHERE j.id = p_job_id
$$;

CREATE OR REPLACE FUNCTION public.dispatcher_v1_list_jobs(p_site text, p_limit int DEFAULT 50,
                                                          p_status text DEFAULT NULL)
  RETURNS SETOF jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT jsonb_build_object('id', j.id, 'job_type', j.job_type, 'status', j.status,
                            'priority', j.priority, 'progress', j.progress,
                            'steps_total', j.steps_total, 'steps_finished', j.steps_finished,
                            'steps_failed', j.steps_failed, 'created_at', j.created_at,
                            'finished_at', j.finished_at,
                            'cancel_requested', j.cancel_requested_at IS NOT NULL)
    FROM public.jobs j
   WHERE j.site = p_site AND (p_status IS NULL OR j.status = p_status)
   ORDER BY j.created_at DESC
   LIMIT least(greatest(p_limit, 1), 1000)
$$;

CREATE OR REPLACE FUNCTION public.dispatcher_v1_job_events(p_job_id uuid, p_after_id bigint DEFAULT 0,
                                                           p_limit int DEFAULT 500)
  RETURNS SETOF jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT jsonb_build_object('id', e.id, 'task_id', e.task_id, 'ts', e.ts, 'level', e.level,
                            'message', e.message, 'data', e.data, 'source', e.source)
    FROM public.job_events e
   WHERE e.job_id = p_job_id AND e.id > coalesce(p_after_id, 0)
   ORDER BY e.id
   LIMIT least(greatest(p_limit, 1), 10000)
$$;

-- Retention: deletes finished jobs (with their steps and events) that finished more than
-- p_retention ago, at most p_batch per call, and agents offline for longer than that.
-- Unfinished jobs are never touched. Returns the number of jobs deleted.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_prune(p_retention interval, p_batch int DEFAULT 1000)
  RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_n int;
BEGIN
  IF p_retention IS NULL OR p_retention < interval '1 hour' THEN
    RAISE EXCEPTION 'retention: must be at least 1 hour' USING ERRCODE = '22023';
  END IF;
  DELETE FROM public.jobs
   WHERE id IN (SELECT j.id FROM public.jobs j
                 WHERE j.status IN ('succeeded', 'failed', 'cancelled')
                   AND j.finished_at < now() - p_retention
                 ORDER BY j.finished_at
                 LIMIT greatest(p_batch, 1));
  GET DIAGNOSTICS v_n = ROW_COUNT;
  DELETE FROM public.agents
   WHERE status = 'offline' AND disconnected_at < now() - p_retention;
  RETURN v_n;
END
$$;
