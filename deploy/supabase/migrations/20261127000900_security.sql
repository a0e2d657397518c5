-- Who can do what.
--   anon            nothing
--   authenticated   as its user_roles row says:
--                     viewer   reads inventory, jobs, steps, events, agents, schedules
--                     operator also creates and cancels jobs (create_job / cancel_job only)
--                     admin    also manages credential sets (never their ciphertext),
--                              schedules, endpoints, servers, user roles; reads the audit log
--   service_role    Supabase's trusted backend role (bypasses RLS)
--   dcops_dispatcher  EXECUTE on dispatcher_v1_* and nothing else
-- No UI role can read credential_sets.ciphertext: the column is not granted to anyone.

-- 1. Start from nothing: Supabase grants broad default privileges on public to its API roles.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM anon, authenticated, dcops_dispatcher;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM anon, authenticated, dcops_dispatcher;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC, anon, authenticated, dcops_dispatcher;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA dcops_internal FROM PUBLIC, anon, authenticated, dcops_dispatcher;
REVOKE ALL ON SCHEMA dcops_internal FROM PUBLIC, anon, authenticated, dcops_dispatcher;

-- 2. Row-level security on every table.
DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
  END LOOP;
END
$$;

-- 3. Viewers (and up) read; the policies are the same shape for every readable table.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['jobs', 'job_tasks', 'job_task_deps', 'job_events', 'job_types',
                           'agents', 'servers', 'server_processors', 'server_memory',
                           'server_drives', 'server_nics', 'server_firmware', 'vcenters',
                           'vcenter_clusters', 'vcenter_hosts', 'vcenter_vms',
                           'vcenter_datastores', 'vcenter_networks', 'ome_endpoints',
                           'zfs_hosts', 'schedules', 'credential_sets']
  LOOP
    EXECUTE format('DROP POLICY IF EXISTS viewer_read ON public.%I', t);
    EXECUTE format('CREATE POLICY viewer_read ON public.%I FOR SELECT TO authenticated '
                   'USING (public.dcops_has_role(''viewer''))', t);
    IF t <> 'credential_sets' THEN
      EXECUTE format('GRANT SELECT ON public.%I TO authenticated', t);
    END IF;
  END LOOP;

  -- 4. Admins manage configuration: endpoints, servers, schedules, credential metadata.
  FOREACH t IN ARRAY ARRAY['vcenters', 'ome_endpoints', 'zfs_hosts', 'servers', 'schedules',
                           'credential_sets', 'user_roles']
  LOOP
    EXECUTE format('DROP POLICY IF EXISTS admin_insert ON public.%I', t);
    EXECUTE format('CREATE POLICY admin_insert ON public.%I FOR INSERT TO authenticated '
                   'WITH CHECK (public.dcops_has_role(''admin''))', t);
    EXECUTE format('DROP POLICY IF EXISTS admin_update ON public.%I', t);
    EXECUTE format('CREATE POLICY admin_update ON public.%I FOR UPDATE TO authenticated '
                   'USING (public.dcops_has_role(''admin'')) WITH CHECK (public.dcops_has_role(''admin''))', t);
    EXECUTE format('DROP POLICY IF EXISTS admin_delete ON public.%I', t);
    EXECUTE format('CREATE POLICY admin_delete ON public.%I FOR DELETE TO authenticated '
                   'USING (public.dcops_has_role(''admin''))', t);
  END LOOP;
END
$$;

GRANT INSERT, UPDATE, DELETE ON public.vcenters, public.ome_endpoints, public.zfs_hosts,
  public.servers, public.schedules, public.user_roles TO authenticated;

-- Credential sets: metadata only. The ciphertext is written by the dispatcher (through
-- dispatcher_v1_put_credential_set) and read by nobody else.
GRANT SELECT (id, name, kind, username, description, try_order, has_secret, key_id, created_by,
              created_at, updated_at) ON public.credential_sets TO authenticated;
GRANT INSERT (name, kind, username, description, try_order),
      UPDATE (name, kind, username, description, try_order),
      DELETE ON public.credential_sets TO authenticated;

-- Supabase's service_role (the trusted backend key) gets plain table access as on Supabase,
-- except credential ciphertext, which only the dispatcher's API hands out.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO service_role;
REVOKE ALL ON public.credential_sets FROM service_role;
GRANT SELECT (id, name, kind, username, description, try_order, has_secret, key_id, created_by,
              created_at, updated_at),
      INSERT (name, kind, username, description, try_order),
      UPDATE (name, kind, username, description, try_order),
      DELETE ON public.credential_sets TO service_role;

-- User roles: everyone sees their own row; admins see and manage all.
DROP POLICY IF EXISTS own_or_admin_read ON public.user_roles;
CREATE POLICY own_or_admin_read ON public.user_roles FOR SELECT TO authenticated
  USING (user_id = auth.uid() OR public.dcops_has_role('admin'));
GRANT SELECT ON public.user_roles TO authenticated;

-- The audit log: admins read; nobody writes except the functions and triggers here.
DROP POLICY IF EXISTS admin_read ON public.audit_log;
CREATE POLICY admin_read ON public.audit_log FOR SELECT TO authenticated
  USING (public.dcops_has_role('admin'));
GRANT SELECT ON public.audit_log TO authenticated;

-- 5. Functions. UI: create_job and cancel_job (they check the role themselves) and the role
-- helpers the policies use. Dispatcher: its versioned API.
GRANT EXECUTE ON FUNCTION public.create_job(text, jsonb, jsonb, text, timestamptz, int)
  TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.cancel_job(uuid) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.dcops_has_role(text) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.dcops_role_rank() TO authenticated, service_role;

DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public' AND p.proname LIKE 'dispatcher\_v1\_%' LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO dcops_dispatcher', f);
  END LOOP;
END
$$;

-- 6. Audit of configuration changes made from the UI (secrets never copied).
CREATE OR REPLACE FUNCTION dcops_internal.audit_change() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_row jsonb := to_jsonb(coalesce(NEW, OLD)) - 'ciphertext' - 'key_id';
BEGIN
  INSERT INTO public.audit_log (actor, actor_role, action, object_type, object_id, details)
  VALUES (auth.uid(), coalesce(auth.role(), current_user::text),
          TG_TABLE_NAME || '.' || lower(TG_OP), TG_TABLE_NAME,
          coalesce(v_row ->> 'id', v_row ->> 'user_id'), v_row);
  RETURN NULL;
END
$$;
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['credential_sets', 'user_roles', 'schedules', 'vcenters',
                           'ome_endpoints', 'zfs_hosts']
  LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON public.%I '
                   'FOR EACH ROW EXECUTE FUNCTION dcops_internal.audit_change()', t || '_audit', t);
  END LOOP;
END
$$;

-- 7. Live updates for the UI: jobs, steps and events in Supabase Realtime's publication.
DO $$
DECLARE
  t text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
    CREATE PUBLICATION supabase_realtime;
  END IF;
  FOREACH t IN ARRAY ARRAY['jobs', 'job_tasks', 'job_events'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_publication_tables
                    WHERE pubname = 'supabase_realtime' AND schemaname = 'public' AND tablename = t) THEN
      EXECUTE format('ALTER PUBLICATION supabase_realtime ADD TABLE public.%I', t);
    END IF;
  END LOOP;
END
$$;
