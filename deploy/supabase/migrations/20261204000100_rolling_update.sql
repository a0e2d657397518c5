-- cluster.rolling_update (issue 18): a cluster updated host by host, and jobs that pause.
--
-- The dispatcher plans the whole job as one chain of steps across agents (per host: safety
-- check, optional SCP backup, enter maintenance, firmware and/or ESXi upgrade, reboot, verify,
-- exit maintenance; the next host's check waits for the previous host's exit). The steps are
-- the existing kinds, so each keeps its own catalog row, limits and checkpoints, and a crash
-- anywhere resumes from the last step that ended.
--
-- Pausing. A step may name, in its params, the failures that pause its job instead of failing
-- it (`_pause_on`: error codes, or "*" for any): blockers found on entry, a failed check. Once
-- its retries are spent such a failure leaves the step `paused` and its job `paused`, with the
-- reason in jobs.pause (the step, its host, the error and the host's last safety report) and
-- an event. Nothing else of the job runs: its later steps wait on the paused one. An operator
-- continues it with resume_job (UI, RLS: operators may, viewers may not) or `dcops job resume`
-- (dispatcher_v1_resume_job), choosing:
--   retry      the paused step runs again from the start, its attempts counted afresh
--   evacuate   as retry, with evacuate_powered_off set on that host's remaining steps
--   skip_host  that host's remaining steps are skipped (operator_skipped) and the next host's
--              steps wait only on what the skipped host waited on; its exit still runs when
--              the paused entry had sent something to vCenter (the host may have entered)
-- or cancels it (cancel_job ends a paused step too). Every resume is audited and logged.
-- A job whose only unfinished steps were skipped by an operator ends succeeded: it did what
-- it was told; the events say which hosts were skipped.

-- 1. Paused: a job status, a step status, and the reason.
ALTER TABLE public.jobs DROP CONSTRAINT IF EXISTS jobs_status_check;
ALTER TABLE public.jobs ADD CONSTRAINT jobs_status_check
  CHECK (status IN ('scheduled', 'pending', 'running', 'paused', 'succeeded', 'failed', 'cancelled'));
ALTER TABLE public.job_tasks DROP CONSTRAINT IF EXISTS job_tasks_status_check;
ALTER TABLE public.job_tasks ADD CONSTRAINT job_tasks_status_check
  CHECK (status IN ('blocked', 'ready', 'leased', 'running', 'paused',
                    'succeeded', 'failed', 'cancelled', 'skipped'));
ALTER TABLE public.jobs ADD COLUMN IF NOT EXISTS pause jsonb;

-- Whether a step's failure with this code pauses its job (the planner says, per step).
CREATE OR REPLACE FUNCTION dcops_internal.pauses_job(p_params jsonb, p_code text)
  RETURNS boolean
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, public
AS $$
  SELECT jsonb_typeof(p_params -> '_pause_on') = 'array'
     AND ((p_params -> '_pause_on') ? coalesce(p_code, '') OR (p_params -> '_pause_on') ? '*')
$$;

-- 2. A failure: cancelled (its job is being cancelled), a retry while attempts remain, a pause
-- where the step's params say so, else failed. Returns the outcome.
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
  v_outcome := CASE WHEN v_job.cancel_requested_at IS NOT NULL THEN 'cancelled'
                    WHEN p_retryable AND v_task.attempt < v_task.max_attempts THEN 'retry_scheduled'
                    WHEN dcops_internal.pauses_job(v_task.params, p_error_code) THEN 'paused'
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
   WHERE id = p_task_id;
  IF v_outcome = 'paused' THEN
    -- The host's latest safety report in this job, so the pause shows its blockers.
    SELECT t.result INTO v_report FROM public.job_tasks t
     WHERE t.job_id = v_task.job_id AND t.target = v_task.target
       AND t.step_kind = 'cluster.safety_check' AND t.status = 'succeeded'
     ORDER BY t.finished_at DESC NULLS LAST LIMIT 1;
    UPDATE public.jobs
       SET status = 'paused',
           pause = jsonb_build_object('step', v_task.step_key, 'task_id', v_task.id, 'kind', v_task.step_kind,
                                      'target', v_task.target, 'host', v_task.params -> '_rolling' -> 'host',
                                      'error_code', left(p_error_code, 200),
                                      'error_message', left(p_error_message, 4000),
                                      'safety_report', v_report, 'paused_at', now()),
           updated_at = now()
     WHERE id = v_task.job_id AND status = 'running';
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

-- 3. Cancelling ends a paused step as it ends a waiting one.
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
    UPDATE public.jobs SET cancel_requested_at = now(), cancel_requested_by = p_actor
     WHERE id = p_job_id;
    INSERT INTO public.audit_log (actor, actor_role, action, object_type, object_id, details)
    VALUES (p_actor, p_actor_role, 'job.cancel', 'job', p_job_id::text,
            jsonb_build_object('status_before', v_job.status));
    INSERT INTO public.job_events (job_id, level, message, source, trace_id)
    VALUES (p_job_id, 'warn', 'cancellation requested', 'control-plane',
            split_part(v_job.traceparent, '-', 2));
  END IF;
  -- Steps not handed to an agent (or paused) stop here; their trigger accounts for them.
  UPDATE public.job_tasks
     SET status = 'cancelled', finished_at = now(), error_code = 'cancelled',
         error_message = CASE status WHEN 'paused' THEN 'job cancelled while this step was paused'
                                     ELSE 'job cancelled before this step started' END
   WHERE job_id = p_job_id AND status IN ('blocked', 'ready', 'paused');
  SELECT count(*) INTO v_active FROM public.job_tasks
   WHERE job_id = p_job_id AND status IN ('leased', 'running');
  IF v_active = 0 THEN
    UPDATE public.jobs SET status = 'cancelled', finished_at = now()
     WHERE id = p_job_id AND NOT dcops_internal.is_terminal(status);
    PERFORM pg_notify('dcops_work', json_build_object('site', v_job.site, 'job_id', p_job_id,
                                                      'event', 'job_finished')::text);
    RETURN 'cancelled';
  END IF;
  PERFORM pg_notify('dcops_work', json_build_object('site', v_job.site, 'job_id', p_job_id,
                                                    'event', 'cancel')::text);
  RETURN 'cancel_requested';
END
$$;

-- 4. A job's verdict: steps an operator chose to skip count as done, not as missing.
CREATE OR REPLACE FUNCTION dcops_internal.finish_jobs(p_job_ids uuid[]) RETURNS void
  LANGUAGE sql
  SET search_path = pg_catalog, public
AS $$
  WITH verdict AS (
    SELECT j.id, CASE
             WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
             WHEN j.steps_failed > 0 THEN 'failed'
             WHEN j.steps_succeeded + (SELECT count(*) FROM public.job_tasks t
                                        WHERE t.job_id = j.id AND t.status = 'skipped'
                                          AND t.error_code = 'operator_skipped') < j.steps_total THEN 'cancelled'
             ELSE 'succeeded' END AS final
      FROM public.jobs j WHERE j.id = ANY (p_job_ids)
  ), ended AS (
    UPDATE public.jobs j
       SET status = v.final, finished_at = now(), pause = NULL,
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

-- 5. Resuming a paused job. Returns the job's status after ('running', or its final status
-- when skipping ended it). 22023 for a job that is not paused or a resolution not known.
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
  SELECT * INTO v_task FROM public.job_tasks
   WHERE job_id = p_job_id AND status = 'paused' ORDER BY seq LIMIT 1 FOR UPDATE;
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
    -- The host's exit still runs when the paused entry had sent something to vCenter (a
    -- timeout: the host may have entered after all); it is a no-op for a host out of
    -- maintenance, and the next host waits for it. Otherwise the host stays as it was found.
    SELECT array_agg(t.id) INTO v_skipped FROM (
      SELECT t.id FROM public.job_tasks t
       WHERE t.job_id = p_job_id AND t.params -> '_rolling' ->> 'host_id' = v_host
         AND t.status IN ('paused', 'blocked', 'ready')
         AND NOT (v_task.step_kind = 'host.maintenance' AND v_task.checkpoint ->> 'phase' IS NOT NULL
                  AND t.step_kind = 'host.maintenance' AND t.params ->> 'action' = 'exit')
       ORDER BY t.id FOR UPDATE) t;
    -- Whoever waited on a skipped step now waits on what the skipped steps waited on outside
    -- themselves, so the cascade of the skip stops at the host.
    INSERT INTO public.job_task_deps (task_id, depends_on)
    SELECT DISTINCT d.task_id, up.depends_on
      FROM public.job_task_deps d
      CROSS JOIN public.job_task_deps up
     WHERE d.depends_on = ANY (v_skipped) AND NOT d.task_id = ANY (v_skipped)
       AND up.task_id = ANY (v_skipped) AND NOT up.depends_on = ANY (v_skipped)
       AND up.depends_on <> d.task_id
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
    -- Released now if all they wait on has succeeded (the trigger releases only on a success).
    UPDATE public.job_tasks c
       SET status = 'ready', run_after = now()
     WHERE c.job_id = p_job_id AND c.status = 'blocked'
       AND NOT EXISTS (SELECT 1 FROM public.job_task_deps d JOIN public.job_tasks p ON p.id = d.depends_on
                        WHERE d.task_id = c.id AND p.status <> 'succeeded');
  END IF;
  PERFORM pg_notify('dcops_work', json_build_object('site', v_job.site, 'job_id', p_job_id,
                                                    'event', 'steps_ready')::text);
  SELECT status INTO v_status FROM public.jobs WHERE id = p_job_id;
  RETURN v_status;
