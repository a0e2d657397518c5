-- Functions on the job path that PostgreSQL parsed and planned again at every call.
--
-- A LANGUAGE sql function that cannot be inlined (a SET clause, SECURITY DEFINER, or a
-- set-returning function called where it cannot be) is run by PostgreSQL 15's SQL-function
-- executor, which keeps its plan only for the one statement that called it: every call from
-- the dispatcher, and every plan_jobs call, parses, rewrites and plans the body anew. A
-- PL/pgSQL function keeps its prepared statements for the life of the session. Measured in one
-- session, 2,000 calls each (issue 23, part 7; docs/BENCHMARKS.md):
--   dcops_internal.catalog_plan_rows, one one-step plan: 0.19 ms a call as SQL, 0.04 as PL/pgSQL
--     (plan_jobs calls it twice: its checks and its inserts);
--   dispatcher_v1_credential_sets_of_kind and dispatcher_v1_scope_addresses, called per job
--     planned by the dispatcher's server directory.
-- Part 5 tried the other way out for catalog_plan_rows, making it inlinable, and PostgreSQL
-- then planned plan_jobs' checks badly (26 ms a call). A PL/pgSQL function stays opaque to the
-- statement that calls it, so those plans do not change.
--
-- dispatcher_v1_resolve_servers, also called per job planned, had a second cost. The
-- SQL-function executor plans without the parameters' values, so its one statement, which
-- chose the kind of scope by testing the scope in an OR, was planned as a scan of every server
-- of every site, filtered (auto_explain: "Rows Removed by Filter" = the whole table). It now
-- finds each kind by its own index whatever the values (servers_pkey, servers_bmc_uq), or,
-- for all_servers, reads the site's servers, and it runs from the generic plan on purpose:
-- for ids and addresses that is the plan a value-aware planner makes (index lookups), and
-- PostgreSQL, whose generic estimate of an array's size is not the call's, would otherwise
-- plan it anew at every call. For all_servers the generic plan reads the site's servers by its
-- index or reads the table; either way no worse than the old function, which read the table
-- at every call. The rows are the ones the OR gave for valid scopes, and a server two kinds
-- match is still returned once; servers that share an address (in different sites) now come
-- back in id order.
--
-- One difference, deliberate: a malformed scope (server_ids not UUIDs, bmc_addresses not an
-- array) is refused whatever the inventory holds. The old statement raised the same errors
-- only when it had a server row to test them on. Job scopes are validated at creation
-- (dcops_validate_scope), so only a direct caller can pass one.
--
-- Each function keeps its signature, row type, volatility, security and grants (CREATE OR
-- REPLACE keeps grants), and returns the same rows for every valid argument.

CREATE OR REPLACE FUNCTION dcops_internal.catalog_plan_rows(p_plans jsonb)
  RETURNS TABLE (pi int, job_id uuid, si int, step_key text, kind text, target text, params jsonb,
                 depends_on jsonb, mutating boolean, max_attempts int,
                 retry_base_ms int, retry_max_ms int, kind_known boolean)
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT p.ord::int - 1, (p.v ->> 'job_id')::uuid, s.ord::int - 1, s.v ->> 'key', s.v ->> 'kind',
         s.v ->> 'target', coalesce(s.v -> 'params', '{}'), coalesce(s.v -> 'depends_on', '[]'),
         coalesce(kt.mutating, true),
         coalesce((s.v ->> 'max_attempts')::int, kt.max_attempts),
         coalesce((s.v ->> 'retry_base_ms')::int, kt.retry_base_ms),
         coalesce((s.v ->> 'retry_max_ms')::int, kt.retry_max_ms),
         kt.job_type IS NOT NULL
    FROM jsonb_array_elements(p_plans) WITH ORDINALITY AS p(v, ord)
   CROSS JOIN LATERAL jsonb_array_elements(p.v -> 'steps') WITH ORDINALITY AS s(v, ord)
    LEFT JOIN public.job_types kt ON kt.job_type = s.v ->> 'kind';
END
$$;

CREATE OR REPLACE FUNCTION public.dispatcher_v1_resolve_servers(p_site text, p_scope jsonb)
  RETURNS TABLE (server_id uuid, bmc_address text, service_tag text, credential_set_id uuid,
                 tls_verify boolean, tls_pin_sha256 text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
  SET plan_cache_mode = force_generic_plan  -- see above
AS $$
#variable_conflict use_column
DECLARE
  -- Empty when the scope has no such key: = ANY of an empty array reads no index entry.
  v_ids       uuid[] := CASE WHEN p_scope ? 'server_ids'
                             THEN ARRAY(SELECT e::uuid FROM jsonb_array_elements_text(p_scope -> 'server_ids') e)
                             ELSE '{}' END;
  v_addresses text[] := CASE WHEN p_scope ? 'bmc_addresses'
                             THEN ARRAY(SELECT dcops_internal.bmc_address_or_null(e)
                                          FROM jsonb_array_elements_text(p_scope -> 'bmc_addresses') e)
                             ELSE '{}' END;
  v_all       boolean := coalesce(p_scope -> 'all_servers' = 'true'::jsonb, false);
BEGIN
  -- Each kind by its own index; UNION returns a server two kinds match once, as the OR did.
  -- A scope of all the site's servers holds every server its addresses could name.
  IF v_all THEN
    RETURN QUERY
    SELECT s1.id, s1.bmc_address, s1.service_tag, s1.credential_set_id, s1.tls_verify, s1.tls_pin_sha256
      FROM public.servers s1
     WHERE s1.id = ANY (v_ids) AND s1.bmc_address IS NOT NULL                    -- servers_pkey
    UNION
    SELECT s3.id, s3.bmc_address, s3.service_tag, s3.credential_set_id, s3.tls_verify, s3.tls_pin_sha256
      FROM public.servers s3
     WHERE s3.site = p_site AND s3.bmc_address IS NOT NULL
     ORDER BY 2, 1;
  ELSE
    RETURN QUERY
    SELECT s1.id, s1.bmc_address, s1.service_tag, s1.credential_set_id, s1.tls_verify, s1.tls_pin_sha256
      FROM public.servers s1
     WHERE s1.id = ANY (v_ids) AND s1.bmc_address IS NOT NULL                    -- servers_pkey
    UNION
    SELECT s2.id, s2.bmc_address, s2.service_tag, s2.credential_set_id, s2.tls_verify, s2.tls_pin_sha256
      FROM public.servers s2
     WHERE s2.site = p_site AND s2.bmc_address = ANY (v_addresses)              -- servers_bmc_uq
     ORDER BY 2, 1;
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION public.dispatcher_v1_credential_sets_of_kind(p_kind text)
  RETURNS TABLE (id uuid, name text, username text, try_order int)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT c.id, c.name, c.username, c.try_order FROM public.credential_sets c
   WHERE c.kind = p_kind AND c.ciphertext IS NOT NULL
   ORDER BY c.try_order, c.name;
END
$$;

CREATE OR REPLACE FUNCTION public.dispatcher_v1_scope_addresses(p_scope jsonb)
  RETURNS TABLE (bmc_address text)
  LANGUAGE plpgsql IMMUTABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT DISTINCT coalesce(dcops_internal.bmc_address_or_null(e), e)
    FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(p_scope -> 'bmc_addresses') = 'array'
                                        THEN p_scope -> 'bmc_addresses' ELSE '[]' END) e;
END
$$;
