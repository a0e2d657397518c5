-- Credentials go only where an admin said they may (issue 13, the critical finding). Before,
-- an operator could name any address in a job (or a discovery range) and the worker sent the
-- site's BMC password there. Now a secret is released for one step only when:
--   1. its kind is one the step's agent speaks (20261203000200);
--   2. the place the step reaches is inside the set's scope (networks and/or host names an
--      admin set; a set with no scope may go anywhere its other rules allow);
--   3. that place is already known and proven: a BMC step's target is a server of the job's
--      site whose certificate is pinned or verified (tls_verify), a sync step's target is a
--      configured endpoint. Anything else is first contact, which only an admin's job may
--      make (target_scope.first_contact, or discovery.scan, which is admin-only).
-- Every release and refusal is audited (job, step, target, set; never the secret).

-- 1. Scopes on credential sets.
ALTER TABLE public.credential_sets
  ADD COLUMN IF NOT EXISTS scope_networks cidr[],
  ADD COLUMN IF NOT EXISTS scope_hosts text[];
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'credential_sets_scope_hosts_form') THEN
    ALTER TABLE public.credential_sets ADD CONSTRAINT credential_sets_scope_hosts_form
      CHECK (scope_hosts IS NULL OR (cardinality(scope_hosts) <= 1000 AND
             array_to_string(scope_hosts, ' ') ~ '^[a-z0-9]([a-z0-9.-]{0,252})( [a-z0-9]([a-z0-9.-]{0,252}))*$'));
  END IF;
END
$$;
COMMENT ON COLUMN public.credential_sets.scope_networks IS
  'Networks (CIDR) whose addresses may receive this set; with scope_hosts NULL too, no restriction';
COMMENT ON COLUMN public.credential_sets.scope_hosts IS
  'Host names (lower case) that may receive this set, for targets named rather than addressed';

GRANT SELECT (scope_networks, scope_hosts), INSERT (scope_networks, scope_hosts),
      UPDATE (scope_networks, scope_hosts) ON public.credential_sets TO authenticated, service_role;

-- The host of a normal-form address ("host", "host:port", "[v6]", "[v6]:port"), lower case.
CREATE OR REPLACE FUNCTION dcops_internal.address_host(p_address text)
  RETURNS text
  LANGUAGE sql IMMUTABLE
AS $$
  SELECT lower(CASE WHEN p_address LIKE '[%' THEN substring(p_address FROM '^\[([^]]*)\]')
                    ELSE split_part(p_address, ':', 1) END)
$$;

-- The address as an inet when it is an IP literal, else NULL.
CREATE OR REPLACE FUNCTION dcops_internal.address_inet(p_address text)
  RETURNS inet
  LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  v_host text := dcops_internal.address_host(p_address);
BEGIN
  IF v_host IS NULL OR v_host !~ '^[0-9a-f:.]+$' THEN
    RETURN NULL;
  END IF;
  RETURN v_host::inet;
EXCEPTION WHEN invalid_text_representation THEN
  RETURN NULL;
END
$$;

-- NULL when the set may go to the address; otherwise why not. An IP address must lie in one of
-- the set's networks or be listed as a host; a name must be listed. Names are never resolved
-- here: what DNS says tomorrow is not what the admin scoped.
CREATE OR REPLACE FUNCTION dcops_internal.credential_scope_refusal(p_set public.credential_sets, p_address text)
  RETURNS text
  LANGUAGE plpgsql STABLE
AS $$
DECLARE
  v_inet inet := dcops_internal.address_inet(p_address);
  v_host text := dcops_internal.address_host(p_address);
BEGIN
  IF p_set.scope_networks IS NULL AND p_set.scope_hosts IS NULL THEN
    RETURN NULL;
  END IF;
  IF v_host = ANY (coalesce(p_set.scope_hosts, '{}'))
     OR (v_inet IS NOT NULL AND EXISTS (SELECT 1 FROM unnest(coalesce(p_set.scope_networks, '{}')) n
                                         WHERE v_inet <<= n)) THEN
    RETURN NULL;
  END IF;
  RETURN format('credential set %s may not be sent to %s: outside its scope (%s)', p_set.name, coalesce(v_host, p_address),
                coalesce(nullif(array_to_string(ARRAY(SELECT n::text FROM unnest(p_set.scope_networks) n)
                                                || coalesce(p_set.scope_hosts, '{}'), ', '), ''), 'nothing'));
END
$$;

-- 2. Admin-only job types and first contact.
ALTER TABLE public.job_types ADD COLUMN IF NOT EXISTS admin_only boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN public.job_types.admin_only IS
  'Only an admin (or the site''s own dispatcher API, or an admin''s schedule) may create it';
UPDATE public.job_types SET admin_only = true WHERE job_type = 'discovery.scan';

-- create_job enforces both (an admin-only type, a scope with "first_contact": true) in
-- dcops_internal.insert_job, defined once with the other admission checks in 20261203000700.

