-- What Supabase already provides, created only where it is absent, so the same migration
-- set loads into Supabase and into a plain PostgreSQL 15 (where RLS can then be tested):
-- the API roles anon / authenticated / service_role, and auth.uid() / auth.role() /
-- auth.jwt() reading the JWT claims that PostgREST puts into request.jwt.claims.
-- Also the dispatcher's own least-privilege role, which exists in both worlds.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
  END IF;
  -- The dispatcher logs in as a role that is a member of this one (created by the operator,
  -- with its own password; no password lives in a migration). It is granted the
  -- dispatcher_v1_* functions and nothing else.
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dcops_dispatcher') THEN
    CREATE ROLE dcops_dispatcher NOLOGIN NOINHERIT;
  END IF;
END
$$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'auth') THEN
    CREATE SCHEMA auth;
    GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
  END IF;

  IF to_regprocedure('auth.jwt()') IS NULL THEN
    CREATE FUNCTION auth.jwt() RETURNS jsonb
      LANGUAGE sql STABLE
      AS $fn$
        SELECT coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb
      $fn$;
    GRANT EXECUTE ON FUNCTION auth.jwt() TO anon, authenticated, service_role;
  END IF;

  IF to_regprocedure('auth.uid()') IS NULL THEN
    CREATE FUNCTION auth.uid() RETURNS uuid
      LANGUAGE sql STABLE
      AS $fn$
        SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                        auth.jwt() ->> 'sub')::uuid
      $fn$;
    GRANT EXECUTE ON FUNCTION auth.uid() TO anon, authenticated, service_role;
  END IF;

  IF to_regprocedure('auth.role()') IS NULL THEN
    CREATE FUNCTION auth.role() RETURNS text
      LANGUAGE sql STABLE
      AS $fn$
        SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                        auth.jwt() ->> 'role')
      $fn$;
    GRANT EXECUTE ON FUNCTION auth.role() TO anon, authenticated, service_role;
  END IF;
END
$$;
