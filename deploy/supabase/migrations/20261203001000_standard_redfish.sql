-- Redfish by the standard (issue 15).
--
-- Logs: a BMC that is not an iDRAC keeps its records in the log services of its computer
-- system and its manager (DMTF's "Log1" and "Log", a vendor's "IML" or "Event"): server.logs
-- names those logs 'system' and 'manager' beside the iDRAC's 'sel' and 'lifecycle'.
ALTER TABLE public.server_log_entries DROP CONSTRAINT IF EXISTS server_log_entries_log_check;
ALTER TABLE public.server_log_entries
  ADD CONSTRAINT server_log_entries_log_check CHECK (log IN ('sel', 'lifecycle', 'system', 'manager'));
ALTER TABLE public.server_log_cursors DROP CONSTRAINT IF EXISTS server_log_cursors_log_check;
ALTER TABLE public.server_log_cursors
  ADD CONSTRAINT server_log_cursors_log_check CHECK (log IN ('sel', 'lifecycle', 'system', 'manager'));

CREATE OR REPLACE FUNCTION public.dispatcher_v1_record_log_entries(p_task_id uuid, p_result jsonb)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_server uuid := dcops_internal.step_server(p_task_id);
  v_log    jsonb;
  v_name   text;
  v_count  int;
  v_out    jsonb := '{}';
BEGIN
  IF jsonb_typeof(p_result -> 'logs') IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'result.logs: must be an array' USING ERRCODE = '22023';
  END IF;
  FOR v_log IN SELECT * FROM jsonb_array_elements(p_result -> 'logs') LOOP
    v_name := v_log ->> 'log';
    IF v_name IS NULL OR v_name NOT IN ('sel', 'lifecycle', 'system', 'manager') THEN
      RAISE EXCEPTION 'result.logs[].log: must be sel, lifecycle, system or manager' USING ERRCODE = '22023';
    END IF;
    INSERT INTO public.server_log_entries
      (server_id, log, entry_id, created, severity, message_id, message, sensor_type, entry_code)
    SELECT v_server, v_name, e ->> 'id', (e ->> 'created')::timestamptz, e ->> 'severity',
           e ->> 'message_id', e ->> 'message', e ->> 'sensor_type', e ->> 'entry_code'
      FROM jsonb_array_elements(coalesce(v_log -> 'entries', '[]')) e
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_out := v_out || jsonb_build_object(v_name, v_count);
    IF jsonb_typeof(v_log -> 'newest') = 'object' THEN
      INSERT INTO public.server_log_cursors (server_id, log, last_entry_id, last_created)
      VALUES (v_server, v_name, v_log #>> '{newest,id}', (v_log #>> '{newest,created}')::timestamptz)
      ON CONFLICT (server_id, log) DO UPDATE
        SET last_entry_id = EXCLUDED.last_entry_id, last_created = EXCLUDED.last_created, collected_at = now();
    END IF;
  END LOOP;
  RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION public.dispatcher_v1_record_log_entries(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_record_log_entries(uuid, jsonb) TO dcops_dispatcher;

UPDATE public.job_types
   SET params_schema = jsonb_set(params_schema, '{properties,logs}',
         '{"type":"array","minItems":1,"maxItems":4,"items":{"type":"string","enum":["sel","lifecycle","system","manager"]}}'),
       description = 'Collect BMC log entries (SEL and Lifecycle on iDRACs; system and manager logs elsewhere)'
 WHERE job_type = 'server.logs';

-- Power waits are job parameters (defaults: what real BMCs need): how long the requested state
-- may take after the action, and how long a restart may take to show.
UPDATE public.job_types
   SET params_schema = jsonb_set(jsonb_set(params_schema, '{properties,settle_timeout_seconds}',
         '{"type":"integer","minimum":10,"maximum":7200}'),
         '{properties,restart_observe_seconds}', '{"type":"integer","minimum":5,"maximum":3600}')
 WHERE job_type = 'server.power';

-- A BMC reset on a manager that reports no LastResetTime is proven only by seeing it go away,
-- which a fast restart behind Retry-After answers can hide: after this long without evidence
-- the step ends 'unverified' once the BMC answers healthily.
UPDATE public.job_types
   SET params_schema = jsonb_set(params_schema, '{properties,restart_observe_seconds}',
         '{"type":"integer","minimum":5,"maximum":3600}'),
       description = 'Reset the BMC (Manager.Reset) and wait until it is healthy again'
 WHERE job_type = 'server.idrac_reset';

-- A job's steps show the outcome their result names ("verified", "unverified", …): an
-- unverified effect is visible in the job, not only in its events.
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
                    'outcome', t.result ->> 'outcome',
                    'started_at', t.started_at, 'finished_at', t.finished_at) ORDER BY t.seq)
             FROM public.job_tasks t WHERE t.job_id = j.id), '[]'::jsonb))
    FROM public.jobs j WHERE j.id = p_job_id
$$;
