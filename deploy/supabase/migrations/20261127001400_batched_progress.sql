-- Progress of many steps in one statement. The dispatcher keeps only the latest report per
-- step and writes them with its batch of events and completions: one commit for what used
-- to be one commit per report (a fleet refresh sends ~10 per step).
--   [{"task_id": "…", "lease_id": "…", "progress": 40, "message": "reading memory"}, …]
-- Reports for steps whose lease is gone are ignored, as dispatcher_v1_report_progress does.
-- Returns how many steps were updated.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_report_progress_many(p_reports jsonb)
  RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_n int;
BEGIN
  IF p_reports IS NULL OR jsonb_typeof(p_reports) <> 'array' THEN
    RAISE EXCEPTION 'reports: must be an array' USING ERRCODE = '22023';
  END IF;
  UPDATE public.job_tasks t
     SET progress = least(greatest(r.progress, 0), 100),
         progress_message = left(r.message, 1000), heartbeat_at = now()
    FROM (SELECT DISTINCT ON ((e.v ->> 'task_id')::uuid) (e.v ->> 'task_id')::uuid AS task_id,
                 (e.v ->> 'lease_id')::uuid AS lease_id, (e.v ->> 'progress')::int AS progress,
                 e.v ->> 'message' AS message
            FROM jsonb_array_elements(p_reports) WITH ORDINALITY AS e(v, ord)
           WHERE e.v ->> 'task_id' IS NOT NULL
           ORDER BY (e.v ->> 'task_id')::uuid, e.ord DESC) r  -- the last report of a step wins
   WHERE t.id = r.task_id AND t.lease_id = r.lease_id AND t.status IN ('leased', 'running');
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END
$$;

REVOKE ALL ON FUNCTION public.dispatcher_v1_report_progress_many(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_report_progress_many(jsonb) TO dcops_dispatcher;
