-- Sites (issue 13, low finding): a job for a site no dispatcher serves was accepted and stayed
-- pending forever (a typo in target_scope.site, say). A site exists once a dispatcher has led
-- it; jobs for any other site are refused naming the known ones. A site whose dispatcher is
-- down for a while keeps accepting jobs: they run when it is back.
CREATE TABLE IF NOT EXISTS public.sites (
  site            text PRIMARY KEY CHECK (site ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  first_led_at    timestamptz NOT NULL DEFAULT now(),
  last_led_at     timestamptz NOT NULL DEFAULT now(),
  dispatcher_id   text
);
ALTER TABLE public.sites ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS viewer_read ON public.sites;
CREATE POLICY viewer_read ON public.sites FOR SELECT TO authenticated USING (public.dcops_has_role('viewer'));
GRANT SELECT ON public.sites TO authenticated;
GRANT SELECT ON public.sites TO service_role;

-- Every site already in use, and the default one every install has.
INSERT INTO public.sites (site)
SELECT 'default'
UNION SELECT j.site FROM public.jobs j
UNION SELECT a.site FROM public.agents a
UNION SELECT s.site FROM public.servers s
ON CONFLICT (site) DO NOTHING;

-- Called by a dispatcher when it becomes its site's leader.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_site_led(p_site text, p_dispatcher_id text)
  RETURNS void
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  INSERT INTO public.sites (site, dispatcher_id) VALUES (p_site, left(p_dispatcher_id, 200))
  ON CONFLICT (site) DO UPDATE SET last_led_at = now(), dispatcher_id = EXCLUDED.dispatcher_id
$$;
REVOKE ALL ON FUNCTION public.dispatcher_v1_site_led(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_site_led(text, text) TO dcops_dispatcher;

-- Validates and inserts a job (the landed contract, 20261203000300), and now also: an admin-only
-- type or a scope with "first_contact": true needs an admin (20261203000500) — the UI role
-- says so (service_role counts as admin), or the job comes from the site's dispatcher API (its
-- token is the site's) or from a schedule (only admins write schedules); and the site must be
-- one a dispatcher has led.
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
  v_admin boolean := p_actor_role = 'admin' OR p_via IN ('dispatcher', 'schedule');
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
  IF v_type.admin_only AND NOT v_admin THEN
    RAISE EXCEPTION '%: requires the admin role (it sends credential sets to addresses not yet known)', p_job_type
      USING ERRCODE = '42501';
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
  IF jsonb_typeof(p_target_scope) = 'object' AND p_target_scope ? 'first_contact' THEN
    IF jsonb_typeof(p_target_scope -> 'first_contact') <> 'boolean' THEN
      RAISE EXCEPTION 'target_scope.first_contact: must be true or false' USING ERRCODE = '22023';
    END IF;
    IF (p_target_scope -> 'first_contact') = 'true'::jsonb AND NOT v_admin THEN
      RAISE EXCEPTION 'target_scope.first_contact: requires the admin role (credentials would go to a BMC whose certificate is not yet pinned)'
        USING ERRCODE = '42501';
    END IF;
  END IF;
  v_err := public.dcops_validate_scope(
    CASE WHEN jsonb_typeof(p_target_scope) = 'object' THEN p_target_scope - 'first_contact' ELSE p_target_scope END,
    v_type.scope_kinds);
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
  IF NOT EXISTS (SELECT 1 FROM public.sites s WHERE s.site = v_site) THEN
    RAISE EXCEPTION 'target_scope.site: no dispatcher serves site "%" (sites: %)', left(v_site, 100),
      coalesce((SELECT string_agg(s.site, ', ' ORDER BY s.site) FROM public.sites s), 'none yet')
      USING ERRCODE = '22023', HINT = 'a site exists once its dispatcher has led it';
  END IF;
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
