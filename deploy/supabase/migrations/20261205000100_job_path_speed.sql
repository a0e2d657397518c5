-- The job path at the database's speed (issue 23), measured first: docs/BENCHMARKS.md.

-- The dispatcher refreshes the queue tables' statistics every 2 s while they change fast
-- (20261127001100_set_based_planning.sql: after a burst, stale statistics that still say
-- "empty" made plans scan `jobs` per batch). Measured during a bulk drain of 20,000 jobs
-- (scripts/bench jobs with DCOPS_BENCH_STATEMENTS=1), each refresh cost 450-560 ms, the largest
-- single item of the dispatcher's database time, and it runs on the dispatcher's loop: ANALYZE
-- samples 30,000 rows of each table (default_statistics_target 100) and builds statistics of
-- every column, the JSON ones included. The dispatcher's statements look rows up by key and
-- need only to know roughly how big the tables are and how their few filtered columns spread,
-- which a 3,000-row sample gives: at 40,000 jobs an ANALYZE of `jobs` went from 236 ms to
-- 17 ms, of `job_tasks` from 228 ms to 14 ms. Autovacuum's own ANALYZE later keeps the server's
-- default and replaces these. (A later CREATE OR REPLACE of the function drops this setting
-- unless it restates it; tests/db/lifecycle_test.cpp checks the sample's size.)
ALTER FUNCTION public.dispatcher_v1_refresh_statistics() SET default_statistics_target = 10;

-- Every planning pass first moves the site's due scheduled jobs to pending
-- (dispatcher_v1_jobs_to_plan). With only jobs_to_plan_idx, whose predicate covers scheduled and
-- pending alike, that UPDATE walked every pending job to find the few scheduled ones: a cost
-- that grew with the backlog it was meant to plan (3.8 ms a pass at 11,000 pending; 0.9 ms with
-- this index, measured in one warm session).
CREATE INDEX IF NOT EXISTS jobs_scheduled_due_idx ON public.jobs (site, schedule_at) WHERE status = 'scheduled';
