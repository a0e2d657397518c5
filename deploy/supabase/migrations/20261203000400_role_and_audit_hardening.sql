-- Two low findings of issue 13.
-- 1. The service role is the database role Supabase's trusted key runs as, not a claim: a
--    session whose JWT claims say "service_role" while it runs as another role (a forged or
--    copied claim) is not an admin.
CREATE OR REPLACE FUNCTION public.dcops_role_rank() RETURNS int
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT CASE
    -- current_setting('role') is the session's SET ROLE (PostgREST sets it from the verified
    -- token), unchanged inside this SECURITY DEFINER function.
    WHEN auth.role() = 'service_role' AND current_setting('role', true) = 'service_role' THEN 3
    ELSE coalesce((SELECT CASE r.role WHEN 'viewer' THEN 1 WHEN 'operator' THEN 2
                                      WHEN 'admin' THEN 3 END
                     FROM public.user_roles r WHERE r.user_id = auth.uid()), 0)
  END
$$;

-- 2. The audit log is append-only for every API role, the trusted backend key included: rows
--    are added by the functions and triggers that audit, never changed or removed.
REVOKE UPDATE, DELETE, TRUNCATE ON public.audit_log FROM service_role, authenticated, anon;
CREATE OR REPLACE FUNCTION dcops_internal.audit_log_append_only() RETURNS trigger
  LANGUAGE plpgsql
AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = '42501';
END
$$;
CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON public.audit_log
  FOR EACH ROW EXECUTE FUNCTION dcops_internal.audit_log_append_only();