END
$$;

CREATE OR REPLACE FUNCTION public.resume_job(p_job_id uuid, p_resolution text)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
BEGIN
  PERFORM dcops_internal.require_role('operator', 'resume_job');
  RETURN dcops_internal.resume_job(p_job_id, p_resolution, auth.uid(), dcops_internal.actor_role());
END
$$;

-- The CLI's resume, on behalf of an operator the dispatcher authenticated.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_resume_job(p_job_id uuid, p_resolution text, p_actor text)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
BEGIN
  RETURN dcops_internal.resume_job(p_job_id, p_resolution, NULL, 'dispatcher:' || left(coalesce(p_actor, '?'), 100));
END
$$;

-- 6. What planning a rolling update needs of a cluster: its hosts in the order to update them
-- (the host running this vCenter's own VM last, then by name), each with its server link
-- (the BMC the firmware goes to) or why it has none, read from the inventory.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_rolling_hosts(p_site text, p_cluster_id uuid)
  RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT CASE WHEN c.id IS NULL THEN NULL ELSE jsonb_build_object(
    'cluster_id', c.id, 'name', c.name, 'vsan_enabled', coalesce(c.vsan_enabled, false),
    'hosts', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
               'host_id', h.id, 'name', h.name,
               'connection_state', coalesce(h.connection_state, ''),
               'maintenance_mode', coalesce(h.maintenance_mode, false),
               'runs_vcenter', r.runs_vcenter,
               'ssh_ready', h.ssh_credential_set_id IS NOT NULL AND h.ssh_host_key IS NOT NULL,
               'server', CASE WHEN s.id IS NOT NULL AND s.bmc_address IS NOT NULL THEN jsonb_build_object(
                           'server_id', s.id, 'bmc_address', s.bmc_address,
                           'credential_set_id', coalesce(s.credential_set_id::text, ''),
                           'tls_verify', s.tls_verify, 'tls_pin_sha256', coalesce(s.tls_pin_sha256, '')) END,
               'link_problem', CASE
                 WHEN k.message IS NOT NULL THEN 'its server link is in conflict: ' || k.message
                 WHEN h.server_id IS NULL THEN 'it is linked to no server (no BMC to update)'
                 WHEN s.bmc_address IS NULL THEN 'its server has no BMC address' END)
               ORDER BY r.runs_vcenter, h.name, h.id)
        FROM public.vcenter_hosts h
        LEFT JOIN public.servers s ON s.id = h.server_id
        CROSS JOIN LATERAL (SELECT EXISTS (
                   SELECT 1 FROM public.vcenter_vms m
                    WHERE m.host_id = h.id AND m.guest_hostname IS NOT NULL
                      AND lower(m.guest_hostname) = lower(CASE WHEN v.address ~ '^[^:]+:[0-9]+$'
                                                               THEN split_part(v.address, ':', 1)
                                                               ELSE v.address END)) AS runs_vcenter) r
        LEFT JOIN LATERAL (SELECT x.message FROM public.server_identity_conflicts x
                            WHERE x.host_id = h.id AND x.status = 'open'
                            ORDER BY x.last_seen_at DESC LIMIT 1) k ON true
       WHERE h.cluster_id = c.id), '[]'::jsonb)) END
    FROM (SELECT 1) one
    LEFT JOIN public.vcenter_clusters c ON c.id = p_cluster_id
    LEFT JOIN public.vcenters v ON v.id = c.vcenter_id AND v.site = p_site
   WHERE c.id IS NULL OR v.id IS NOT NULL
