-- Every job that ends says so on dcops_work, however it ended. Until now only the paths that
-- count steps (finish_jobs, a cancel, a rolling update's end) sent `job_finished`: a job failed
-- at planning (dispatcher_v1_fail_job: no planner, a target that does not resolve) or planned
-- with no step to run (succeeded, "nothing to do") ended without a word, and a console, a
-- bench or a script waiting on the channel waited on. PostgreSQL delivers an identical payload
-- on one channel once per transaction, and this builds the very payload those paths build, so
-- a job they end is still announced once.
CREATE OR REPLACE FUNCTION dcops_internal.on_job_ended() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
BEGIN
  PERFORM pg_notify('dcops_work', json_build_object('site', NEW.site, 'job_id', NEW.id,
                                                    'event', 'job_finished')::text);
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION dcops_internal.on_job_ended() FROM PUBLIC;

-- The WHEN keeps the trigger off every other update of a job row (its counters change with
-- each step that ends): PostgreSQL tests it without calling the function.
CREATE OR REPLACE TRIGGER jobs_ended_notify AFTER UPDATE OF status ON public.jobs
  FOR EACH ROW
  WHEN (NEW.status IN ('succeeded', 'failed', 'cancelled', 'skipped') AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION dcops_internal.on_job_ended();
