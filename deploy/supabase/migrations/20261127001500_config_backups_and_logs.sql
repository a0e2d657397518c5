-- Server Configuration Profile backups (server.scp_export / server.scp_import) and the SEL and
-- Lifecycle log entries that server.logs collects incrementally.

-- One exported profile. The content is what the iDRAC exported, byte for byte (its sha256 is
-- kept to compare backups). Exports never ask the iDRAC for password hashes, so a profile
-- holds no secret; operators still read backups only (they describe a server's whole setup).
CREATE TABLE IF NOT EXISTS public.server_config_backups (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  server_id   uuid NOT NULL REFERENCES public.servers(id) ON DELETE CASCADE,
  format      text NOT NULL CHECK (format IN ('XML', 'JSON')),
  components  text[] NOT NULL DEFAULT '{ALL}',
  content     text NOT NULL,
  sha256      text NOT NULL,
  size_bytes  int NOT NULL,
  job_id      uuid,
  -- The step that exported it: recording the same step's result twice keeps one backup.
  task_id     uuid UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS server_config_backups_server_idx
  ON public.server_config_backups (server_id, created_at DESC);
ALTER TABLE public.server_config_backups ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS operator_read ON public.server_config_backups;
CREATE POLICY operator_read ON public.server_config_backups FOR SELECT TO authenticated
  USING (public.dcops_has_role('operator'));
GRANT SELECT ON public.server_config_backups TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.server_config_backups TO service_role;

-- Log entries. A cleared SEL numbers its records from 1 again, so an entry is its log, its
-- id and its time.
CREATE TABLE IF NOT EXISTS public.server_log_entries (
  server_id   uuid NOT NULL REFERENCES public.servers(id) ON DELETE CASCADE,
  log         text NOT NULL CHECK (log IN ('sel', 'lifecycle')),
  entry_id    text NOT NULL,
  created     timestamptz NOT NULL,
  severity    text,
  message_id  text,
  message     text,
  sensor_type text,
  entry_code  text,
  collected_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (server_id, log, created, entry_id)
);
CREATE INDEX IF NOT EXISTS server_log_entries_recent_idx
  ON public.server_log_entries (server_id, log, created DESC);
CREATE INDEX IF NOT EXISTS server_log_entries_created_idx ON public.server_log_entries (created);
ALTER TABLE public.server_log_entries ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS viewer_read ON public.server_log_entries;
CREATE POLICY viewer_read ON public.server_log_entries FOR SELECT TO authenticated
  USING (public.dcops_has_role('viewer'));
GRANT SELECT ON public.server_log_entries TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.server_log_entries TO service_role;

-- Where the last collection of each log stopped: the newest entry it saw.
CREATE TABLE IF NOT EXISTS public.server_log_cursors (
  server_id    uuid NOT NULL REFERENCES public.servers(id) ON DELETE CASCADE,
  log          text NOT NULL CHECK (log IN ('sel', 'lifecycle')),
  last_entry_id text NOT NULL,
  last_created timestamptz NOT NULL,
  collected_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (server_id, log)
);
ALTER TABLE public.server_log_cursors ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS viewer_read ON public.server_log_cursors;
CREATE POLICY viewer_read ON public.server_log_cursors FOR SELECT TO authenticated
  USING (public.dcops_has_role('viewer'));
GRANT SELECT ON public.server_log_cursors TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.server_log_cursors TO service_role;

-- The server a step acts on (the planner put it in the step's params as _bmc.server_id).
CREATE OR REPLACE FUNCTION dcops_internal.step_server(p_task_id uuid)
  RETURNS uuid
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_server uuid;
BEGIN
  SELECT nullif(t.params #>> '{_bmc,server_id}', '')::uuid INTO v_server
    FROM public.job_tasks t WHERE t.id = p_task_id;
  IF v_server IS NULL THEN
    RAISE EXCEPTION 'step %: no server in its params', p_task_id USING ERRCODE = '22023';
  END IF;
  RETURN v_server;
END
$$;

-- An export's result: {"format": "XML", "components": ["ALL"], "content": "…", "sha256": "…"}.
-- Returns the backup's id (the existing one when this step was recorded before).
CREATE OR REPLACE FUNCTION public.dispatcher_v1_record_config_backup(p_task_id uuid, p_backup jsonb)
  RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_id      uuid;
  v_content text := p_backup ->> 'content';
BEGIN
  IF v_content IS NULL OR v_content = '' THEN
    RAISE EXCEPTION 'backup.content: is required' USING ERRCODE = '22023';
  END IF;
  IF coalesce(p_backup ->> 'format', '') NOT IN ('XML', 'JSON') THEN
    RAISE EXCEPTION 'backup.format: must be XML or JSON' USING ERRCODE = '22023';
  END IF;
  SELECT id INTO v_id FROM public.server_config_backups WHERE task_id = p_task_id;
  IF v_id IS NOT NULL THEN
    RETURN v_id;
  END IF;
  INSERT INTO public.server_config_backups (server_id, format, components, content, sha256, size_bytes, job_id, task_id)
  SELECT dcops_internal.step_server(p_task_id), p_backup ->> 'format',
         coalesce((SELECT array_agg(c) FROM jsonb_array_elements_text(p_backup -> 'components') c), '{ALL}'),
         v_content, encode(sha256(convert_to(v_content, 'UTF8')), 'hex'), octet_length(v_content),
         (SELECT job_id FROM public.job_tasks WHERE id = p_task_id), p_task_id
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;

-- A backup for an import: {"id", "server_id", "format", "content", "sha256"}, or NULL.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_config_backup(p_id uuid)
  RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT jsonb_build_object('id', b.id, 'server_id', b.server_id, 'format', b.format,
                            'content', b.content, 'sha256', b.sha256)
    FROM public.server_config_backups b WHERE b.id = p_id
$$;

-- Where each log's last collection stopped for a server: {"sel": {"id", "created"}, …}.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_log_cursors(p_server_id uuid)
  RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT coalesce(jsonb_object_agg(c.log, jsonb_build_object(
           'id', c.last_entry_id,
           'created', to_char(c.last_created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))), '{}')
    FROM public.server_log_cursors c WHERE c.server_id = p_server_id
$$;

-- A collection's result: {"logs": [{"log": "sel", "newest": {"id", "created"} | null,
--   "entries": [{"id", "created", "severity", "message_id", "message", "sensor_type",
--   "entry_code"}, …]}, …]}. Entries seen before are kept as they are; each log's cursor
-- moves to the newest entry the BMC showed. Returns {"sel": inserted, "lifecycle": inserted}.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_record_log_entries(p_task_id uuid, p_result jsonb)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_server uuid := dcops_internal.step_server(p_task_id);
  v_log    jsonb;
  v_name   text;
  v_count  int;
  v_out    jsonb := '{}';
BEGIN
  IF jsonb_typeof(p_result -> 'logs') IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'result.logs: must be an array' USING ERRCODE = '22023';
  END IF;
  FOR v_log IN SELECT * FROM jsonb_array_elements(p_result -> 'logs') LOOP
    v_name := v_log ->> 'log';
    IF v_name IS NULL OR v_name NOT IN ('sel', 'lifecycle') THEN
      RAISE EXCEPTION 'result.logs[].log: must be sel or lifecycle' USING ERRCODE = '22023';
    END IF;
    INSERT INTO public.server_log_entries
      (server_id, log, entry_id, created, severity, message_id, message, sensor_type, entry_code)
    SELECT v_server, v_name, e ->> 'id', (e ->> 'created')::timestamptz, e ->> 'severity',
           e ->> 'message_id', e ->> 'message', e ->> 'sensor_type', e ->> 'entry_code'
      FROM jsonb_array_elements(coalesce(v_log -> 'entries', '[]')) e
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    v_out := v_out || jsonb_build_object(v_name, v_count);
    IF jsonb_typeof(v_log -> 'newest') = 'object' THEN
      INSERT INTO public.server_log_cursors (server_id, log, last_entry_id, last_created)
      VALUES (v_server, v_name, v_log #>> '{newest,id}', (v_log #>> '{newest,created}')::timestamptz)
      ON CONFLICT (server_id, log) DO UPDATE
        SET last_entry_id = EXCLUDED.last_entry_id, last_created = EXCLUDED.last_created, collected_at = now();
    END IF;
  END LOOP;
  RETURN v_out;
END
$$;

-- Retention (as before) now also covers log entries: those older than the retention by their
-- own time go, at most 10 × p_batch per call. Configuration backups are kept: operators
-- delete them. Returns the number of jobs deleted, as before.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_prune(p_retention interval, p_batch int DEFAULT 1000)
  RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_n int;
BEGIN
  IF p_retention IS NULL OR p_retention < interval '1 hour' THEN
    RAISE EXCEPTION 'retention: must be at least 1 hour' USING ERRCODE = '22023';
  END IF;
  DELETE FROM public.jobs
   WHERE id IN (SELECT j.id FROM public.jobs j
                 WHERE j.status IN ('succeeded', 'failed', 'cancelled')
                   AND j.finished_at < now() - p_retention
                 ORDER BY j.finished_at
                 LIMIT greatest(p_batch, 1));
  GET DIAGNOSTICS v_n = ROW_COUNT;
  DELETE FROM public.agents
   WHERE status = 'offline' AND disconnected_at < now() - p_retention;
  DELETE FROM public.server_log_entries e
   WHERE (e.server_id, e.log, e.created, e.entry_id) IN
         (SELECT o.server_id, o.log, o.created, o.entry_id FROM public.server_log_entries o
           WHERE o.created < now() - p_retention ORDER BY o.created LIMIT greatest(p_batch, 1) * 10);
  RETURN v_n;
END
$$;

-- The catalog: a push may carry several packages (applied in a safe order, iDRAC last).
UPDATE public.job_types
   SET params_schema = jsonb_set(params_schema, '{properties,package_paths}',
         '{"type":"array","minItems":1,"maxItems":32,"items":{"type":"string","maxLength":1024,"pattern":"^[A-Za-z0-9_./-]+$"}}')
 WHERE job_type = 'server.firmware_update';

DO $$
DECLARE
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['dispatcher_v1_record_config_backup(uuid, jsonb)', 'dispatcher_v1_config_backup(uuid)',
                           'dispatcher_v1_log_cursors(uuid)', 'dispatcher_v1_record_log_entries(uuid, jsonb)']
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION public.%s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION public.%s TO dcops_dispatcher', f);
  END LOOP;
END
$$;
