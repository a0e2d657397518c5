-- Input validation for create_job: a JSON-Schema subset for parameters, and target scopes.
-- Both return NULL when the input is valid, else one message that names the offending
-- field by its path ("params.action: must be one of On, ForceOff, ...").

-- Supported keywords: type (string, integer, number, boolean, object, array), enum,
-- minimum, maximum, minLength, maxLength, pattern, required, properties,
-- additionalProperties (boolean), items, minItems, maxItems.
CREATE OR REPLACE FUNCTION public.dcops_validate_json(p_value jsonb, p_schema jsonb, p_path text)
  RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_type   text := p_schema ->> 'type';
  v_actual text := jsonb_typeof(p_value);
  v_key    text;
  v_item   jsonb;
  v_err    text;
  v_i      int := 0;
  v_num    numeric;
BEGIN
  IF v_type IS NOT NULL THEN
    IF v_type = 'integer' THEN
      IF v_actual <> 'number' OR (p_value #>> '{}')::numeric <> trunc((p_value #>> '{}')::numeric) THEN
        RETURN format('%s: must be an integer, got %s', p_path, left(p_value::text, 60));
      END IF;
    ELSIF v_type = 'number' THEN
      IF v_actual <> 'number' THEN
        RETURN format('%s: must be a number, got %s', p_path, v_actual);
      END IF;
    ELSIF v_actual IS DISTINCT FROM v_type THEN
      RETURN format('%s: must be %s %s, got %s', p_path,
                    CASE WHEN v_type IN ('object', 'array', 'integer') THEN 'an' ELSE 'a' END,
                    v_type, coalesce(v_actual, 'nothing'));
    END IF;
  END IF;

  IF p_schema ? 'enum' AND NOT (p_schema -> 'enum') @> jsonb_build_array(p_value) THEN
    RETURN format('%s: must be one of %s, got %s', p_path,
                  (SELECT string_agg(e #>> '{}', ', ') FROM jsonb_array_elements(p_schema -> 'enum') e),
                  left(p_value #>> '{}', 60));
  END IF;

  IF v_actual = 'number' THEN
    v_num := (p_value #>> '{}')::numeric;
    IF p_schema ? 'minimum' AND v_num < (p_schema ->> 'minimum')::numeric THEN
      RETURN format('%s: must be at least %s, got %s', p_path, p_schema ->> 'minimum', v_num);
    END IF;
    IF p_schema ? 'maximum' AND v_num > (p_schema ->> 'maximum')::numeric THEN
      RETURN format('%s: must be at most %s, got %s', p_path, p_schema ->> 'maximum', v_num);
    END IF;
  ELSIF v_actual = 'string' THEN
    IF p_schema ? 'minLength' AND length(p_value #>> '{}') < (p_schema ->> 'minLength')::int THEN
      RETURN format('%s: must be at least %s characters', p_path, p_schema ->> 'minLength');
    END IF;
    IF p_schema ? 'maxLength' AND length(p_value #>> '{}') > (p_schema ->> 'maxLength')::int THEN
      RETURN format('%s: must be at most %s characters', p_path, p_schema ->> 'maxLength');
    END IF;
    IF p_schema ? 'pattern' AND (p_value #>> '{}') !~ (p_schema ->> 'pattern') THEN
      RETURN format('%s: %s is not valid here (expected pattern %s)', p_path,
                    left(p_value::text, 80), p_schema ->> 'pattern');
    END IF;
  ELSIF v_actual = 'array' THEN
    IF p_schema ? 'minItems' AND jsonb_array_length(p_value) < (p_schema ->> 'minItems')::int THEN
      RETURN format('%s: needs at least %s item(s)', p_path, p_schema ->> 'minItems');
    END IF;
    IF p_schema ? 'maxItems' AND jsonb_array_length(p_value) > (p_schema ->> 'maxItems')::int THEN
      RETURN format('%s: has %s items, at most %s allowed', p_path,
                    jsonb_array_length(p_value), p_schema ->> 'maxItems');
    END IF;
    IF p_schema ? 'items' THEN
      FOR v_item IN SELECT value FROM jsonb_array_elements(p_value) LOOP
        v_err := public.dcops_validate_json(v_item, p_schema -> 'items', format('%s[%s]', p_path, v_i));
        IF v_err IS NOT NULL THEN RETURN v_err; END IF;
        v_i := v_i + 1;
      END LOOP;
    END IF;
  ELSIF v_actual = 'object' THEN
    IF p_schema ? 'required' THEN
      FOR v_key IN SELECT jsonb_array_elements_text(p_schema -> 'required') LOOP
        IF NOT p_value ? v_key THEN
          RETURN format('%s.%s: is required', p_path, v_key);
        END IF;
      END LOOP;
    END IF;
    FOR v_key, v_item IN SELECT key, value FROM jsonb_each(p_value) ORDER BY key LOOP
      IF p_schema -> 'properties' ? v_key THEN
        v_err := public.dcops_validate_json(v_item, p_schema -> 'properties' -> v_key,
                                            format('%s.%s', p_path, v_key));
        IF v_err IS NOT NULL THEN RETURN v_err; END IF;
      ELSIF (p_schema -> 'additionalProperties') = 'false'::jsonb THEN
        RETURN format('%s.%s: unknown parameter (known: %s)', p_path, v_key,
                      coalesce((SELECT string_agg(k, ', ' ORDER BY k)
                                  FROM jsonb_object_keys(coalesce(p_schema -> 'properties', '{}')) k),
                               'none'));
      END IF;
    END LOOP;
  END IF;
  RETURN NULL;
END
$$;

-- Target scopes: a JSON object with an optional "site" and exactly one targeting key out of
-- the job type's scope_kinds:
--   server_ids        [uuid, ...]            servers by id (must exist)
--   bmc_addresses     ["host[:port]", ...]   BMCs by address
--   all_servers       true                   every server of the site
--   ranges            ["10.0.0.0/24", "a.b.c.d-a.b.c.e", "a.b.c.d"]   discovery
--   vcenter_id, cluster_id, ome_endpoint_id, zfs_host_id   uuid (must exist)
--   vcenter_host_ids  [uuid, ...]            ESXi hosts by id (must exist)
CREATE OR REPLACE FUNCTION public.dcops_validate_scope(p_scope jsonb, p_kinds text[])
  RETURNS text
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, public
AS $$
DECLARE
  c_uuid    constant text := '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
  v_targets text[];
  v_kind    text;
  v_value   jsonb;
  v_err     text;
  v_missing text;
  v_total   numeric := 0;
  v_item    text;
  v_lo      inet;
  v_hi      inet;
BEGIN
  IF p_scope IS NULL OR jsonb_typeof(p_scope) <> 'object' THEN
    RETURN 'target_scope: must be a JSON object such as {"server_ids": ["..."]}';
  END IF;
  IF p_scope ? 'site' AND (jsonb_typeof(p_scope -> 'site') <> 'string'
                           OR (p_scope ->> 'site') !~ '^[a-z0-9][a-z0-9_-]{0,62}$') THEN
    RETURN 'target_scope.site: must be a site name (lower-case letters, digits, - and _)';
  END IF;
  SELECT array_agg(k ORDER BY k) INTO v_targets FROM jsonb_object_keys(p_scope) k WHERE k <> 'site';
  FOREACH v_kind IN ARRAY coalesce(v_targets, '{}') LOOP
    IF NOT v_kind = ANY (p_kinds) THEN
      RETURN format('target_scope.%s: not a target for this job type (use one of: %s)',
                    v_kind, array_to_string(p_kinds, ', '));
    END IF;
  END LOOP;
  IF coalesce(array_length(v_targets, 1), 0) <> 1 THEN
    RETURN format('target_scope: needs exactly one of: %s', array_to_string(p_kinds, ', '));
  END IF;
  v_kind := v_targets[1];
  v_value := p_scope -> v_kind;

  IF v_kind IN ('server_ids', 'vcenter_host_ids') THEN
    v_err := public.dcops_validate_json(v_value,
      jsonb_build_object('type', 'array', 'minItems', 1, 'maxItems', 10000,
                         'items', jsonb_build_object('type', 'string', 'pattern', c_uuid)),
      'target_scope.' || v_kind);
    IF v_err IS NOT NULL THEN RETURN v_err; END IF;
    IF v_kind = 'server_ids' THEN
      SELECT e INTO v_missing FROM jsonb_array_elements_text(v_value) e
       WHERE NOT EXISTS (SELECT 1 FROM public.servers s WHERE s.id = e::uuid) LIMIT 1;
    ELSE
      SELECT e INTO v_missing FROM jsonb_array_elements_text(v_value) e
       WHERE NOT EXISTS (SELECT 1 FROM public.vcenter_hosts h WHERE h.id = e::uuid) LIMIT 1;
    END IF;
    IF v_missing IS NOT NULL THEN
      RETURN format('target_scope.%s: no %s with id %s', v_kind,
                    CASE v_kind WHEN 'server_ids' THEN 'server' ELSE 'vCenter host' END, v_missing);
    END IF;
    IF (SELECT count(DISTINCT e) FROM jsonb_array_elements_text(v_value) e) <> jsonb_array_length(v_value) THEN
      RETURN format('target_scope.%s: lists the same id twice', v_kind);
    END IF;
  ELSIF v_kind = 'bmc_addresses' THEN
    RETURN public.dcops_validate_json(v_value,
      '{"type":"array","minItems":1,"maxItems":10000,"items":{"type":"string","maxLength":253,
        "pattern":"^([A-Za-z0-9]([A-Za-z0-9-]{0,62})(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?$"}}'::jsonb,
      'target_scope.bmc_addresses');
  ELSIF v_kind = 'all_servers' THEN
    IF v_value <> 'true'::jsonb THEN
      RETURN 'target_scope.all_servers: must be true';
    END IF;
  ELSIF v_kind = 'ranges' THEN
    v_err := public.dcops_validate_json(v_value,
      '{"type":"array","minItems":1,"maxItems":1024,"items":{"type":"string","maxLength":100}}'::jsonb,
      'target_scope.ranges');
    IF v_err IS NOT NULL THEN RETURN v_err; END IF;
    FOR v_item IN SELECT jsonb_array_elements_text(v_value) LOOP
      BEGIN
        IF position('-' IN v_item) > 0 THEN
          v_lo := split_part(v_item, '-', 1)::inet;
          v_hi := split_part(v_item, '-', 2)::inet;
          IF family(v_lo) <> 4 OR family(v_hi) <> 4 OR masklen(v_lo) <> 32 OR masklen(v_hi) <> 32 THEN
            RETURN format('target_scope.ranges: %s is not an IPv4 range a.b.c.d-a.b.c.e', v_item);
          END IF;
          IF v_hi < v_lo THEN
            RETURN format('target_scope.ranges: %s ends before it starts', v_item);
          END IF;
          v_total := v_total + (v_hi - v_lo) + 1;
        ELSE
          v_lo := v_item::cidr;
          v_total := v_total + 2 ^ (CASE family(v_lo) WHEN 4 THEN 32 ELSE 128 END - masklen(v_lo));
        END IF;
      EXCEPTION WHEN invalid_text_representation OR invalid_parameter_value OR data_exception THEN
        RETURN format('target_scope.ranges: %s is not an address, CIDR or a.b.c.d-a.b.c.e range', v_item);
      END;
    END LOOP;
    IF v_total > 65536 THEN
      RETURN format('target_scope.ranges: covers %s addresses, at most 65536 per scan', v_total);
    END IF;
  ELSIF v_kind IN ('vcenter_id', 'cluster_id', 'ome_endpoint_id', 'zfs_host_id') THEN
    IF jsonb_typeof(v_value) <> 'string' OR (v_value #>> '{}') !~ c_uuid THEN
      RETURN format('target_scope.%s: must be a UUID string', v_kind);
    END IF;
    IF NOT (CASE v_kind
      WHEN 'vcenter_id' THEN EXISTS (SELECT 1 FROM public.vcenters WHERE id = (v_value #>> '{}')::uuid)
      WHEN 'cluster_id' THEN EXISTS (SELECT 1 FROM public.vcenter_clusters WHERE id = (v_value #>> '{}')::uuid)
      WHEN 'ome_endpoint_id' THEN EXISTS (SELECT 1 FROM public.ome_endpoints WHERE id = (v_value #>> '{}')::uuid)
      ELSE EXISTS (SELECT 1 FROM public.zfs_hosts WHERE id = (v_value #>> '{}')::uuid)
    END) THEN
      RETURN format('target_scope.%s: nothing with id %s', v_kind, v_value #>> '{}');
    END IF;
  ELSE
    RETURN format('target_scope.%s: unknown scope kind', v_kind);
  END IF;
  RETURN NULL;
END
$$;
