-- Discovery results into the inventory. For each Redfish service a scan found:
--   {"bmc_address": "127.0.80.4:18443", "service_tag": "7XK2QF3", "tls_pin_sha256": "ab…",
--    "credential_set_id": "…" | null, "login": "ok" | "refused" | "error" | "untried", …}
-- a server the inventory does not know (by service tag, else by address) is added with
-- source 'discovery'; a known one keeps its row and only gains what it lacked (a credential
-- set that works, the certificate pin). Pins an operator set are never replaced.
-- Returns {"added": n, "known": m, "refresh": ["address", …]}: the authenticated servers
-- that are new or had no working credentials before, for the dispatcher to refresh.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_record_discovery(p_site text, p_found jsonb)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_item    jsonb;
  v_id      uuid;
  v_bmc     text;
  v_tag     text;
  v_cred    uuid;
  v_pin     text;
  v_had     uuid;
  v_at      text;
  v_source  text;
  v_added   int := 0;
  v_known   int := 0;
  v_refresh jsonb := '[]';
BEGIN
  IF p_found IS NULL OR jsonb_typeof(p_found) <> 'array' THEN
    RAISE EXCEPTION 'found: must be an array' USING ERRCODE = '22023';
  END IF;
  FOR v_item IN SELECT * FROM jsonb_array_elements(p_found) LOOP
    v_bmc := nullif(trim(v_item ->> 'bmc_address'), '');
    IF v_bmc IS NULL THEN
      RAISE EXCEPTION 'found[].bmc_address: is required' USING ERRCODE = '22023';
    END IF;
    v_tag := nullif(trim(v_item ->> 'service_tag'), '');
    v_cred := CASE WHEN v_item ->> 'login' = 'ok' THEN (v_item ->> 'credential_set_id')::uuid END;
    v_pin := nullif(v_item ->> 'tls_pin_sha256', '');
    v_id := NULL;
    IF v_tag IS NOT NULL THEN
      SELECT id, credential_set_id, bmc_address, source INTO v_id, v_had, v_at, v_source
        FROM public.servers WHERE upper(service_tag) = upper(v_tag);
    END IF;
    IF v_id IS NULL THEN
      SELECT id, credential_set_id, bmc_address, source INTO v_id, v_had, v_at, v_source
        FROM public.servers WHERE site = p_site AND bmc_address = v_bmc;
    END IF;
    IF v_id IS NULL THEN
      v_id := public.dispatcher_v1_upsert_server(p_site, jsonb_strip_nulls(jsonb_build_object(
                'bmc_address', v_bmc, 'service_tag', v_tag, 'source', 'discovery')));
      v_added := v_added + 1;
      v_had := NULL;
    ELSE
      v_known := v_known + 1;
      IF v_at IS DISTINCT FROM v_bmc THEN
        -- The server answers at a new address: the upsert moves it (and frees the address
        -- from any row that held it), keeping the row's source.
        PERFORM public.dispatcher_v1_upsert_server(p_site, jsonb_strip_nulls(jsonb_build_object(
                  'bmc_address', v_bmc, 'service_tag', v_tag, 'source', v_source)));
      END IF;
    END IF;
    UPDATE public.servers s
       SET credential_set_id = coalesce(s.credential_set_id, v_cred),
           tls_pin_sha256 = coalesce(s.tls_pin_sha256, v_pin)
     WHERE s.id = v_id;
    IF v_cred IS NOT NULL AND v_had IS NULL THEN
      v_refresh := v_refresh || to_jsonb(v_bmc);
    END IF;
  END LOOP;
  RETURN jsonb_build_object('added', v_added, 'known', v_known, 'refresh', v_refresh);
END
$$;

REVOKE ALL ON FUNCTION public.dispatcher_v1_record_discovery(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_record_discovery(text, jsonb) TO dcops_dispatcher;
