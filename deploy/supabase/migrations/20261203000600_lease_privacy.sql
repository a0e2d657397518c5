-- Lease ids are the dispatcher's fencing tokens (issue 13): whoever knows one and holds the
-- agent token could complete another agent's step. UI roles read every column of job_tasks
-- except lease_id; the owner, expiry and heartbeat stay visible (they say who runs what).
-- A column added later is not readable by UI roles until a migration grants it.
REVOKE SELECT ON public.job_tasks FROM authenticated;
DO $$
DECLARE
  v_columns text;
BEGIN
  SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) INTO v_columns
    FROM information_schema.columns
   WHERE table_schema = 'public' AND table_name = 'job_tasks' AND column_name <> 'lease_id';
  EXECUTE format('GRANT SELECT (%s) ON public.job_tasks TO authenticated', v_columns);
END
$$;
