-- Steps that run whatever happened before them, and steps a cancel lets finish (issue 18):
-- what a rolling update needs to put a cluster back as it found it on success, on failure
-- and on cancel.
--
-- A dependency has a kind (job_task_deps.kind):
--   succeeded  (as before) the step runs once this one succeeded; any other end skips it
--   finished   the step runs once this one ended, however it ended
-- A step says what a cancel of its job does to it (job_tasks.on_cancel):
--   stop       (as before) a waiting step is cancelled, a running one is told to stop
--   finish     a step that has not started anything (no checkpoint) is cancelled, waiting or
--              running; once it has (firmware half-flashed, an ESXi image half-installed) it
--              is not interrupted: it ends on its own, its retries (after a lost agent, a
--              transient failure, a hand-back) included, and only then does the job end
--   run        a finalizer: never cancelled; it runs when what it waits on has ended, and
--              the job ends after it (restoring the cluster's settings, settling a host)
-- A job being cancelled ends 'cancelled' once its last finalizer has ended.

-- 1. The columns.
ALTER TABLE public.job_task_deps ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'succeeded';
ALTER TABLE public.job_task_deps DROP CONSTRAINT IF EXISTS job_task_deps_kind_check;
ALTER TABLE public.job_task_deps ADD CONSTRAINT job_task_deps_kind_check CHECK (kind IN ('succeeded', 'finished'));
ALTER TABLE public.job_tasks ADD COLUMN IF NOT EXISTS on_cancel text NOT NULL DEFAULT 'stop';
ALTER TABLE public.job_tasks DROP CONSTRAINT IF EXISTS job_tasks_on_cancel_check;
ALTER TABLE public.job_tasks ADD CONSTRAINT job_tasks_on_cancel_check CHECK (on_cancel IN ('stop', 'finish', 'run'));

-- 2. Releasing and skipping by the kind of each dependency.
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

  -- Release dependents whose dependencies are all met (most steps have none: the check keeps
  -- the two UPDATEs, and their own trigger calls, off that path).
  IF EXISTS (SELECT 1 FROM public.job_task_deps d WHERE d.depends_on = ANY (v_ids)) THEN
  WITH released AS (
    UPDATE public.job_tasks c
       SET status = 'ready', run_after = now()
     WHERE c.status = 'blocked'
       AND c.id IN (SELECT d.task_id
                      FROM unnest(v_ids, v_status) AS f(id, status)
                      JOIN public.job_task_deps d ON d.depends_on = f.id
                     WHERE f.status = 'succeeded' OR d.kind = 'finished')
       AND NOT EXISTS (SELECT 1 FROM public.job_task_deps d2
                         JOIN public.job_tasks p ON p.id = d2.depends_on
                        WHERE d2.task_id = c.id
                          AND CASE d2.kind WHEN 'finished' THEN p.status NOT IN ('succeeded', 'failed', 'cancelled', 'skipped')
                                           ELSE p.status <> 'succeeded' END)
    RETURNING c.site, c.job_id)
  SELECT count(*) AS n, min(site) AS site, min(job_id::text) AS job_id INTO v_job FROM released;
  IF v_job.n > 0 THEN
    PERFORM pg_notify('dcops_work', json_build_object('site', v_job.site, 'job_id', v_job.job_id,
                                                      'event', 'steps_ready')::text);
  END IF;

  -- Skip dependents that needed a success they did not get (fires this trigger again).
  UPDATE public.job_tasks c
     SET status = 'skipped', finished_at = now(),
         error_code = 'dependency_' || f.status,
         error_message = format('skipped: step %s %s', f.step_key, f.status)
    FROM unnest(v_ids, v_status, v_keys) AS f(id, status, step_key)
    JOIN public.job_task_deps d ON d.depends_on = f.id
   WHERE c.id = d.task_id AND c.status IN ('blocked', 'ready') AND f.status <> 'succeeded'
     AND d.kind = 'succeeded';
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

-- Whether a cancel of its job reaches a step: a 'stop' step's always, a 'finish' step's until
-- it has started something (its first checkpoint), a finalizer's never.
CREATE OR REPLACE FUNCTION dcops_internal.cancel_reaches(p_cancel_requested_at timestamptz, p_on_cancel text,
                                                         p_checkpoint jsonb)
  RETURNS boolean
  LANGUAGE sql IMMUTABLE
AS $$
  SELECT p_cancel_requested_at IS NOT NULL
         AND (p_on_cancel = 'stop' OR (p_on_cancel = 'finish' AND p_checkpoint IS NULL))
$$;

-- 3. Cancelling leaves finalizers waiting and running steps that finish running; the job ends
-- when the last of them has.
CREATE OR REPLACE FUNCTION dcops_internal.cancel_job(p_job_id uuid, p_actor uuid, p_actor_role text)
  RETURNS text
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_job public.jobs%ROWTYPE;
  v_active int;
BEGIN
  SELECT * INTO v_job FROM public.jobs WHERE id = p_job_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'job_id: no job with id %', p_job_id USING ERRCODE = 'P0002';
  END IF;
  IF dcops_internal.is_terminal(v_job.status) THEN
    RETURN v_job.status;
  END IF;
  IF v_job.cancel_requested_at IS NULL THEN
    UPDATE public.jobs SET cancel_requested_at = now(), cancel_requested_by = p_actor,
                           status = CASE WHEN status = 'paused' THEN 'running' ELSE status END, pause = NULL
     WHERE id = p_job_id;
    INSERT INTO public.audit_log (actor, actor_role, action, object_type, object_id, details)
    VALUES (p_actor, p_actor_role, 'job.cancel', 'job', p_job_id::text,
            jsonb_build_object('status_before', v_job.status));
    INSERT INTO public.job_events (job_id, level, message, source, trace_id)
    VALUES (p_job_id, 'warn', 'cancellation requested', 'control-plane',
            split_part(v_job.traceparent, '-', 2));
  END IF;
  -- Steps not handed to an agent (or paused) stop here; their trigger accounts for them (and
  -- releases the finalizers that waited on them).
  UPDATE public.job_tasks
     SET status = 'cancelled', finished_at = now(), error_code = 'cancelled',
         error_message = CASE status WHEN 'paused' THEN 'job cancelled while this step was paused'
                                     ELSE 'job cancelled before this step started' END
   WHERE job_id = p_job_id
     AND (status = 'paused'
          OR (status IN ('blocked', 'ready') AND dcops_internal.cancel_reaches(now(), on_cancel, checkpoint)));
  SELECT count(*) INTO v_active FROM public.job_tasks
   WHERE job_id = p_job_id AND status IN ('blocked', 'ready', 'leased', 'running');
  IF v_active = 0 THEN
    UPDATE public.jobs SET status = 'cancelled', finished_at = now()
     WHERE id = p_job_id AND NOT dcops_internal.is_terminal(status);
    PERFORM pg_notify('dcops_work', json_build_object('site', v_job.site, 'job_id', p_job_id,
                                                      'event', 'job_finished')::text);
    -- The steps it ended may have ended the job already (failed, when a finalizer had).
    SELECT status INTO v_job.status FROM public.jobs WHERE id = p_job_id;
    RETURN v_job.status;
  END IF;
  PERFORM pg_notify('dcops_work', json_build_object('site', v_job.site, 'job_id', p_job_id,
                                                    'event', 'cancel')::text);
  RETURN 'cancel_requested';
END
$$;



-- 4. Heartbeats forward a cancel only to steps it reaches.
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
    RETURNING t.lease_id, t.id, t.job_id, t.on_cancel, t.checkpoint
  )
  SELECT l.id, e.id, e.id IS NOT NULL,
         coalesce(dcops_internal.cancel_reaches(j.cancel_requested_at, e.on_cancel, e.checkpoint), false)
    FROM unnest(p_lease_ids) AS l(id)
    LEFT JOIN extended e ON e.lease_id = l.id
    LEFT JOIN public.jobs j ON j.id = e.job_id;
