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

-- One refresh: dispatcher_v1_upsert_server for the server and its component lists, then the
-- volumes when the refresh read storage ("volumes" present, possibly empty). Returns the
-- server id.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_upsert_server_inventory(p_site text, p_server jsonb)
  RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_id uuid;
BEGIN
  IF p_server ? 'volumes' AND jsonb_typeof(p_server -> 'volumes') <> 'array' THEN
    RAISE EXCEPTION 'server.volumes: must be an array' USING ERRCODE = '22023';
  END IF;
  v_id := public.dispatcher_v1_upsert_server(p_site, p_server);
  IF p_server ? 'volumes' THEN
    DELETE FROM public.server_volumes WHERE server_id = v_id;
    INSERT INTO public.server_volumes (server_id, volume_id, name, raid_type, capacity_bytes, health, controller, drives)
    SELECT DISTINCT ON (x.volume_id) v_id, x.volume_id, x.name, x.raid_type, x.capacity_bytes, x.health,
           x.controller, coalesce(ARRAY(SELECT jsonb_array_elements_text(x.drives)), '{}')
      FROM jsonb_to_recordset(p_server -> 'volumes')
           AS x(volume_id text, name text, raid_type text, capacity_bytes bigint, health text,
                controller text, drives jsonb)
     WHERE x.volume_id IS NOT NULL;
  END IF;
  RETURN v_id;
END
$$;

REVOKE ALL ON FUNCTION public.dispatcher_v1_upsert_server_inventory(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_upsert_server_inventory(text, jsonb) TO dcops_dispatcher;
