-- A job whose steps all succeeded ends in the UPDATE that counts its last step (issue 23).
--
-- Measured over 20,000 one-step jobs (25 per commit): finish_jobs took 20.7 ms per batch of
-- about 136 jobs, 0.15 ms a job and a third of complete_steps. Its verdict query read
-- job_tasks for every job twice (the failed finalizers, the steps an operator skipped), and
-- then wrote the job row a second time, though for a job with every step succeeded and no
-- cancel asked the verdict is already known from the counters: 'succeeded', no finalizer can
-- have failed (it would count in steps_failed), no step was skipped.
--
-- 1. on_steps_changed ends such jobs in its counters' UPDATE and writes their event, as
--    finish_jobs words it. Every other job whose last step ended (a failure, a cancel, a step
--    an operator skipped) still goes to finish_jobs. The end is announced on dcops_work by
--    jobs_ended_notify, as every job end is.
-- 2. finish_jobs looks for failed finalizers only in a job with a failed step, and no longer
--    sends `job_finished` itself: jobs_ended_notify sends the same payload for the same
--    update (PostgreSQL delivered the two as one).
--
-- Otherwise both are as 20261204000200_finalizers.sql left them.
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

  -- Account on the jobs; end here the jobs whose every step succeeded (1), and leave the
  -- verdict on any other job whose last step ended to finish_jobs.
  WITH counts AS (
    SELECT f.job_id, count(*) AS n,
           count(*) FILTER (WHERE f.status = 'succeeded') AS ok,
           count(*) FILTER (WHERE f.status = 'failed') AS bad
      FROM unnest(v_jobs, v_status) AS f(job_id, status) GROUP BY f.job_id
  ), judged AS (
    -- The row as it stands before the UPDATE (locked above, so nobody else moves it): the
    -- UPDATE's RETURNING sees only the new row, and must tell a job it ended from one that
    -- had ended before.
    SELECT c.*, (NOT dcops_internal.is_terminal(o.status) AND o.cancel_requested_at IS NULL
                 AND o.steps_failed + c.bad = 0
                 AND o.steps_succeeded + c.ok >= o.steps_total
                 AND o.steps_finished + c.n >= o.steps_total) AS all_succeeded
      FROM counts c JOIN public.jobs o ON o.id = c.job_id
     WHERE o.id = ANY (v_jobs)
  ), moved AS (
    UPDATE public.jobs j
       SET steps_finished  = j.steps_finished + c.n,
           steps_succeeded = j.steps_succeeded + c.ok,
           steps_failed    = j.steps_failed + c.bad,
           progress        = CASE WHEN j.steps_total > 0
                                  THEN least(100, ((j.steps_finished + c.n) * 100) / j.steps_total)
                                  ELSE 100 END,
           status          = CASE WHEN c.all_succeeded THEN 'succeeded' ELSE j.status END,
           finished_at     = CASE WHEN c.all_succeeded THEN now() ELSE j.finished_at END,
           pause           = CASE WHEN c.all_succeeded THEN NULL ELSE j.pause END,
           error_code      = CASE WHEN c.all_succeeded THEN NULL ELSE j.error_code END,
           error_message   = CASE WHEN c.all_succeeded THEN NULL ELSE j.error_message END
      FROM judged c
     WHERE j.id = c.job_id
       AND j.id = ANY (v_jobs)  -- lets the plan look rows up by key whatever the statistics say
    RETURNING j.id, j.status, j.steps_finished, j.steps_succeeded, j.steps_total, j.traceparent,
              c.all_succeeded
  ), logged AS (
    INSERT INTO public.job_events (job_id, level, message, data, source, trace_id)
    SELECT m.id, 'info',
           format('job succeeded: %s of %s step(s) succeeded', m.steps_succeeded, m.steps_total),
           jsonb_build_object('status', 'succeeded', 'succeeded', m.steps_succeeded,
                              'failed', 0, 'total', m.steps_total),
           'control-plane', split_part(m.traceparent, '-', 2)
      FROM moved m
     WHERE m.all_succeeded
  )
  SELECT array_agg(m.id) INTO v_done
    FROM moved m
   WHERE NOT m.all_succeeded AND NOT dcops_internal.is_terminal(m.status)
     AND m.steps_finished >= m.steps_total;
  IF v_done IS NOT NULL THEN
    PERFORM dcops_internal.finish_jobs(v_done);
  END IF;
  RETURN NULL;
END
$$;

-- 2. A job's verdict, as in 20261204000200_finalizers.sql but for the finalizer lookup (only
-- in a job with a failed step: a failed finalizer is one) and the notify (jobs_ended_notify's).
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
                          WHERE j.steps_failed > 0
                            AND t.job_id = j.id AND t.on_cancel = 'run' AND t.status = 'failed') f ON true
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
  )
  INSERT INTO public.job_events (job_id, level, message, data, source, trace_id)
  SELECT e.id, CASE e.status WHEN 'succeeded' THEN 'info' WHEN 'cancelled' THEN 'warn' ELSE 'error' END,
         format('job %s: %s of %s step(s) succeeded%s', e.status, e.steps_succeeded, e.steps_total,
                CASE WHEN e.finalizer IS NOT NULL THEN format('; finalizer %s failed', e.finalizer) ELSE '' END),
         jsonb_build_object('status', e.status, 'succeeded', e.steps_succeeded,
                            'failed', e.steps_failed, 'total', e.steps_total),
         'control-plane', split_part(e.traceparent, '-', 2)
    FROM ended e
$$;
REVOKE ALL ON FUNCTION dcops_internal.finish_jobs(uuid[]) FROM PUBLIC;
