-- Idempotency keys (issue 13): a key belongs to its caller (the UI user, or the dispatcher API's
-- actor) and job type, and a repeat must be the same request. Before, keys were global: an
-- operator's PowerCycle carrying a key another user had used for a refresh silently returned
-- that refresh job.
ALTER TABLE public.jobs ADD COLUMN IF NOT EXISTS idempotency_scope text;
UPDATE public.jobs SET idempotency_scope = coalesce(created_by::text, created_via) || '|' || job_type
 WHERE idempotency_key IS NOT NULL AND idempotency_scope IS NULL;
DROP INDEX IF EXISTS public.jobs_idempotency_key_uq;
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency_scope_key_uq
  ON public.jobs (idempotency_scope, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Validates and inserts a job (the landed contract). Every path that creates a job goes
-- through here. Errors: SQLSTATE 22023 with a message naming the field. An idempotency key
-- belongs to its caller and job type: repeated with the same target scope, params and
-- priority it returns the existing job unchanged (no audit row, no notification); repeated
-- with anything else it is refused, naming the job that holds it. Another caller's key, or
-- the same key for another job type, is another key.
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
  v_scope text;
  v_held  public.jobs;
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
  v_scope := CASE WHEN p_idempotency_key IS NOT NULL
                  THEN coalesce(p_actor::text, p_actor_role, p_via) || '|' || p_job_type END;

  INSERT INTO public.jobs (site, job_type, status, target_scope, params, priority,
                           idempotency_key, idempotency_scope, schedule_at, created_by, created_via,
                           schedule_id, traceparent)
  VALUES (v_site, p_job_type,
          CASE WHEN p_schedule_at > now() THEN 'scheduled' ELSE 'pending' END,
          p_target_scope, p_params, p_priority, p_idempotency_key, v_scope, p_schedule_at, p_actor,
          p_via, p_schedule_id, dcops_internal.traceparent())
  ON CONFLICT (idempotency_scope, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING id INTO v_id;

  IF v_id IS NULL THEN
    SELECT * INTO v_held FROM public.jobs
     WHERE idempotency_scope = v_scope AND idempotency_key = p_idempotency_key;
    IF v_held.target_scope IS DISTINCT FROM p_target_scope OR v_held.params IS DISTINCT FROM p_params
       OR v_held.priority IS DISTINCT FROM p_priority THEN
      RAISE EXCEPTION 'idempotency_key: "%" already names job % (%), which has another target_scope, params or priority',
        left(p_idempotency_key, 100), v_held.id, v_held.job_type USING ERRCODE = '22023';
    END IF;
    RETURN v_held.id;
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
