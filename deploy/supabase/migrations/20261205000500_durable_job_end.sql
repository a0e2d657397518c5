-- A transaction that ends a job waits for its WAL flush at commit, whatever its statements set
-- (issue 23). Planning commits asynchronously (20261205000300_quicker_pickup.sql: a lost plan
-- is planned again), but a job that ends is announced at commit, and a crash must not bring
-- an ended job back to run. That rule lived with the callers: plan_jobs restored the
-- session's setting when a plan had no step, and the dispatcher's planning pass restored it
-- when it failed a job, after its last statement. A caller that ended a job otherwise, or set
-- synchronous_commit off after ending one, would have committed the end asynchronously.
--
-- Here the rule sits where the end happens: a constraint trigger, deferred to commit, on every
-- job that ends. It runs after the transaction's last statement, just before its commit
-- record is written, and puts synchronous_commit back to the session's own setting (the
-- server's default, or what the session was started with) if the transaction had set it off.
-- A transaction that ends no job is left as its statements set it.
CREATE OR REPLACE FUNCTION dcops_internal.on_job_ended_commit_durably() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
BEGIN
  -- Every ended job of the transaction calls this at commit: after the first, the setting is
  -- already back, and the check is all it costs.
  IF current_setting('synchronous_commit') = 'off' THEN
    PERFORM set_config('synchronous_commit',
                       (SELECT s.reset_val FROM pg_catalog.pg_settings s WHERE s.name = 'synchronous_commit'), true);
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION dcops_internal.on_job_ended_commit_durably() FROM PUBLIC;

-- Constraint triggers take no OR REPLACE: dropped and made again, so the file re-runs.
DROP TRIGGER IF EXISTS jobs_end_durable ON public.jobs;
CREATE CONSTRAINT TRIGGER jobs_end_durable AFTER UPDATE OF status ON public.jobs
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW
  WHEN (NEW.status IN ('succeeded', 'failed', 'cancelled', 'skipped') AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION dcops_internal.on_job_ended_commit_durably();