$$;

-- 7. Parameters that need one of several members: the JSON-Schema keyword anyOf joins the
-- subset dcops_validate_json supports (else as in 20261127000300_validation.sql).
CREATE OR REPLACE FUNCTION public.dcops_validate_json(p_value jsonb, p_schema jsonb, p_path text)
  RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_type   text := p_schema ->> 'type';
  v_actual text := jsonb_typeof(p_value);
  v_key    text;
  v_item   jsonb;
  v_err    text;
  v_i      int := 0;
  v_num    numeric;
  v_alt    jsonb;
  v_errs   text[];
BEGIN
  -- anyOf: valid when one alternative is; else every alternative's complaint.
  IF jsonb_typeof(p_schema -> 'anyOf') = 'array' THEN
    v_errs := '{}';
    FOR v_alt IN SELECT a FROM jsonb_array_elements(p_schema -> 'anyOf') a LOOP
      v_err := public.dcops_validate_json(p_value, v_alt, p_path);
      IF v_err IS NULL THEN
        v_errs := NULL;
        EXIT;
      END IF;
      v_errs := v_errs || v_err;
    END LOOP;
    IF v_errs IS NOT NULL THEN
      RETURN array_to_string(v_errs, ', or ');
    END IF;
    v_err := NULL;
  END IF;

  IF v_type IS NOT NULL THEN
    IF v_type = 'integer' THEN
      IF v_actual <> 'number' OR (p_value #>> '{}')::numeric <> trunc((p_value #>> '{}')::numeric) THEN
        RETURN format('%s: must be an integer, got %s', p_path, left(p_value::text, 60));
      END IF;
    ELSIF v_type = 'number' THEN
      IF v_actual <> 'number' THEN
        RETURN format('%s: must be a number, got %s', p_path, v_actual);
      END IF;
    ELSIF v_actual IS DISTINCT FROM v_type THEN
      RETURN format('%s: must be %s %s, got %s', p_path,
                    CASE WHEN v_type IN ('object', 'array', 'integer') THEN 'an' ELSE 'a' END,
                    v_type, coalesce(v_actual, 'nothing'));
    END IF;
  END IF;

  IF p_schema ? 'enum' AND NOT (p_schema -> 'enum') @> jsonb_build_array(p_value) THEN
    RETURN format('%s: must be one of %s, got %s', p_path,
                  (SELECT string_agg(e #>> '{}', ', ') FROM jsonb_array_elements(p_schema -> 'enum') e),
                  left(p_value #>> '{}', 60));
  END IF;

  IF v_actual = 'number' THEN
    v_num := (p_value #>> '{}')::numeric;
    IF p_schema ? 'minimum' AND v_num < (p_schema ->> 'minimum')::numeric THEN
      RETURN format('%s: must be at least %s, got %s', p_path, p_schema ->> 'minimum', v_num);
    END IF;
    IF p_schema ? 'maximum' AND v_num > (p_schema ->> 'maximum')::numeric THEN
      RETURN format('%s: must be at most %s, got %s', p_path, p_schema ->> 'maximum', v_num);
    END IF;
  ELSIF v_actual = 'string' THEN
    IF p_schema ? 'minLength' AND length(p_value #>> '{}') < (p_schema ->> 'minLength')::int THEN
      RETURN format('%s: must be at least %s characters', p_path, p_schema ->> 'minLength');
    END IF;
    IF p_schema ? 'maxLength' AND length(p_value #>> '{}') > (p_schema ->> 'maxLength')::int THEN
      RETURN format('%s: must be at most %s characters', p_path, p_schema ->> 'maxLength');
    END IF;
    IF p_schema ? 'pattern' AND (p_value #>> '{}') !~ (p_schema ->> 'pattern') THEN
      RETURN format('%s: %s is not valid here (expected pattern %s)', p_path,
                    left(p_value::text, 80), p_schema ->> 'pattern');
    END IF;
  ELSIF v_actual = 'array' THEN
    IF p_schema ? 'minItems' AND jsonb_array_length(p_value) < (p_schema ->> 'minItems')::int THEN
      RETURN format('%s: needs at least %s item(s)', p_path, p_schema ->> 'minItems');
    END IF;
    IF p_schema ? 'maxItems' AND jsonb_array_length(p_value) > (p_schema ->> 'maxItems')::int THEN
      RETURN format('%s: has %s items, at most %s allowed', p_path,
                    jsonb_array_length(p_value), p_schema ->> 'maxItems');
    END IF;
    IF p_schema ? 'items' THEN
      FOR v_item IN SELECT value FROM jsonb_array_elements(p_value) LOOP
        v_err := public.dcops_validate_json(v_item, p_schema -> 'items', format('%s[%s]', p_path, v_i));
        IF v_err IS NOT NULL THEN RETURN v_err; END IF;
        v_i := v_i + 1;
      END LOOP;
    END IF;
  ELSIF v_actual = 'object' THEN
    IF p_schema ? 'required' THEN
      FOR v_key IN SELECT jsonb_array_elements_text(p_schema -> 'required') LOOP
        IF NOT p_value ? v_key THEN
          RETURN format('%s.%s: is required', p_path, v_key);
        END IF;
      END LOOP;
    END IF;
    FOR v_key, v_item IN SELECT key, value FROM jsonb_each(p_value) ORDER BY key LOOP
      IF p_schema -> 'properties' ? v_key THEN
        v_err := public.dcops_validate_json(v_item, p_schema -> 'properties' -> v_key,
                                            format('%s.%s', p_path, v_key));
        IF v_err IS NOT NULL THEN RETURN v_err; END IF;
      ELSIF (p_schema -> 'additionalProperties') = 'false'::jsonb THEN
        RETURN format('%s.%s: unknown parameter (known: %s)', p_path, v_key,
                      coalesce((SELECT string_agg(k, ', ' ORDER BY k)
                                  FROM jsonb_object_keys(coalesce(p_schema -> 'properties', '{}')) k),
                               'none'));
      END IF;
    END LOOP;
  END IF;
  RETURN NULL;
END
$$;

-- 8. The job type: scope a cluster; the firmware and/or ESXi update to apply (one at least),
-- each with the params of its own step kind.
UPDATE public.job_types t
   SET enabled = true,
       scope_kinds = '{cluster_id}',
       params_schema = jsonb_build_object(
         'type', 'object', 'additionalProperties', false,
         'anyOf', '[{"required":["firmware"]},{"required":["esxi"]}]'::jsonb,
         'properties', jsonb_build_object(
           'firmware', (SELECT f.params_schema FROM public.job_types f WHERE f.job_type = 'server.firmware_update'),
           'esxi', (SELECT e.params_schema FROM public.job_types e WHERE e.job_type = 'host.esxi_upgrade'),
           'backup', '{"type":"boolean"}'::jsonb,
           'evacuate_powered_off', '{"type":"boolean"}'::jsonb,
           'vsan_mode', '{"type":"string","enum":["ensureObjectAccessibility","evacuateAllData","noAction"]}'::jsonb,
           'min_hosts_up', '{"type":"integer","minimum":1,"maximum":64}'::jsonb,
           'maintenance_timeout_seconds', '{"type":"integer","minimum":60,"maximum":86400}'::jsonb,
           'quiet_seconds', '{"type":"integer","minimum":0,"maximum":3600}'::jsonb)),
       updated_at = now()
 WHERE t.job_type = 'cluster.rolling_update';

REVOKE ALL ON FUNCTION dcops_internal.pauses_job(jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION dcops_internal.resume_job(uuid, text, uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.resume_job(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.resume_job(uuid, text) TO authenticated, service_role;
REVOKE ALL ON FUNCTION public.dispatcher_v1_resume_job(uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_resume_job(uuid, text, text) TO dcops_dispatcher;
REVOKE ALL ON FUNCTION public.dispatcher_v1_rolling_hosts(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_rolling_hosts(text, uuid) TO dcops_dispatcher;