-- 3. Why a step may not receive a set, NULL when it may. The places a step reaches:
--   "idrac:ADDR"            ADDR; a known server of the job's site with a pinned or verified
--                           certificate, or first contact allowed by the job
--   "site:discovery/…"      every address of the step's params.addresses (discovery is
--                           admin-only, and is first contact by nature)
--   "ome:ID", "vcenter:ID"  the configured endpoint's address
--   anything else           only a set with no scope
CREATE OR REPLACE FUNCTION dcops_internal.credential_reach_refusal(p_set public.credential_sets, p_task_id uuid)
  RETURNS text
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_task record;
  v_address text;
  v_server record;
  v_refusal text;
  v_kind text;
  v_id text;
BEGIN
  SELECT t.target, t.step_kind, t.params, j.site, j.job_type, j.target_scope
    INTO v_task
    FROM public.job_tasks t JOIN public.jobs j ON j.id = t.job_id
   WHERE t.id = p_task_id;
  v_kind := split_part(v_task.target, ':', 1);
  v_id := substr(v_task.target, length(v_kind) + 2);
  IF v_kind = 'idrac' THEN
    v_refusal := dcops_internal.credential_scope_refusal(p_set, v_id);
    IF v_refusal IS NOT NULL THEN
      RETURN v_refusal;
    END IF;
    IF (v_task.target_scope -> 'first_contact') = 'true'::jsonb THEN
      RETURN NULL;
    END IF;
    -- One row at most: (site, bmc_address) is unique (servers_bmc_uq).
    SELECT s.tls_pin_sha256 IS NOT NULL OR s.tls_verify AS proven INTO v_server
      FROM public.servers s WHERE s.site = v_task.site AND s.bmc_address = v_id;
    IF NOT FOUND THEN
      RETURN format('credential set %s may not be sent to %s: not a known server of site %s (first contact needs an admin''s job with target_scope.first_contact, or discovery)',
                    p_set.name, v_id, v_task.site);
    END IF;
    IF NOT v_server.proven THEN
      RETURN format('credential set %s may not be sent to %s: its certificate is neither pinned nor verified (pin it, or an admin''s job with target_scope.first_contact may reach it)',
                    p_set.name, v_id);
    END IF;
    RETURN NULL;
  ELSIF v_kind = 'site' AND v_task.step_kind = 'discovery.scan' THEN
    -- The first address outside the scope is reason enough.
    SELECT x.why INTO v_refusal
      FROM (SELECT dcops_internal.credential_scope_refusal(p_set, a) AS why
              FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(v_task.params -> 'addresses') = 'array'
                                                  THEN v_task.params -> 'addresses' ELSE '[]' END) a) x
     WHERE x.why IS NOT NULL
     LIMIT 1;
    RETURN v_refusal;
  ELSIF v_kind IN ('ome', 'vcenter') THEN
    IF v_id !~ '^[0-9a-fA-F-]{36}$' THEN
      RETURN format('credential set %s: the step''s target %s names no endpoint', p_set.name, v_task.target);
    END IF;
    SELECT e.address INTO v_address
      FROM (SELECT o.id, o.address FROM public.ome_endpoints o WHERE v_kind = 'ome'
            UNION ALL SELECT v.id, v.address FROM public.vcenters v WHERE v_kind = 'vcenter') e
     WHERE e.id = v_id::uuid;
    IF NOT FOUND THEN
      RETURN format('credential set %s: no endpoint %s', p_set.name, v_task.target);
    END IF;
    RETURN dcops_internal.credential_scope_refusal(p_set, v_address);
  END IF;
  IF p_set.scope_networks IS NOT NULL OR p_set.scope_hosts IS NOT NULL THEN
    RETURN format('credential set %s is scoped; a step on %s cannot be shown to be inside its scope',
                  p_set.name, v_task.target);
  END IF;
  RETURN NULL;
END
$$;

-- The release itself: kind (20261203000200), then reach. A refusal comes back as a row
-- without ciphertext and with `refused` saying why, and is audited.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_credential_set_for_step(p_id uuid, p_task_id uuid)
  RETURNS TABLE (id uuid, name text, kind text, username text, ciphertext bytea, key_id text, refused text)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_set public.credential_sets;
  v_step record;
  v_allowed text[];
  v_refusal text;
