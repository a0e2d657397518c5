-- Failures say where they stand (issue 14): a failed attempt that will be retried is reported
-- as "attempt N of M failed: …; retrying in Ts", the last as "failed". The dispatcher needs the
-- step's attempt, its limit and the delay the failure scheduled, in the same statement.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_fail_step_report(
    p_task_id uuid, p_lease_id uuid, p_error_code text, p_error_message text,
    p_retryable boolean DEFAULT false, p_result jsonb DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_outcome text;
  v_task public.job_tasks%ROWTYPE;
BEGIN
  v_outcome := public.dispatcher_v1_fail_step(p_task_id, p_lease_id, p_error_code, p_error_message,
                                              p_retryable, p_result);
  SELECT * INTO v_task FROM public.job_tasks WHERE id = p_task_id;
  RETURN jsonb_build_object(
    'outcome', v_outcome,
    'attempt', v_task.attempt,
    'max_attempts', v_task.max_attempts,
    'retry_in_ms', CASE WHEN v_outcome = 'retry_scheduled'
                        THEN greatest(0, (extract(epoch FROM v_task.run_after - now()) * 1000)::bigint) END);
END
$$;
REVOKE ALL ON FUNCTION public.dispatcher_v1_fail_step_report(uuid, uuid, text, text, boolean, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_fail_step_report(uuid, uuid, text, text, boolean, jsonb) TO dcops_dispatcher;