END
$$;

CREATE OR REPLACE FUNCTION public.dispatcher_v1_cancel_requests(p_site text)
  RETURNS TABLE (task_id uuid, job_id uuid, lease_id uuid, lease_owner text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT t.id, t.job_id, t.lease_id, t.lease_owner
    FROM public.jobs j JOIN public.job_tasks t ON t.job_id = j.id
   WHERE j.site = p_site AND j.cancel_requested_at IS NOT NULL AND j.status = 'running'
     AND t.status IN ('leased', 'running') AND dcops_internal.cancel_reaches(j.cancel_requested_at, t.on_cancel, t.checkpoint)
$$;

-- 5. A step handed back, a lease that expired, a failure: cancelled only where a cancel
-- reaches; a finishing step or a finalizer goes on (retries and all).
CREATE OR REPLACE FUNCTION public.dispatcher_v1_snooze_step(
    p_task_id uuid, p_lease_id uuid, p_seconds int, p_reason text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_cancel boolean;
BEGIN
  -- The job locked too: a cancel committing meanwhile is seen here, never a step handed back
  -- to 'ready' after it.
  SELECT dcops_internal.cancel_reaches(j.cancel_requested_at, t.on_cancel, t.checkpoint) INTO v_cancel
    FROM public.job_tasks t JOIN public.jobs j ON j.id = t.job_id
   WHERE t.id = p_task_id AND t.lease_id = p_lease_id AND t.status IN ('leased', 'running')
     FOR UPDATE OF t, j;
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
       SET status = CASE WHEN dcops_internal.cancel_reaches(j.cancel_requested_at, t.on_cancel, t.checkpoint) THEN 'cancelled'
                         WHEN t.attempt < t.max_attempts THEN 'ready'
                         -- out of attempts: a step that pauses its job on any failure pauses it
                         -- on this one too (its agent kept dying: an operator's question)
                         WHEN j.cancel_requested_at IS NULL AND dcops_internal.pauses_job(t.params, 'lease_expired') THEN 'paused'
                         ELSE 'failed' END,
           run_after = now() + dcops_internal.retry_delay(t.attempt, t.retry_base_ms, t.retry_max_ms),
           error_code = CASE WHEN dcops_internal.cancel_reaches(j.cancel_requested_at, t.on_cancel, t.checkpoint) THEN 'cancelled'
                             ELSE 'lease_expired' END,
           error_message = format('lease of agent %s expired (attempt %s of %s)',
                                  t.lease_owner, t.attempt, t.max_attempts),
           finished_at = CASE WHEN dcops_internal.cancel_reaches(j.cancel_requested_at, t.on_cancel, t.checkpoint) THEN now()
                              WHEN t.attempt < t.max_attempts THEN NULL
                              WHEN j.cancel_requested_at IS NULL AND dcops_internal.pauses_job(t.params, 'lease_expired') THEN NULL
                              ELSE now() END,
           lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL
      FROM expired e, public.jobs j
     WHERE t.id = e.id AND j.id = t.job_id
       AND t.status IN ('leased', 'running') AND t.lease_expires_at < now()
    RETURNING t.id, t.job_id, t.status, t.attempt, e.lease_owner, t.step_key, j.traceparent, j.site, t AS task
  ), paused AS (
    UPDATE public.jobs j
       SET status = 'paused', pause = dcops_internal.pause_of(r.task), updated_at = now()
      FROM rescued r
     WHERE r.status = 'paused' AND j.id = r.job_id AND j.status = 'running'
    RETURNING j.id
  ), logged AS (
    INSERT INTO public.job_events (job_id, task_id, level, message, data, source, trace_id)
    SELECT r.job_id, r.id, CASE r.status WHEN 'ready' THEN 'warn' WHEN 'paused' THEN 'warn' ELSE 'error' END,
           CASE WHEN r.status = 'paused'
                THEN format('job paused at step %s: lease of agent %s expired with no attempt left; resume it with retry or skip_host, or cancel it',
                            r.step_key, r.lease_owner)
                ELSE format('step %s: lease of agent %s expired; %s', r.step_key, r.lease_owner,
                            CASE r.status WHEN 'ready' THEN 'will retry' ELSE r.status END) END,
           jsonb_build_object('attempt', r.attempt, 'status', r.status) ||
             CASE WHEN r.status = 'paused' THEN jsonb_build_object('paused', true, 'step', r.step_key, 'error_code', 'lease_expired')
                  ELSE '{}'::jsonb END,
           'dispatcher', split_part(r.traceparent, '-', 2)
      FROM rescued r
    RETURNING 1
  ), told AS (
    SELECT count(pg_notify('dcops_work', json_build_object('site', r.site, 'job_id', r.job_id, 'event', 'job_paused')::text)) AS n
      FROM rescued r WHERE r.status = 'paused'
  )
  SELECT r.id, r.job_id, r.status, r.attempt, r.lease_owner FROM rescued r CROSS JOIN told;
END
$$;

-- What jobs.pause says of a paused step: the step, its host, its error and the host's latest
-- safety report in this job (so the pause shows its blockers).
CREATE OR REPLACE FUNCTION dcops_internal.pause_of(p_task public.job_tasks)
  RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, public
AS $$
  SELECT jsonb_build_object('step', p_task.step_key, 'task_id', p_task.id, 'kind', p_task.step_kind,
                            'target', p_task.target, 'host', p_task.params -> '_rolling' -> 'host',
                            'error_code', p_task.error_code, 'error_message', p_task.error_message,
                            'safety_report', (SELECT t.result FROM public.job_tasks t
                                               WHERE t.job_id = p_task.job_id AND t.target = p_task.target
                                                 AND t.step_kind = 'cluster.safety_check' AND t.status = 'succeeded'
                                               ORDER BY t.finished_at DESC NULLS LAST LIMIT 1),
                            'paused_at', now())
$$;

-- As in 20261204000100_rolling_update.sql, with the cancel reaching 'stop' steps only; a step
-- the cancel does not reach never pauses a job being cancelled (it fails instead).
CREATE OR REPLACE FUNCTION public.dispatcher_v1_fail_step(
    p_task_id uuid, p_lease_id uuid, p_error_code text, p_error_message text,
    p_retryable boolean DEFAULT false, p_result jsonb DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_task public.job_tasks%ROWTYPE;
  v_job public.jobs%ROWTYPE;
  v_outcome text;
  v_report jsonb;
BEGIN
  SELECT t.* INTO v_task FROM public.job_tasks t
   WHERE t.id = p_task_id AND t.lease_id = p_lease_id AND t.status IN ('leased', 'running')
     FOR UPDATE;
  IF NOT FOUND THEN RETURN dcops_internal.lease_mismatch(p_task_id); END IF;
  -- Locked: a cancel committing meanwhile must be seen here, or the job could pause while
  -- being cancelled, and stay so.
  SELECT * INTO v_job FROM public.jobs WHERE id = v_task.job_id FOR UPDATE;
  v_outcome := CASE WHEN dcops_internal.cancel_reaches(v_job.cancel_requested_at, v_task.on_cancel, v_task.checkpoint) THEN 'cancelled'
                    WHEN p_retryable AND v_task.attempt < v_task.max_attempts THEN 'retry_scheduled'
                    WHEN v_job.cancel_requested_at IS NULL AND dcops_internal.pauses_job(v_task.params, p_error_code)
                      THEN 'paused'
                    ELSE 'failed' END;
  UPDATE public.job_tasks
     SET status = CASE v_outcome WHEN 'retry_scheduled' THEN 'ready' ELSE v_outcome END,
         run_after = CASE WHEN v_outcome = 'retry_scheduled'
                          THEN now() + dcops_internal.retry_delay(attempt, retry_base_ms, retry_max_ms)
                          ELSE run_after END,
         error_code = left(p_error_code, 200), error_message = left(p_error_message, 4000),
         result = coalesce(p_result, result),
         finished_at = CASE WHEN v_outcome IN ('retry_scheduled', 'paused') THEN NULL ELSE now() END,
         lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL
   WHERE id = p_task_id
  RETURNING * INTO v_task;
  IF v_outcome = 'paused' THEN
    -- The first pause is the job's; another lane pausing meanwhile waits its turn (resume_job
    -- shows it next).
    v_report := dcops_internal.pause_of(v_task);
    UPDATE public.jobs SET status = 'paused', pause = v_report, updated_at = now()
     WHERE id = v_task.job_id AND status = 'running';
    v_report := v_report -> 'safety_report';
    INSERT INTO public.job_events (job_id, task_id, level, message, data, source, trace_id)
    VALUES (v_task.job_id, v_task.id, 'warn',
            format('job paused at step %s: %s; resume it with retry, evacuate or skip_host, or cancel it',
                   v_task.step_key, left(p_error_message, 400)),
            jsonb_build_object('paused', true, 'step', v_task.step_key, 'error_code', p_error_code,
                               -- a check on a host judges that host only: its one verdict
                               'blockers', coalesce(v_report #> '{verdicts,0,blockers}', '[]'::jsonb),
                               'capacity_problems', coalesce(v_report #> '{verdicts,0,capacity_problems}', '[]'::jsonb)),
            'control-plane', split_part(v_job.traceparent, '-', 2));
    PERFORM pg_notify('dcops_work', json_build_object('site', v_job.site, 'job_id', v_job.id,
                                                      'event', 'job_paused')::text);
  END IF;
  RETURN v_outcome;
END
$$;

-- An agent that stops a step no cancel reached (it was draining and the step outlived its
-- grace) hands it back: a finishing step or a finalizer runs again, from its checkpoint,
-- without using an attempt. Otherwise as in 20261127000700_dispatcher_api_v1.sql.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_cancel_step(
    p_task_id uuid, p_lease_id uuid, p_message text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_task public.job_tasks%ROWTYPE;
  v_job public.jobs%ROWTYPE;
BEGIN
  SELECT t.* INTO v_task FROM public.job_tasks t
   WHERE t.id = p_task_id AND t.lease_id = p_lease_id AND t.status IN ('leased', 'running')
     FOR UPDATE;
  IF NOT FOUND THEN RETURN dcops_internal.lease_mismatch(p_task_id); END IF;
  SELECT * INTO v_job FROM public.jobs WHERE id = v_task.job_id FOR UPDATE;  -- as fail_step
  IF v_task.on_cancel <> 'stop' AND NOT dcops_internal.cancel_reaches(v_job.cancel_requested_at, v_task.on_cancel, v_task.checkpoint) THEN
    UPDATE public.job_tasks
       SET status = 'ready', attempt = greatest(attempt - 1, 0), run_after = now(),
           progress_message = left(coalesce(p_message, 'handed back'), 1000),
           lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL
     WHERE id = p_task_id;
    INSERT INTO public.job_events (job_id, task_id, level, message, data, source, trace_id)
    VALUES (v_task.job_id, v_task.id, 'warn',
            format('step %s: its agent stopped it (%s); it must end, so it runs again', v_task.step_key,
                   left(coalesce(p_message, 'no reason given'), 200)),
            jsonb_build_object('on_cancel', v_task.on_cancel), 'dispatcher', split_part(v_job.traceparent, '-', 2));
    RETURN 'ok';
  END IF;
  UPDATE public.job_tasks
     SET status = 'cancelled', finished_at = now(), error_code = 'cancelled',
         error_message = left(coalesce(p_message, 'cancelled'), 4000),
         lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL
   WHERE id = p_task_id;
  RETURN 'ok';
END
$$;

-- A job's verdict: a finalizer that failed (the cluster's settings not restored, a host not
-- settled), or a step the cancel let finish that failed, fails the job, cancelled or not:
-- that is what its operator must hear. Otherwise as
-- in 20261204000100_rolling_update.sql.
CREATE OR REPLACE FUNCTION dcops_internal.finish_jobs(p_job_ids uuid[]) RETURNS void
  LANGUAGE sql
  SET search_path = pg_catalog, public
AS $$
  WITH verdict AS (
    SELECT j.id, f.keys AS finalizer, CASE
             WHEN f.keys IS NOT NULL THEN 'failed'
             -- a step the cancel let finish failed: the cancel does not hide it
             WHEN j.cancel_requested_at IS NOT NULL AND j.steps_failed > 0
                  AND EXISTS (SELECT 1 FROM public.job_tasks t
                               WHERE t.job_id = j.id AND t.on_cancel = 'finish' AND t.status = 'failed') THEN 'failed'
             WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
             WHEN j.steps_failed > 0 THEN 'failed'
             WHEN j.steps_succeeded + (SELECT count(*) FROM public.job_tasks t
                                        WHERE t.job_id = j.id AND t.status = 'skipped'
                                          AND t.error_code = 'operator_skipped') < j.steps_total THEN 'cancelled'
             ELSE 'succeeded' END AS final
      FROM public.jobs j
      -- every failed finalizer, named: none is left unsaid
      LEFT JOIN LATERAL (SELECT string_agg(t.step_key, ', ' ORDER BY t.seq) AS keys FROM public.job_tasks t
                          WHERE t.job_id = j.id AND t.on_cancel = 'run' AND t.status = 'failed') f ON true
     WHERE j.id = ANY (p_job_ids)
  ), ended AS (
    UPDATE public.jobs j
       SET status = v.final, finished_at = now(), pause = NULL,
           error_code = CASE WHEN v.finalizer IS NOT NULL THEN 'finalizer_failed'
                             WHEN v.final = 'failed' THEN 'steps_failed' END,
           error_message = CASE WHEN v.finalizer IS NOT NULL
                                THEN format('finalizer %s failed (%s of %s step(s) failed)', v.finalizer, j.steps_failed, j.steps_total)
                                WHEN v.final = 'failed'
                                THEN format('%s of %s step(s) failed', j.steps_failed, j.steps_total) END
      FROM verdict v
     WHERE j.id = v.id AND j.id = ANY (p_job_ids)
    RETURNING j.id, j.site, j.status, j.steps_succeeded, j.steps_failed, j.steps_total, j.traceparent, v.finalizer
  ), logged AS (
    INSERT INTO public.job_events (job_id, level, message, data, source, trace_id)
    SELECT e.id, CASE e.status WHEN 'succeeded' THEN 'info' WHEN 'cancelled' THEN 'warn' ELSE 'error' END,
           format('job %s: %s of %s step(s) succeeded%s', e.status, e.steps_succeeded, e.steps_total,
                  CASE WHEN e.finalizer IS NOT NULL THEN format('; finalizer %s failed', e.finalizer) ELSE '' END),
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

-- 6. Planning takes, per step, `after_finished` (keys of earlier steps it waits on however
-- they end, beside `depends_on`) and `on_cancel`; otherwise as in
-- 20261203001200_cluster_safety_check.sql.
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

-- 7. Skipping a host keeps its finalizer (the settle) with its exit, and a rewired dependency
-- keeps its kind; otherwise as in 20261204000100_rolling_update.sql.
CREATE OR REPLACE FUNCTION dcops_internal.resume_job(p_job_id uuid, p_resolution text,
                                                     p_actor uuid, p_actor_role text)
  RETURNS text
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_job public.jobs%ROWTYPE;
  v_task public.job_tasks%ROWTYPE;
  v_host text;
  v_skipped uuid[];
  v_status text;
  v_keeps_exit boolean;
BEGIN
  IF p_resolution IS NULL OR p_resolution NOT IN ('retry', 'evacuate', 'skip_host') THEN
    RAISE EXCEPTION 'resolution: must be one of retry, evacuate, skip_host, got %', coalesce(p_resolution, 'nothing')
      USING ERRCODE = '22023';
  END IF;
  SELECT * INTO v_job FROM public.jobs WHERE id = p_job_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'job_id: no job with id %', p_job_id USING ERRCODE = 'P0002';
  END IF;
  IF v_job.status <> 'paused' OR v_job.cancel_requested_at IS NOT NULL THEN
    RAISE EXCEPTION 'job_id: job % is %, not paused', p_job_id,
      CASE WHEN v_job.cancel_requested_at IS NOT NULL THEN 'being cancelled' ELSE v_job.status END
      USING ERRCODE = '22023';
  END IF;
  -- The step the job's pause names (what the operator read), else the first paused one.
  SELECT * INTO v_task FROM public.job_tasks
   WHERE job_id = p_job_id AND status = 'paused'
   ORDER BY (id::text = v_job.pause ->> 'task_id') DESC, seq LIMIT 1 FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'job_id: job % has no paused step', p_job_id USING ERRCODE = '22023';
  END IF;
  v_host := v_task.params -> '_rolling' ->> 'host_id';
  IF p_resolution = 'skip_host' AND v_host IS NULL THEN
    RAISE EXCEPTION 'resolution: step % belongs to no host of a rolling job; retry or cancel it', v_task.step_key
      USING ERRCODE = '22023';
  END IF;

  INSERT INTO public.audit_log (actor, actor_role, action, object_type, object_id, details)
  VALUES (p_actor, p_actor_role, 'job.resume', 'job', p_job_id::text,
          jsonb_build_object('resolution', p_resolution, 'step', v_task.step_key,
                             'error_code', v_task.error_code, 'host', v_task.params -> '_rolling' -> 'host'));
  UPDATE public.jobs SET status = 'running', pause = NULL, updated_at = now() WHERE id = p_job_id;

  IF p_resolution IN ('retry', 'evacuate') THEN
    IF p_resolution = 'evacuate' THEN
      -- Powered-off VMs move too: on the paused step and the rest of its host's steps.
      UPDATE public.job_tasks
         SET params = params || '{"evacuate_powered_off": true}'::jsonb
       WHERE job_id = p_job_id AND status IN ('paused', 'blocked')
         AND (id = v_task.id OR (v_host IS NOT NULL AND params -> '_rolling' ->> 'host_id' = v_host))
         AND step_kind IN ('cluster.safety_check', 'host.maintenance');
    END IF;
    -- A fresh start: the paused attempt's checkpoint names a vCenter task that has ended (a
    -- timed-out entry), which a retry would otherwise follow again instead of starting anew.
    UPDATE public.job_tasks
       SET status = 'ready', attempt = 0, run_after = now(), error_code = NULL, error_message = NULL,
           checkpoint = NULL
     WHERE id = v_task.id;
    INSERT INTO public.job_events (job_id, task_id, level, message, data, source, trace_id)
    VALUES (p_job_id, v_task.id, 'info',
            format('job resumed by %s: step %s runs again%s', p_actor_role, v_task.step_key,
                   CASE WHEN p_resolution = 'evacuate' THEN ', evacuating powered-off VMs' ELSE '' END),
            jsonb_build_object('resolution', p_resolution, 'step', v_task.step_key),
            'control-plane', split_part(v_job.traceparent, '-', 2));
  ELSE
    -- The host's exit (and its settle) still run when the paused entry had sent something to
    -- vCenter (a timeout: the host may have entered after all); they are no-ops for a host out
    -- of maintenance, and the next host waits for the exit. Otherwise the host stays as found.
    v_keeps_exit := v_task.step_kind = 'host.maintenance' AND v_task.checkpoint ->> 'phase' IS NOT NULL;
    SELECT array_agg(t.id) INTO v_skipped FROM (
      SELECT t.id FROM public.job_tasks t
       WHERE t.job_id = p_job_id AND t.params -> '_rolling' ->> 'host_id' = v_host
         AND t.status IN ('paused', 'blocked', 'ready')
         AND NOT (v_keeps_exit AND t.step_kind = 'host.maintenance' AND t.params ->> 'action' IN ('exit', 'settle'))
       ORDER BY t.id FOR UPDATE) t;
    -- Whoever waited on a skipped step now waits on what the skipped steps waited on outside
    -- themselves, so the cascade of the skip stops at the host.
    INSERT INTO public.job_task_deps (task_id, depends_on, kind)
    SELECT d.task_id, up.depends_on, min(d.kind)
      FROM public.job_task_deps d
      CROSS JOIN public.job_task_deps up
     WHERE d.depends_on = ANY (v_skipped) AND NOT d.task_id = ANY (v_skipped)
       AND up.task_id = ANY (v_skipped) AND NOT up.depends_on = ANY (v_skipped)
       AND up.depends_on <> d.task_id
     GROUP BY d.task_id, up.depends_on
    ON CONFLICT DO NOTHING;
    DELETE FROM public.job_task_deps d
     WHERE d.depends_on = ANY (v_skipped) AND NOT d.task_id = ANY (v_skipped);
    INSERT INTO public.job_events (job_id, task_id, level, message, data, source, trace_id)
    VALUES (p_job_id, v_task.id, 'warn',
            format('job resumed by %s: host %s skipped (%s step(s) not run); the job goes on with the next host',
                   p_actor_role, coalesce(v_task.params -> '_rolling' ->> 'host', v_host), cardinality(v_skipped)),
            jsonb_build_object('resolution', p_resolution, 'host_id', v_host, 'skipped_steps', cardinality(v_skipped)),
            'control-plane', split_part(v_job.traceparent, '-', 2));
    UPDATE public.job_tasks
       SET status = 'skipped', finished_at = now(), error_code = 'operator_skipped',
           error_message = format('skipped: an operator skipped this host at step %s', v_task.step_key)
     WHERE id = ANY (v_skipped) AND status IN ('paused', 'blocked', 'ready');
    -- Released now if all they wait on is met (the trigger releases only on an ending).
    UPDATE public.job_tasks c
       SET status = 'ready', run_after = now()
     WHERE c.job_id = p_job_id AND c.status = 'blocked'
       AND NOT EXISTS (SELECT 1 FROM public.job_task_deps d JOIN public.job_tasks p ON p.id = d.depends_on
                        WHERE d.task_id = c.id
                          AND CASE d.kind WHEN 'finished' THEN NOT dcops_internal.is_terminal(p.status)
                                          ELSE p.status <> 'succeeded' END);
  END IF;
  -- Another lane paused too (parallel hosts): the job stays paused, at that step now.
  SELECT * INTO v_task FROM public.job_tasks
   WHERE job_id = p_job_id AND status = 'paused' ORDER BY seq LIMIT 1;
  IF FOUND THEN
    UPDATE public.jobs SET status = 'paused', pause = dcops_internal.pause_of(v_task), updated_at = now()
     WHERE id = p_job_id AND status = 'running';
    INSERT INTO public.job_events (job_id, task_id, level, message, data, source, trace_id)
    VALUES (p_job_id, v_task.id, 'warn',
            format('job still paused, at step %s: %s; resume it with retry, evacuate or skip_host, or cancel it',
                   v_task.step_key, left(v_task.error_message, 400)),
            jsonb_build_object('paused', true, 'step', v_task.step_key, 'error_code', v_task.error_code),
            'control-plane', split_part(v_job.traceparent, '-', 2));
  END IF;
  PERFORM pg_notify('dcops_work', json_build_object('site', v_job.site, 'job_id', p_job_id,
                                                    'event', 'steps_ready')::text);
  SELECT status INTO v_status FROM public.jobs WHERE id = p_job_id;
  RETURN v_status;
END
$$;

-- 8. What a rolling update's finalizers need when they run (read at dispatch, not stored):
--   cluster.settings restore: {"before": the settings its apply step found, or null when
--     that step never got as far as reading them}
--   host.maintenance settle:  {"steps": [{key, kind, status, action, on_cancel, acted,
--     error_code, error_message}] of its host in this job, in order; "slot_held": whether the
--     host's cluster maintenance slot is this job's}
CREATE OR REPLACE FUNCTION public.dispatcher_v1_finalizer_context(p_task_id uuid)
  RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_task public.job_tasks%ROWTYPE;
BEGIN
  SELECT * INTO v_task FROM public.job_tasks WHERE id = p_task_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF v_task.step_kind = 'cluster.settings' THEN
    -- The apply step records what it found before it changes anything (its checkpoint,
    -- written ahead), and again in its result.
    RETURN jsonb_build_object('before', (
      SELECT coalesce(a.result -> 'before', a.checkpoint -> 'before')
        FROM public.job_tasks a
       WHERE a.job_id = v_task.job_id AND a.step_kind = 'cluster.settings' AND a.target = v_task.target
         AND a.params ->> 'action' = 'apply'
       ORDER BY a.seq LIMIT 1));
  END IF;
  RETURN jsonb_build_object(
    'steps', coalesce((
      SELECT jsonb_agg(jsonb_build_object('key', t.step_key, 'kind', t.step_kind, 'status', t.status,
                                          'action', t.params ->> 'action', 'on_cancel', t.on_cancel,
                                          'acted', t.checkpoint IS NOT NULL,
                                          'error_code', t.error_code, 'error_message', left(t.error_message, 400))
                       ORDER BY t.seq)
        FROM public.job_tasks t
       WHERE t.job_id = v_task.job_id AND t.id <> v_task.id
         AND t.params -> '_rolling' ->> 'host_id' = v_task.params -> '_rolling' ->> 'host_id'), '[]'::jsonb),
    -- Whether the host is in maintenance through this job (its cluster's slot is this job's):
    -- a host someone else put there since is not the settle's to take out.
    'slot_held', EXISTS (SELECT 1 FROM public.cluster_maintenance_slots s
                          WHERE s.host_id::text = v_task.params -> '_rolling' ->> 'host_id'
                            AND s.job_id = v_task.job_id));
END
$$;

-- 8b. A cluster's maintenance slots (20261203001300_esxi_host_jobs.sql) stay with the job whose
-- host is in maintenance: the settle judges by them. An entry never takes over the row of a
-- host in maintenance through another job (its agent then finds the host in maintenance: a
-- rolling entry refuses, a plain one says "already in" without taking it); a sync's view
-- frees only a slot whose job has ended (a running job's exit or settle frees its own, and a
-- sync's snapshot may predate the entry); an exit frees what the host held, unless it is
-- another job's entry still on its way.
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
  DELETE FROM public.cluster_maintenance_slots s
   USING public.vcenter_hosts h
   WHERE h.id = s.host_id AND s.cluster_id = v_host.cluster_id
     AND ((NOT s.entered AND h.maintenance_mode IS NOT TRUE
           AND NOT EXISTS (SELECT 1 FROM public.job_tasks t
                            WHERE t.id = s.task_id
                              AND (t.status IN ('ready', 'blocked', 'leased', 'running')
                                   OR t.error_code IN ('esxi.undo_failed', 'esxi.cancel_unconfirmed'))))
          OR (h.maintenance_mode IS FALSE AND h.last_seen_at > s.since
              AND NOT EXISTS (SELECT 1 FROM public.jobs j WHERE j.id = s.job_id AND NOT dcops_internal.is_terminal(j.status))));
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
    SELECT min(e.ts) INTO v_since FROM public.job_events e WHERE e.task_id = p_task_id AND e.message LIKE 'waiting: %';
    v_limit := CASE WHEN jsonb_typeof(v_task.params -> 'slot_wait_seconds') = 'number'
                    THEN (v_task.params ->> 'slot_wait_seconds')::int ELSE 7200 END;
    IF v_since IS NOT NULL AND now() - v_since > make_interval(secs => v_limit) THEN
      RETURN format('refused: waited more than %s s for the maintenance slot of cluster %s (%s is in maintenance through job %s)',
                    v_limit, v_host.cluster_name, v_holder.name, coalesce(v_holder.job_id::text, 'gone'));
    END IF;
    v_why := format('waiting: %s of cluster %s is in maintenance through job %s (%s host(s) of this cluster at a time)',
                    v_holder.name, v_host.cluster_name, coalesce(v_holder.job_id::text, 'gone'), v_allowed);
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
        since = CASE WHEN cluster_maintenance_slots.entered THEN cluster_maintenance_slots.since ELSE now() END
    WHERE NOT cluster_maintenance_slots.entered OR cluster_maintenance_slots.job_id IS NOT DISTINCT FROM EXCLUDED.job_id
       OR cluster_maintenance_slots.job_id IS NULL;
  RETURN NULL;
END
$$;

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
    ON CONFLICT (host_id) DO UPDATE SET entered = true, job_id = EXCLUDED.job_id, task_id = EXCLUDED.task_id
      WHERE NOT cluster_maintenance_slots.entered OR cluster_maintenance_slots.job_id IS NOT DISTINCT FROM EXCLUDED.job_id
         OR cluster_maintenance_slots.job_id IS NULL;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN CASE WHEN v_n > 0 THEN 'the host holds its cluster''s maintenance slot until it leaves maintenance'
                ELSE 'the host is in maintenance through another job, which keeps its slot' END;
  END IF;
  DELETE FROM public.cluster_maintenance_slots
   WHERE host_id = v_host_id AND (entered OR job_id IS NOT DISTINCT FROM v_task.job_id);
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN CASE WHEN v_n > 0 THEN 'the cluster''s maintenance slot is free again' ELSE '' END;
END
$$;

-- 9. The step that changes and restores a cluster's settings for a rolling update. Planned by
-- the dispatcher only (not a job of its own: disabled in the catalog).
INSERT INTO public.job_types (job_type, description, agent_kind, mutating, scope_kinds, params_schema, enabled,
                              max_attempts, retry_base_ms, retry_max_ms)
VALUES ('cluster.settings', 'Change a cluster''s HA admission control and DRS level for a job, and restore them',
        'esxi-worker', true, '{cluster_id}',
        '{"type":"object","additionalProperties":false,"required":["action"],"properties":{
          "action":{"type":"string","enum":["apply","restore"]},
          "ha_admission_control":{"type":"boolean"},
          "drs_behavior":{"type":"string","enum":["fullyAutomated","partiallyAutomated","manual"]}}}',
        false, 5, 5000, 120000)
ON CONFLICT (job_type) DO UPDATE
  SET description = EXCLUDED.description, agent_kind = EXCLUDED.agent_kind, mutating = EXCLUDED.mutating,
      scope_kinds = EXCLUDED.scope_kinds, params_schema = EXCLUDED.params_schema, enabled = false,
      max_attempts = EXCLUDED.max_attempts, retry_base_ms = EXCLUDED.retry_base_ms,
      retry_max_ms = EXCLUDED.retry_max_ms, updated_at = now();

-- 10. The rolling update's new settings: what it changes on the cluster for the job's length,
-- and how many hosts at a time.
UPDATE public.job_types t
   SET params_schema = jsonb_set(jsonb_set(jsonb_set(t.params_schema,
         '{properties,ha_admission_control}', '{"type":"string","enum":["keep","disable"]}'::jsonb),
         '{properties,drs_behavior}', '{"type":"string","enum":["keep","fullyAutomated"]}'::jsonb),
         '{properties,parallel_hosts}', '{"type":"integer","minimum":1,"maximum":8}'::jsonb),
       updated_at = now()
 WHERE t.job_type = 'cluster.rolling_update';

REVOKE ALL ON FUNCTION dcops_internal.cancel_reaches(timestamptz, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION dcops_internal.pause_of(public.job_tasks) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatcher_v1_finalizer_context(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_finalizer_context(uuid) TO dcops_dispatcher;