BEGIN
  SELECT t.id, t.job_id, t.step_kind, t.target,
         coalesce((SELECT jt.agent_kind FROM public.job_types jt WHERE jt.job_type = t.step_kind),
                  (SELECT jt.agent_kind FROM public.jobs j JOIN public.job_types jt ON jt.job_type = j.job_type
                    WHERE j.id = t.job_id)) AS agent_kind
    INTO v_step
    FROM public.job_tasks t WHERE t.id = p_task_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  SELECT * INTO v_set FROM public.credential_sets c WHERE c.id = p_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  v_allowed := dcops_internal.credential_kinds_for(v_step.agent_kind);
  IF NOT v_set.kind = ANY (v_allowed) THEN
    v_refusal := format('credential set %s is a %s set; %s steps take %s sets only', v_set.name, v_set.kind,
                        v_step.step_kind, array_to_string(v_allowed, ' or '));
  ELSE
    v_refusal := dcops_internal.credential_reach_refusal(v_set, p_task_id);
  END IF;
  INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
  VALUES ('dispatcher', CASE WHEN v_refusal IS NULL THEN 'credential.release' ELSE 'credential.refused' END,
          'credential_set', v_set.id::text,
          jsonb_build_object('set', v_set.name, 'kind', v_set.kind, 'job_id', v_step.job_id, 'task_id', v_step.id,
                             'step_kind', v_step.step_kind, 'target', v_step.target)
          || CASE WHEN v_refusal IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('why', v_refusal) END);
  IF v_refusal IS NOT NULL THEN
    RETURN QUERY SELECT v_set.id, v_set.name, v_set.kind, v_set.username, NULL::bytea, NULL::text, v_refusal;
    RETURN;
  END IF;
  RETURN QUERY SELECT v_set.id, v_set.name, v_set.kind, v_set.username, v_set.ciphertext, v_set.key_id, NULL::text;
END
$$;

-- 4. Discovery: which sets each address may be tried with, in try order. p_set_ids is the
-- job's list (its order kept) or NULL for every BMC set (idrac, redfish) by try_order.
-- The planner groups addresses with the same list into steps.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_discovery_sets(p_addresses text[], p_set_ids uuid[])
  RETURNS TABLE (address text, set_ids uuid[])
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  WITH sets AS (
    SELECT c, coalesce(array_position(p_set_ids, c.id), 0) AS job_order
      FROM public.credential_sets c
     WHERE c.ciphertext IS NOT NULL
       AND CASE WHEN p_set_ids IS NULL THEN c.kind IN ('idrac', 'redfish') ELSE c.id = ANY (p_set_ids) END
  )
  SELECT a.address,
         coalesce((SELECT array_agg((s.c).id ORDER BY s.job_order, (s.c).try_order, (s.c).name)
                     FROM sets s
                    WHERE dcops_internal.credential_scope_refusal(s.c, a.address) IS NULL), '{}')
    FROM unnest(p_addresses) WITH ORDINALITY AS a(address, n)
   ORDER BY a.n
$$;

-- 5. Setting a scope through the dispatcher's API (`dcops credentials scope`). Empty arrays
-- and NULLs both mean "no restriction" for that part; both NULL makes the set unrestricted.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_set_credential_scope(p_name text, p_networks text[], p_hosts text[],
                                                                      p_actor text)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_networks cidr[];
  v_hosts text[] := nullif(ARRAY(SELECT lower(h) FROM unnest(p_hosts) h WHERE h <> ''), '{}');
  v_id uuid;
  v_item text;
BEGIN
  FOREACH v_item IN ARRAY coalesce(p_networks, '{}') LOOP
    BEGIN
      v_networks := v_networks || v_item::cidr;
    EXCEPTION WHEN invalid_text_representation OR invalid_parameter_value OR data_exception THEN
      RAISE EXCEPTION 'networks: % is not a network in CIDR form (10.0.0.0/24, fd00::/64)', left(v_item, 100)
        USING ERRCODE = '22023';
    END;
  END LOOP;
  UPDATE public.credential_sets c SET scope_networks = v_networks, scope_hosts = v_hosts, updated_at = now()
   WHERE c.name = p_name RETURNING c.id INTO v_id;
  IF v_id IS NULL THEN
    RAISE EXCEPTION 'name: no credential set %', left(p_name, 100) USING ERRCODE = 'P0002';
  END IF;
  INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
  VALUES ('dispatcher:' || left(coalesce(p_actor, '?'), 100), 'credential_set.scope', 'credential_set', v_id::text,
          jsonb_build_object('name', p_name, 'networks', v_networks, 'hosts', v_hosts));
  RETURN jsonb_build_object('id', v_id, 'scope_networks', v_networks, 'scope_hosts', v_hosts);
EXCEPTION WHEN check_violation THEN
  RAISE EXCEPTION 'hosts: lower-case host names only (letters, digits, "." and "-")' USING ERRCODE = '22023';
END
$$;

CREATE OR REPLACE FUNCTION public.dispatcher_v1_list_credential_sets()
  RETURNS SETOF jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT jsonb_build_object('id', c.id, 'name', c.name, 'kind', c.kind, 'username', c.username,
                            'description', c.description, 'try_order', c.try_order,
                            'has_secret', c.has_secret, 'updated_at', c.updated_at,
                            'scope_networks', to_jsonb(c.scope_networks), 'scope_hosts', to_jsonb(c.scope_hosts))
    FROM public.credential_sets c
   ORDER BY c.kind, c.try_order, c.name
$$;

REVOKE ALL ON FUNCTION public.dispatcher_v1_discovery_sets(text[], uuid[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.dispatcher_v1_set_credential_scope(text, text[], text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_discovery_sets(text[], uuid[]) TO dcops_dispatcher;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_set_credential_scope(text, text[], text[], text) TO dcops_dispatcher;
