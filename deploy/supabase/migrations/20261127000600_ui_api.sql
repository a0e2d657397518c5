-- The UI-facing API: role checks, create_job and cancel_job.
-- Callable over PostgREST RPC (POST /rest/v1/rpc/create_job) or SQL. The caller is the user
-- of the verified JWT (auth.uid()); Supabase's service_role acts as an admin.

-- The caller's UI role rank: 0 none, 1 viewer, 2 operator, 3 admin.
CREATE OR REPLACE FUNCTION public.dcops_role_rank() RETURNS int
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT CASE
    WHEN auth.role() = 'service_role' THEN 3
    ELSE coalesce((SELECT CASE r.role WHEN 'viewer' THEN 1 WHEN 'operator' THEN 2
                                      WHEN 'admin' THEN 3 END
                     FROM public.user_roles r WHERE r.user_id = auth.uid()), 0)
  END
$$;

CREATE OR REPLACE FUNCTION public.dcops_has_role(p_min text) RETURNS boolean
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, public
AS $$
  SELECT public.dcops_role_rank() >= CASE p_min WHEN 'viewer' THEN 1 WHEN 'operator' THEN 2
                                                 WHEN 'admin' THEN 3 ELSE 99 END
$$;

CREATE OR REPLACE FUNCTION dcops_internal.require_role(p_min text, p_action text) RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, public
AS $$
BEGIN
  IF NOT public.dcops_has_role(p_min) THEN
    RAISE EXCEPTION '%: requires the % role', p_action, p_min USING ERRCODE = '42501';
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION dcops_internal.actor_role() RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT CASE public.dcops_role_rank() WHEN 3 THEN 'admin' WHEN 2 THEN 'operator'
                                       WHEN 1 THEN 'viewer' ELSE 'none' END
$$;

-- Creates a job. Returns its id; with an idempotency key seen before, the earlier job's id.
-- Bad input: SQLSTATE 22023, message "<field>: <what is wrong>". Not allowed: 42501.
CREATE OR REPLACE FUNCTION public.create_job(
    p_job_type text, p_target_scope jsonb, p_params jsonb DEFAULT '{}',
    p_idempotency_key text DEFAULT NULL, p_schedule_at timestamptz DEFAULT NULL,
    p_priority int DEFAULT 0)
  RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
BEGIN
  PERFORM dcops_internal.require_role('operator', 'create_job');
  RETURN dcops_internal.insert_job(p_job_type, p_target_scope, coalesce(p_params, '{}'),
                                   p_idempotency_key, p_schedule_at, p_priority, auth.uid(),
                                   dcops_internal.actor_role(),
                                   CASE WHEN auth.role() = 'service_role' THEN 'service' ELSE 'ui' END,
                                   NULL);
END
$$;

-- Shared by cancel_job and the dispatcher's cancel. Returns the outcome:
--   'cancelled'          the job had not started a step; it is cancelled now
--   'cancel_requested'   steps are running; their agents are told, the job ends when they stop
--   'succeeded' | 'failed' | 'cancelled'   the job had already finished; nothing changed
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
  -- Steps not handed to an agent stop here; their trigger accounts for them on the job.
  UPDATE public.job_tasks
     SET status = 'cancelled', finished_at = now(), error_code = 'cancelled',
         error_message = 'job cancelled before this step started'
   WHERE job_id = p_job_id AND status IN ('blocked', 'ready');
  SELECT count(*) INTO v_active FROM public.job_tasks
   WHERE job_id = p_job_id AND status IN ('leased', 'running');
  IF v_active = 0 THEN
    -- Not planned yet, or every step has ended: the job ends now.
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

CREATE OR REPLACE FUNCTION public.cancel_job(p_job_id uuid)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
BEGIN
  PERFORM dcops_internal.require_role('operator', 'cancel_job');
  RETURN dcops_internal.cancel_job(p_job_id, auth.uid(), dcops_internal.actor_role());
END
$$;
