-- Full server inventory (server.refresh): RAID volumes join the component tables, and one
-- entry point writes a whole refresh in one transaction.

CREATE TABLE IF NOT EXISTS public.server_volumes (
  server_id      uuid NOT NULL REFERENCES public.servers(id) ON DELETE CASCADE,
  volume_id      text NOT NULL,   -- "Disk.Virtual.0:RAID.Integrated.1-1"
  name           text,
  raid_type      text,
  capacity_bytes bigint,
  health         text,
  controller     text,
  drives         text[] NOT NULL DEFAULT '{}',  -- drive slots (server_drives.slot)
  PRIMARY KEY (server_id, volume_id)
);
ALTER TABLE public.server_volumes ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS viewer_read ON public.server_volumes;
CREATE POLICY viewer_read ON public.server_volumes FOR SELECT TO authenticated
  USING (public.dcops_has_role('viewer'));
GRANT SELECT ON public.server_volumes TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.server_volumes TO service_role;

-- What each component list looked like when a refresh last wrote it (md5 of its JSON), so a
-- refresh that finds nothing changed rewrites nothing: most refreshes of a fleet are that.
ALTER TABLE public.servers ADD COLUMN IF NOT EXISTS inventory_digests jsonb NOT NULL DEFAULT '{}';

-- Any other write to a component table (OME's sync, an operator's fix) forgets that list's
-- digest, so the next refresh writes the list again instead of trusting a stale digest.
CREATE OR REPLACE FUNCTION dcops_internal.forget_inventory_digest() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
BEGIN
  -- The refresh's own writes keep their digests (it sets them itself, after).
  IF current_setting('dcops.inventory_writer', true) = 'on' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' THEN
    UPDATE public.servers s SET inventory_digests = s.inventory_digests - TG_ARGV[0]
     WHERE s.id IN (SELECT DISTINCT server_id FROM old_rows) AND s.inventory_digests ? TG_ARGV[0];
  ELSE
    UPDATE public.servers s SET inventory_digests = s.inventory_digests - TG_ARGV[0]
     WHERE s.id IN (SELECT DISTINCT server_id FROM new_rows) AND s.inventory_digests ? TG_ARGV[0];
  END IF;
  RETURN NULL;
END
$$;

DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT * FROM (VALUES ('server_processors', 'processors'), ('server_memory', 'memory'),
                                 ('server_drives', 'drives'), ('server_nics', 'nics'),
                                 ('server_firmware', 'firmware'), ('server_volumes', 'volumes')) AS v(tbl, key) LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER INSERT ON public.%I REFERENCING NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION dcops_internal.forget_inventory_digest(%L)',
                   t.tbl || '_forget_digest_ins', t.tbl, t.key);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER UPDATE ON public.%I REFERENCING NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION dcops_internal.forget_inventory_digest(%L)',
                   t.tbl || '_forget_digest_upd', t.tbl, t.key);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER DELETE ON public.%I REFERENCING OLD TABLE AS old_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION dcops_internal.forget_inventory_digest(%L)',
                   t.tbl || '_forget_digest_del', t.tbl, t.key);
  END LOOP;
END
$$;

-- One refresh: dispatcher_v1_upsert_server for the server and the component lists that
-- changed since the last refresh, then the volumes when the refresh read storage ("volumes"
-- present, possibly empty) and they changed. Returns the server id.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_upsert_server_inventory(p_site text, p_server jsonb)
  RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_id      uuid;
  v_server  jsonb := p_server;
  v_digests jsonb;
  v_changed jsonb := '{}';
  v_key     text;
  v_md5     text;
  v_tag     text := nullif(trim(p_server ->> 'service_tag'), '');
BEGIN
  IF p_server IS NULL OR jsonb_typeof(p_server) <> 'object' THEN
    RAISE EXCEPTION 'server: must be a JSON object' USING ERRCODE = '22023';
  END IF;
  IF p_server ? 'volumes' AND jsonb_typeof(p_server -> 'volumes') <> 'array' THEN
    RAISE EXCEPTION 'server.volumes: must be an array' USING ERRCODE = '22023';
  END IF;
  -- The row the upsert will find (by service tag, else by address), for its digests.
  IF v_tag IS NOT NULL THEN
    SELECT inventory_digests INTO v_digests FROM public.servers WHERE upper(service_tag) = upper(v_tag);
  END IF;
  IF v_digests IS NULL THEN
    SELECT inventory_digests INTO v_digests FROM public.servers
     WHERE site = p_site AND bmc_address = nullif(trim(p_server ->> 'bmc_address'), '');
  END IF;
  FOREACH v_key IN ARRAY ARRAY['processors', 'memory', 'drives', 'nics', 'firmware', 'volumes'] LOOP
    CONTINUE WHEN NOT v_server ? v_key;
    v_md5 := md5((v_server -> v_key)::text);
    IF coalesce(v_digests ->> v_key, '') = v_md5 THEN
      v_server := v_server - v_key;  -- unchanged: left as it is
    ELSE
      v_changed := v_changed || jsonb_build_object(v_key, v_md5);
    END IF;
  END LOOP;
  PERFORM set_config('dcops.inventory_writer', 'on', true);
  v_id := public.dispatcher_v1_upsert_server(p_site, v_server);
  IF v_changed <> '{}' THEN
    UPDATE public.servers SET inventory_digests = inventory_digests || v_changed WHERE id = v_id;
  END IF;
  IF v_server ? 'volumes' THEN
    DELETE FROM public.server_volumes WHERE server_id = v_id;
    INSERT INTO public.server_volumes (server_id, volume_id, name, raid_type, capacity_bytes, health, controller, drives)
    SELECT DISTINCT ON (x.volume_id) v_id, x.volume_id, x.name, x.raid_type, x.capacity_bytes, x.health,
           x.controller, coalesce(ARRAY(SELECT jsonb_array_elements_text(x.drives)), '{}')
      FROM jsonb_to_recordset(v_server -> 'volumes')
           AS x(volume_id text, name text, raid_type text, capacity_bytes bigint, health text,
                controller text, drives jsonb)
     WHERE x.volume_id IS NOT NULL;
  END IF;
  PERFORM set_config('dcops.inventory_writer', 'off', true);
  RETURN v_id;
END
$$;

REVOKE ALL ON FUNCTION public.dispatcher_v1_upsert_server_inventory(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_upsert_server_inventory(text, jsonb) TO dcops_dispatcher;
