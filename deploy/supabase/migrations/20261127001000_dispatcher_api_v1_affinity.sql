-- Dispatcher API v1, additions (issue 3): target affinity in claims that also start the
-- steps, the reads the dispatcher's /api/v1 serves, and the bench-only job type.
-- Additive only: earlier functions keep their signatures and behaviour.

-- Ready steps of one target in queue order, found without walking the whole ready queue.
-- Matching both the filter and the order, it is the plan whatever the statistics say (a
-- queue table's statistics are stale after every burst).
CREATE INDEX IF NOT EXISTS job_tasks_ready_target_idx
  ON public.job_tasks (target, priority DESC, seq, created_at) WHERE status = 'ready';

-- dispatcher_v1_claim_steps with target affinity, and starting the steps it claims (the
-- dispatcher assigns them at once, so a separate start call would only cost a commit).
-- Among steps of the same priority, those
-- whose target is in p_prefer_targets (the targets this agent served last, so its Redfish
-- sessions are still open) come first. Priority still wins over affinity, and a preferred
-- step only moves ahead of others in the same claim, so a big job's preferred targets
-- cannot hold a small job's steps back for longer than one claim of this agent.
-- waited_ms: how long the step had been claimable (since it was created or last snoozed),
-- for the dispatcher's pickup-latency histogram.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_claim_steps_affine(
    p_site text, p_owner text, p_step_kinds text[], p_limit int,
    p_lease_seconds int, p_exclude_targets text[], p_per_target int,
    p_prefer_targets text[])
  RETURNS TABLE (task_id uuid, job_id uuid, lease_id uuid, step_key text, step_kind text,
                 target text, mutating boolean, params jsonb, checkpoint jsonb, attempt int,
                 max_attempts int, lease_expires_at timestamptz, job_type text,
                 job_params jsonb, traceparent text, waited_ms double precision)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
  IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION 'lease_seconds: must be between 1 and 86400' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  WITH preferred AS (
    -- One index lookup per preferred target, in queue order (job_tasks_ready_target_idx).
    -- The lookup names only the target, so no plan can walk the queue-order index and filter
    -- it per target (which the planner picks when this busy table's statistics are stale);
    -- the other conditions apply to the few rows found.
    SELECT t.id, t.target, t.priority, t.seq, t.created_at, true AS affine
      FROM unnest(coalesce(p_prefer_targets, '{}')) AS pt(target)
     CROSS JOIN LATERAL (
       SELECT r.id, r.target, r.priority, r.seq, r.created_at, r.site, r.run_after, r.step_kind
         FROM public.job_tasks r
        WHERE r.target = pt.target AND r.status = 'ready'
        ORDER BY r.priority DESC, r.seq, r.created_at
        LIMIT 4) t
     WHERE t.site = p_site AND t.run_after <= now() AND t.step_kind = ANY (p_step_kinds)
       AND NOT (t.target = ANY (coalesce(p_exclude_targets, '{}')))
     ORDER BY t.priority DESC, t.seq, t.created_at
     LIMIT greatest(p_limit, 1)
  ), general AS (
    SELECT t.id, t.target, t.priority, t.seq, t.created_at, false AS affine
      FROM public.job_tasks t
     WHERE t.site = p_site AND t.status = 'ready' AND t.run_after <= now()
       AND t.step_kind = ANY (p_step_kinds)
       AND NOT (t.target = ANY (coalesce(p_exclude_targets, '{}')))
     ORDER BY t.priority DESC, t.seq, t.created_at
     -- Bounded look-ahead: enough to skip rows other claimers hold, never the whole queue.
     LIMIT greatest(p_limit, 1) * 4 + 64
  ), scan AS (
    SELECT DISTINCT ON (u.id) u.* FROM (SELECT * FROM preferred UNION ALL SELECT * FROM general) u
     ORDER BY u.id, u.affine DESC
  ), ranked AS (
    SELECT s.id, s.priority, s.affine, s.seq, s.created_at,
           row_number() OVER (PARTITION BY s.target
                              ORDER BY s.priority DESC, s.affine DESC, s.seq, s.created_at) AS rn
      FROM scan s
  ), picked AS (
    -- Locks by primary key (an index lookup per candidate, never a scan of the table).
    SELECT t.id
      FROM public.job_tasks t
     WHERE t.id = ANY (ARRAY(SELECT r.id FROM ranked r
                              WHERE p_per_target IS NULL OR r.rn <= p_per_target
                              ORDER BY r.priority DESC, r.affine DESC, r.seq, r.created_at
                              LIMIT greatest(p_limit, 1) * 4 + 64))
       AND t.status = 'ready'
     ORDER BY t.priority DESC, (t.target = ANY (coalesce(p_prefer_targets, '{}'))) DESC,
              t.seq, t.created_at
     LIMIT greatest(p_limit, 1)
       FOR UPDATE OF t SKIP LOCKED
  ), leased AS (
    -- Straight to 'running': the dispatcher sends the Assign right after this statement,
    -- and an Assign that cannot be delivered is handed back with a snooze.
    UPDATE public.job_tasks t
       SET status = 'running', attempt = t.attempt + 1, lease_id = gen_random_uuid(),
           lease_owner = p_owner,
           lease_expires_at = now() + make_interval(secs => p_lease_seconds),
           heartbeat_at = now(), started_at = coalesce(t.started_at, now()),
           error_code = NULL, error_message = NULL
      FROM picked
     WHERE t.id = picked.id
    RETURNING t.*
  ), jobs_started AS (
    -- = ANY(ARRAY(...)): looked up by key, never a scan of jobs joined to the batch (which a
    -- plan from stale statistics does, at O(jobs x batch)).
    UPDATE public.jobs j SET started_at = now()
     WHERE j.id = ANY (ARRAY(SELECT DISTINCT l.job_id FROM leased l)) AND j.started_at IS NULL
    RETURNING j.id
  )
  SELECT l.id, l.job_id, l.lease_id, l.step_key, l.step_kind, l.target, l.mutating, l.params,
         l.checkpoint, l.attempt, l.max_attempts, l.lease_expires_at, j.job_type, j.params,
         j.traceparent,
         (extract(epoch FROM clock_timestamp() - greatest(l.run_after, l.created_at)) * 1000)::double precision
    FROM leased l JOIN public.jobs j ON j.id = l.job_id
   ORDER BY l.priority DESC, (l.target = ANY (coalesce(p_prefer_targets, '{}'))) DESC,
            l.seq, l.created_at;
END
$$;

-- Steps of a site that agents hold right now: what a dispatcher that has just become leader
-- (after a restart or a takeover) counts against the per-target limits until their results
-- arrive or their leases are rescued.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_held_steps(p_site text)
  RETURNS TABLE (task_id uuid, job_id uuid, lease_id uuid, lease_owner text, step_kind text,
                 target text, mutating boolean, traceparent text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT t.id, t.job_id, t.lease_id, t.lease_owner, t.step_kind, t.target, t.mutating, j.traceparent
    FROM public.job_tasks t JOIN public.jobs j ON j.id = t.job_id
   WHERE t.site = p_site AND t.status IN ('leased', 'running')
$$;

-- Agents of a site, for the dispatcher's /api/v1/agents and `dcops agents`.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_list_agents(p_site text)
  RETURNS SETOF jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT jsonb_build_object('id', a.id, 'kind', a.kind, 'version', a.version,
                            'hostname', a.hostname, 'capacity', a.capacity, 'running', a.running,
                            'status', a.status, 'step_kinds', to_jsonb(a.step_kinds),
                            'connected_at', a.connected_at, 'last_seen_at', a.last_seen_at,
                            'disconnected_at', a.disconnected_at)
    FROM public.agents a
   WHERE a.site = p_site
   ORDER BY a.status = 'offline', a.kind, a.id
$$;

-- Credential sets without their secrets, for /api/v1/credential-sets and `dcops credentials`.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_list_credential_sets()
  RETURNS SETOF jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT jsonb_build_object('id', c.id, 'name', c.name, 'kind', c.kind, 'username', c.username,
                            'description', c.description, 'try_order', c.try_order,
                            'has_secret', c.has_secret, 'updated_at', c.updated_at)
    FROM public.credential_sets c
   ORDER BY c.kind, c.try_order, c.name
$$;

-- A job type that does nothing, for measuring the job path itself (scripts/bench). Disabled:
-- only a benchmark's private database enables it, and only a dispatcher started with
-- DCOPS_BENCH_JOB_TYPES plans it.
INSERT INTO public.job_types
  (job_type, description, agent_kind, mutating, scope_kinds, params_schema, enabled,
   max_attempts, retry_base_ms, retry_max_ms)
VALUES
('bench.noop', 'Benchmark only: one step that does nothing', 'bench-agent', false,
 '{bmc_addresses}', '{"type":"object","additionalProperties":false}', false, 1, 1000, 1000)
ON CONFLICT (job_type) DO NOTHING;

REVOKE ALL ON FUNCTION public.dispatcher_v1_claim_steps_affine(text, text, text[], int, int, text[], int, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatcher_v1_list_agents(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatcher_v1_held_steps(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatcher_v1_list_credential_sets() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_claim_steps_affine(text, text, text[], int, int, text[], int, text[]) TO dcops_dispatcher;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_list_agents(text) TO dcops_dispatcher;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_held_steps(text) TO dcops_dispatcher;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_list_credential_sets() TO dcops_dispatcher;
