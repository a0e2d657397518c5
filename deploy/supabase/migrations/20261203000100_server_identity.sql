-- Server identity (docs/IDENTITY.md). A server is known by evidence, strongest first: the Dell
-- service tag; the manufacturer + serial number; the SMBIOS system UUID. A BMC address is a
-- location, not an identity. Every writer (refresh, discovery, OME sync, vCenter host links,
-- an admin's insert) resolves identity through dcops_internal.resolve_server, which takes a
-- match only when it is unique and no evidence contradicts it. Anything else becomes a row of
-- server_identity_conflicts (an event on the job, an audit row) and the rows stay apart.

-- 1. Normal forms. Each is IMMUTABLE so indexes and triggers can use it.

-- "host[:port]": host lower-case, IPv4/IPv6 in their canonical text, IPv6 in brackets, port
-- 443 (the default) left out and any other port stated. "https://" and a trailing "/" are
-- accepted and dropped. NULL for an empty or unspecified address (0.0.0.0, ::): no address.
CREATE OR REPLACE FUNCTION dcops_internal.bmc_address(p_address text)
  RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog
AS $$
DECLARE
  v   text := lower(btrim(coalesce(p_address, '')));
  v_host text;
  v_port int := 443;
  v_ip inet;
  v_m text[];
BEGIN
  v := regexp_replace(v, '^https://', '');
  v := regexp_replace(v, '/+$', '');
  IF v = '' THEN
    RETURN NULL;
  END IF;
  IF left(v, 1) = '[' THEN
    v_m := regexp_match(v, '^\[([0-9a-f:.%]+)\](?::([0-9]{1,5}))?$');
    IF v_m IS NULL THEN
      RAISE EXCEPTION 'bmc_address: "%" is not an address; expected host, host:port, IPv6 or [IPv6]:port', p_address
        USING ERRCODE = '22023';
    END IF;
    v_host := v_m[1];
    v_port := coalesce(v_m[2]::int, 443);
  ELSIF v ~ ':.*:' THEN
    v_host := v;  -- a bare IPv6 address has no port
  ELSE
    v_m := regexp_match(v, '^([^:]+)(?::([0-9]{1,5}))?$');
    IF v_m IS NULL THEN
      RAISE EXCEPTION 'bmc_address: "%" is not an address; expected host, host:port, IPv6 or [IPv6]:port', p_address
        USING ERRCODE = '22023';
    END IF;
    v_host := v_m[1];
    v_port := coalesce(v_m[2]::int, 443);
  END IF;
  IF v_port < 1 OR v_port > 65535 THEN
    RAISE EXCEPTION 'bmc_address: port % of "%" is out of range 1-65535', v_port, p_address USING ERRCODE = '22023';
  END IF;
  IF v_host ~ '^[0-9a-f:.%]+$' AND (v_host ~ ':' OR v_host ~ '^[0-9.]+$') THEN
    BEGIN
      v_ip := v_host::inet;
    EXCEPTION WHEN invalid_text_representation THEN
      RAISE EXCEPTION 'bmc_address: "%" is not an IP address', p_address USING ERRCODE = '22023';
    END;
    IF (family(v_ip) = 4 AND masklen(v_ip) <> 32) OR (family(v_ip) = 6 AND masklen(v_ip) <> 128) THEN
      RAISE EXCEPTION 'bmc_address: "%" is a network, not an address', p_address USING ERRCODE = '22023';
    END IF;
    IF v_ip = '0.0.0.0'::inet OR v_ip = '::'::inet THEN
      RETURN NULL;  -- unspecified: the device has no address of this family
    END IF;
    v_host := host(v_ip);
    IF family(v_ip) = 6 THEN
      RETURN '[' || v_host || ']' || CASE WHEN v_port = 443 THEN '' ELSE ':' || v_port END;
    END IF;
  ELSIF v_host !~ '^[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*\.?$' THEN
    RAISE EXCEPTION 'bmc_address: "%" is not a host name or IP address', p_address USING ERRCODE = '22023';
  END IF;
  RETURN rtrim(v_host, '.') || CASE WHEN v_port = 443 THEN '' ELSE ':' || v_port END;
END
$$;

-- An address from a device list that may hold anything: its normal form, or NULL when it is
-- no address (the caller counts it).
CREATE OR REPLACE FUNCTION dcops_internal.bmc_address_or_null(p_address text)
  RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog
AS $$
BEGIN
  RETURN dcops_internal.bmc_address(p_address);
EXCEPTION WHEN invalid_parameter_value THEN
  RETURN NULL;
END
$$;

-- A certificate pin: SHA-256 as 64 hex digits, with or without colons or spaces, any case;
-- stored lower-case without separators.
CREATE OR REPLACE FUNCTION dcops_internal.tls_pin(p_pin text)
  RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog
AS $$
DECLARE
  v text := lower(regexp_replace(coalesce(p_pin, ''), '[:\s]', '', 'g'));
BEGIN
  v := regexp_replace(v, '^sha256=', '');
  IF v = '' THEN
    RETURN NULL;
  END IF;
  IF v !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION 'tls_pin_sha256: expected the certificate''s SHA-256 as 64 hex digits, with or without colons (AB:CD:… or abcd…), got % characters',
      length(p_pin) USING ERRCODE = '22023';
  END IF;
  RETURN v;
END
$$;

-- A service tag or serial number as evidence: trimmed, upper-case; NULL for the placeholders
-- firmware ships when nobody programmed the field ("Default string", "To Be Filled By
-- O.E.M.", "0123456789", all one character, …): those identify nothing.
CREATE OR REPLACE FUNCTION dcops_internal.identity_text(p_value text)
  RETURNS text
  LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE
           WHEN v IS NULL OR v = '' THEN NULL
           WHEN v IN ('DEFAULT STRING', 'TO BE FILLED BY O.E.M.', 'TO BE FILLED BY OEM', 'NOT SPECIFIED',
                      'NOT AVAILABLE', 'NOT APPLICABLE', 'NONE', 'N/A', 'NA', 'UNKNOWN', 'SYSTEM SERIAL NUMBER',
                      'SERIAL NUMBER', 'CHASSIS SERIAL NUMBER', 'DEFAULT', 'EMPTY', 'NULL', 'INVALID',
                      '0123456789', '1234567890', '123456789', '12345678', 'XXXXXXXXXX', 'OEM', 'O.E.M.') THEN NULL
           WHEN v ~ '^(.)\1*$' THEN NULL
           ELSE v
         END
    FROM (SELECT upper(btrim(p_value)) AS v) x
$$;

-- An SMBIOS UUID: lower-case canonical; NULL when absent, malformed, or the all-zero /
-- all-F values of unprogrammed boards.
CREATE OR REPLACE FUNCTION dcops_internal.system_uuid(p_value text)
  RETURNS text
  LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE
           WHEN v !~ '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN NULL
           WHEN replace(v, '-', '') ~ '^(0+|f+)$' THEN NULL
           ELSE v::uuid::text
         END
    FROM (SELECT lower(btrim(coalesce(p_value, ''), ' {}')) AS v) x
$$;

-- The manufacturer as a key: Dell's, HPE's, … spelled one way; NULL for placeholders.
CREATE OR REPLACE FUNCTION dcops_internal.vendor_key(p_manufacturer text)
  RETURNS text
  LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE
           WHEN dcops_internal.identity_text(p_manufacturer) IS NULL THEN NULL
           WHEN v ~ '(^|[^a-z])dell([^a-z]|$)' OR v LIKE 'dell%' THEN 'dell'
           WHEN v ~ '^(hpe|hp|hewlett)' THEN 'hpe'
           WHEN v ~ '^super ?micro' THEN 'supermicro'
           WHEN v ~ '^lenovo' THEN 'lenovo'
           WHEN v ~ '^quanta' THEN 'quanta'
           WHEN v ~ '^cisco' THEN 'cisco'
           WHEN v ~ '^fujitsu' THEN 'fujitsu'
           WHEN v ~ '^inspur' THEN 'inspur'
           ELSE nullif(regexp_replace(regexp_replace(v, '[,.]?\s*(inc|corp|corporation|ltd|co|llc|gmbh|ag|s\.a)\.?$', ''),
                                      '[^a-z0-9]+', '', 'g'), '')
         END
    FROM (SELECT lower(btrim(coalesce(p_manufacturer, ''))) AS v) x
$$;

-- Where two sets of evidence disagree: NULL when nothing they both have differs, else which
-- kind differs ("service tag", "manufacturer", "serial number", "system UUID"). A service tag
-- implies Dell. Serial numbers are compared only between the same manufacturer (or when one
-- side does not know it).
CREATE OR REPLACE FUNCTION dcops_internal.identity_clash(a_tag text, a_vendor text, a_serial text, a_uuid text,
                                                        b_tag text, b_vendor text, b_serial text, b_uuid text)
  RETURNS text
  LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE
           WHEN a_tag <> b_tag THEN 'service tag'
           WHEN coalesce(a_vendor, CASE WHEN a_tag IS NOT NULL THEN 'dell' END)
                <> coalesce(b_vendor, CASE WHEN b_tag IS NOT NULL THEN 'dell' END) THEN 'manufacturer'
           WHEN a_serial <> b_serial THEN 'serial number'
           WHEN a_uuid <> b_uuid THEN 'system UUID'
         END
$$;

-- 2. The servers table keeps evidence in its normal forms.
ALTER TABLE public.servers
  ADD COLUMN IF NOT EXISTS vendor_key text,
  -- observed: a Redfish refresh or discovery answered at the address; reported: OME or an
  -- admin said so. An observation outranks a report.
  ADD COLUMN IF NOT EXISTS address_source text CHECK (address_source IN ('observed', 'reported'));
ALTER TABLE public.servers DROP CONSTRAINT IF EXISTS servers_check;
ALTER TABLE public.servers DROP CONSTRAINT IF EXISTS servers_evidence_check;
ALTER TABLE public.servers ADD CONSTRAINT servers_evidence_check
  CHECK (bmc_address IS NOT NULL OR service_tag IS NOT NULL OR serial_number IS NOT NULL OR system_uuid IS NOT NULL)
  NOT VALID;
CREATE INDEX IF NOT EXISTS servers_vendor_serial_idx ON public.servers (vendor_key, upper(serial_number))
  WHERE serial_number IS NOT NULL;

-- Every write, whoever makes it, stores the normal forms (and is refused when a value cannot
-- be one). A row written before this migration keeps its text until it is next written.
CREATE OR REPLACE FUNCTION dcops_internal.normalize_server() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.bmc_address IS DISTINCT FROM OLD.bmc_address THEN
    NEW.bmc_address := dcops_internal.bmc_address(NEW.bmc_address);
  END IF;
  IF TG_OP = 'INSERT' OR NEW.tls_pin_sha256 IS DISTINCT FROM OLD.tls_pin_sha256 THEN
    NEW.tls_pin_sha256 := dcops_internal.tls_pin(NEW.tls_pin_sha256);
  END IF;
  -- (A row's stored values are in their normal forms already: only what changes is redone.)
  IF TG_OP = 'INSERT' OR NEW.service_tag IS DISTINCT FROM OLD.service_tag OR current_setting('dcops.renormalize', true) = 'on' THEN
    NEW.service_tag := dcops_internal.identity_text(NEW.service_tag);
  END IF;
  IF TG_OP = 'INSERT' OR NEW.serial_number IS DISTINCT FROM OLD.serial_number OR current_setting('dcops.renormalize', true) = 'on' THEN
    NEW.serial_number := dcops_internal.identity_text(NEW.serial_number);
  END IF;
  IF TG_OP = 'INSERT' OR NEW.system_uuid IS DISTINCT FROM OLD.system_uuid OR current_setting('dcops.renormalize', true) = 'on' THEN
    NEW.system_uuid := dcops_internal.system_uuid(NEW.system_uuid);
  END IF;
  IF TG_OP = 'INSERT' OR NEW.manufacturer IS DISTINCT FROM OLD.manufacturer OR NEW.service_tag IS DISTINCT FROM OLD.service_tag
     OR NEW.vendor_key IS DISTINCT FROM OLD.vendor_key OR current_setting('dcops.renormalize', true) = 'on' THEN
    -- A service tag implies Dell when no manufacturer was reported.
    NEW.vendor_key := coalesce(dcops_internal.vendor_key(NEW.manufacturer),
                               CASE WHEN NEW.service_tag IS NOT NULL THEN 'dell' END);
  END IF;
  IF NEW.service_tag IS NOT NULL AND NEW.vendor_key IS NOT NULL AND NEW.vendor_key <> 'dell' THEN
    RAISE EXCEPTION 'service_tag: a service tag is Dell''s; a % server is known by its serial number', NEW.manufacturer
      USING ERRCODE = '22023';
  END IF;
  IF NEW.bmc_address IS NULL THEN
    NEW.address_source := NULL;
  ELSIF NEW.address_source IS NULL THEN
    NEW.address_source := 'reported';
  END IF;
  RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER servers_normalize BEFORE INSERT OR UPDATE ON public.servers
  FOR EACH ROW EXECUTE FUNCTION dcops_internal.normalize_server();

-- 3. Conflicts: what the resolver would not decide. One open row per subject; seeing it again
-- counts it. The UI reads them like the inventory; admins (and the dispatcher for the CLI)
-- resolve them through resolve_identity_conflict.
CREATE TABLE IF NOT EXISTS public.server_identity_conflicts (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site          text NOT NULL DEFAULT 'default',
  kind          text NOT NULL CHECK (kind IN ('evidence_disagrees', 'address_claimed', 'might_be_same', 'host_link')),
  subject       text NOT NULL,  -- what it is about: "address:…", "tag:…", "serial:…", "uuid:…", "host:<vcenter>/<moref>"
  status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed', 'cleared')),
  message       text NOT NULL,
  server_ids    uuid[] NOT NULL DEFAULT '{}',
  host_id       uuid REFERENCES public.vcenter_hosts(id) ON DELETE CASCADE,
  evidence      jsonb NOT NULL DEFAULT '{}',
  job_id        uuid REFERENCES public.jobs(id) ON DELETE SET NULL,
  task_id       uuid REFERENCES public.job_tasks(id) ON DELETE SET NULL,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  seen_count    int NOT NULL DEFAULT 1,
  resolved_at   timestamptz,
  resolved_by   text,
  resolution    jsonb
);
CREATE UNIQUE INDEX IF NOT EXISTS server_identity_conflicts_open_uq
  ON public.server_identity_conflicts (site, subject) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS server_identity_conflicts_recent_idx
  ON public.server_identity_conflicts (site, status, last_seen_at DESC);
ALTER TABLE public.server_identity_conflicts ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS viewer_read ON public.server_identity_conflicts;
CREATE POLICY viewer_read ON public.server_identity_conflicts FOR SELECT TO authenticated
  USING (public.dcops_has_role('viewer'));
GRANT SELECT ON public.server_identity_conflicts TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.server_identity_conflicts TO service_role;

-- An operator's link decision is kept: automatic linking leaves a pinned host alone. A host's
-- evidence is kept in its normal forms too (written once per sync, read at every linking).
ALTER TABLE public.vcenter_hosts
  ADD COLUMN IF NOT EXISTS link_pinned boolean NOT NULL DEFAULT false,
  ADD COLUMN IF NOT EXISTS link_evidence text,
  ADD COLUMN IF NOT EXISTS tag_key text,
  ADD COLUMN IF NOT EXISTS vendor_key text,
  ADD COLUMN IF NOT EXISTS serial_key text,
  ADD COLUMN IF NOT EXISTS uuid_key text;
CREATE OR REPLACE FUNCTION dcops_internal.normalize_host() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
BEGIN
  NEW.tag_key := dcops_internal.identity_text(NEW.service_tag);
  NEW.vendor_key := dcops_internal.vendor_key(NEW.vendor);
  NEW.serial_key := dcops_internal.identity_text(NEW.serial_number);
  NEW.uuid_key := dcops_internal.system_uuid(NEW.system_uuid);
  RETURN NEW;
END
$$;
CREATE INDEX IF NOT EXISTS vcenter_hosts_tag_key_idx ON public.vcenter_hosts (tag_key) WHERE tag_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS vcenter_hosts_serial_key_idx ON public.vcenter_hosts (vendor_key, serial_key)
  WHERE serial_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS vcenter_hosts_uuid_key_idx ON public.vcenter_hosts (uuid_key) WHERE uuid_key IS NOT NULL;
CREATE OR REPLACE TRIGGER vcenter_hosts_normalize BEFORE INSERT OR UPDATE OF service_tag, vendor, serial_number, system_uuid
  ON public.vcenter_hosts FOR EACH ROW EXECUTE FUNCTION dcops_internal.normalize_host();
UPDATE public.vcenter_hosts SET service_tag = service_tag;

-- The job step whose result is being written, for conflicts' events: set by the callers
-- (transaction-local), read by record_conflict.
CREATE OR REPLACE FUNCTION dcops_internal.set_identity_task(p_task_id uuid) RETURNS void
  LANGUAGE sql
  SET search_path = pg_catalog
AS $$
  SELECT set_config('dcops.identity_task', coalesce(p_task_id::text, ''), true)
$$;

-- How many conflicts this transaction has recorded (or seen again) so far.
CREATE OR REPLACE FUNCTION dcops_internal.conflicts_counted() RETURNS int
  LANGUAGE sql
  SET search_path = pg_catalog
AS $$
  SELECT coalesce(nullif(current_setting('dcops.identity_conflicts', true), ''), '0')::int
$$;

-- Records (or counts again) the open conflict of `p_subject`; an event on the current job and
-- an audit row the first time. Returns its id.
CREATE OR REPLACE FUNCTION dcops_internal.record_conflict(p_site text, p_kind text, p_subject text, p_message text,
                                                         p_server_ids uuid[], p_host_id uuid, p_evidence jsonb)
  RETURNS uuid
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_task uuid := nullif(current_setting('dcops.identity_task', true), '')::uuid;
  v_job uuid;
  v_id uuid;
  v_new boolean;
  v_servers uuid[] := ARRAY(SELECT DISTINCT x FROM unnest(p_server_ids) x WHERE x IS NOT NULL ORDER BY 1);
BEGIN
  IF v_task IS NOT NULL THEN
    SELECT job_id INTO v_job FROM public.job_tasks WHERE id = v_task;
    IF v_job IS NULL THEN
      v_task := NULL;  -- not a step of this database (a caller's placeholder)
    END IF;
  END IF;
  INSERT INTO public.server_identity_conflicts AS c (site, kind, subject, message, server_ids, host_id, evidence,
                                                     job_id, task_id)
  VALUES (p_site, p_kind, p_subject, p_message, v_servers, p_host_id, coalesce(p_evidence, '{}'), v_job, v_task)
  ON CONFLICT (site, subject) WHERE status = 'open' DO UPDATE
     SET kind = EXCLUDED.kind, message = EXCLUDED.message,
         server_ids = ARRAY(SELECT DISTINCT x FROM unnest(c.server_ids || EXCLUDED.server_ids) x ORDER BY 1),
         host_id = coalesce(EXCLUDED.host_id, c.host_id), evidence = c.evidence || EXCLUDED.evidence,
         job_id = coalesce(EXCLUDED.job_id, c.job_id), task_id = coalesce(EXCLUDED.task_id, c.task_id),
         last_seen_at = now(), seen_count = c.seen_count + 1
  RETURNING id, (xmax = 0) INTO v_id, v_new;
  IF v_new THEN
    INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
    VALUES ('dispatcher', 'identity.conflict', 'server_identity_conflict', v_id::text,
            jsonb_build_object('kind', p_kind, 'subject', p_subject, 'message', p_message,
                               'server_ids', to_jsonb(v_servers), 'host_id', p_host_id, 'evidence', p_evidence,
                               'job_id', v_job));
  END IF;
  PERFORM set_config('dcops.identity_conflicts', (dcops_internal.conflicts_counted() + 1)::text, true);
  IF v_job IS NOT NULL THEN
    INSERT INTO public.job_events (job_id, task_id, level, message, data, source)
    VALUES (v_job, v_task, 'warn', left('identity conflict: ' || p_message, 4000),
            jsonb_build_object('conflict_id', v_id, 'kind', p_kind, 'subject', p_subject), 'identity');
  END IF;
  RETURN v_id;
END
$$;

-- 4. Merging: `p_gone` becomes part of `p_keep` and is deleted, with an audit row naming both
-- sides (the whole merged row) and the evidence. The kept row gains what it lacked.
CREATE OR REPLACE FUNCTION dcops_internal.merge_servers(p_keep uuid, p_gone uuid, p_evidence jsonb, p_actor text)
  RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  g public.servers;
  t text;
BEGIN
  SELECT * INTO g FROM public.servers WHERE id = p_gone FOR UPDATE;
  IF NOT FOUND OR p_keep = p_gone THEN
    RETURN;
  END IF;
  INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
  VALUES (coalesce(p_actor, 'dispatcher'), 'server.merge', 'server', p_keep::text,
          jsonb_build_object('kept', p_keep, 'merged', p_gone,
                             'merged_row', to_jsonb(g) - 'inventory_digests',
                             'kept_row', (SELECT to_jsonb(s) - 'inventory_digests' FROM public.servers s WHERE s.id = p_keep),
                             'evidence', p_evidence));
  -- Component lists: the kept row's stay; the merged row's move only where the kept has none.
  FOREACH t IN ARRAY ARRAY['server_processors', 'server_memory', 'server_drives', 'server_nics', 'server_firmware',
                           'server_volumes'] LOOP
    EXECUTE format('UPDATE public.%I SET server_id = $1 WHERE server_id = $2 '
                   'AND NOT EXISTS (SELECT 1 FROM public.%I k WHERE k.server_id = $1)', t, t)
      USING p_keep, p_gone;
  END LOOP;
  UPDATE public.server_config_backups SET server_id = p_keep WHERE server_id = p_gone;
  UPDATE public.server_log_entries e SET server_id = p_keep WHERE e.server_id = p_gone
     AND NOT EXISTS (SELECT 1 FROM public.server_log_entries k WHERE k.server_id = p_keep AND k.log = e.log
                        AND k.created = e.created AND k.entry_id = e.entry_id);
  UPDATE public.server_log_cursors c SET server_id = p_keep WHERE c.server_id = p_gone
     AND NOT EXISTS (SELECT 1 FROM public.server_log_cursors k WHERE k.server_id = p_keep AND k.log = c.log);
  UPDATE public.vcenter_hosts SET server_id = p_keep WHERE server_id = p_gone;
  UPDATE public.server_identity_conflicts
     SET server_ids = ARRAY(SELECT DISTINCT CASE WHEN x = p_gone THEN p_keep ELSE x END FROM unnest(server_ids) x ORDER BY 1)
   WHERE p_gone = ANY (server_ids);
  DELETE FROM public.servers WHERE id = p_gone;
  UPDATE public.servers s SET
    bmc_address = coalesce(s.bmc_address, g.bmc_address),
    address_source = CASE WHEN s.bmc_address IS NULL THEN g.address_source ELSE s.address_source END,
    service_tag = coalesce(s.service_tag, g.service_tag),
    serial_number = coalesce(s.serial_number, g.serial_number),
    system_uuid = coalesce(s.system_uuid, g.system_uuid),
    manufacturer = coalesce(s.manufacturer, g.manufacturer),
    model = coalesce(s.model, g.model),
    hostname = coalesce(s.hostname, g.hostname),
    credential_set_id = coalesce(s.credential_set_id, g.credential_set_id),
    tls_pin_sha256 = coalesce(s.tls_pin_sha256, g.tls_pin_sha256),
    tls_verify = s.tls_verify AND g.tls_verify,
    ome_device_id = coalesce(s.ome_device_id, g.ome_device_id),
    ome_endpoint_id = coalesce(s.ome_endpoint_id, g.ome_endpoint_id),
    last_refreshed_at = greatest(s.last_refreshed_at, g.last_refreshed_at),
    source = CASE WHEN dcops_internal.source_rank(g.source) > dcops_internal.source_rank(s.source) THEN g.source ELSE s.source END,
    created_at = least(s.created_at, g.created_at)
  WHERE s.id = p_keep;
END
$$;

-- Which writer speaks with most authority about a row's data (not its identity).
CREATE OR REPLACE FUNCTION dcops_internal.source_rank(p_source text)
  RETURNS int
  LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE p_source WHEN 'redfish' THEN 4 WHEN 'ome' THEN 3 WHEN 'discovery' THEN 2 WHEN 'manual' THEN 1 ELSE 0 END
$$;

-- The rows sharing any of this evidence (normal forms), oldest first; NULL for none. One
-- index lookup per kind present (an OR across kinds would scan the table).
CREATE OR REPLACE FUNCTION dcops_internal.evidence_matches(p_tag text, p_vendor text, p_serial text, p_uuid text)
  RETURNS uuid[]
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_ids uuid[] := '{}';
BEGIN
  IF p_tag IS NOT NULL THEN
    v_ids := v_ids || ARRAY(SELECT s.id FROM public.servers s WHERE upper(s.service_tag) = p_tag);
  END IF;
  IF p_serial IS NOT NULL AND p_vendor IS NOT NULL THEN
    v_ids := v_ids || ARRAY(SELECT s.id FROM public.servers s
                             WHERE s.vendor_key = p_vendor AND upper(s.serial_number) = p_serial);
  END IF;
  IF p_uuid IS NOT NULL THEN
    v_ids := v_ids || ARRAY(SELECT s.id FROM public.servers s WHERE lower(s.system_uuid) = p_uuid);
  END IF;
  IF cardinality(v_ids) = 0 THEN
    RETURN NULL;
  END IF;
  RETURN ARRAY(SELECT s.id FROM public.servers s WHERE s.id = ANY (v_ids) ORDER BY s.created_at, s.id);
END
$$;

-- 5. The resolver. p_obs: {"bmc_address", "service_tag", "manufacturer", "serial_number",
-- "system_uuid", "source"} (any may be absent); an observation is first-hand when the source is
-- redfish or discovery (something answered at the address). Returns
-- {"server_id": uuid|null, "created": bool, "conflict_id": uuid|null, "address": bool,
-- "identity_changed": bool} where address says whether the row holds the observed address and
-- identity_changed whether the row was created, merged or gained evidence (host links may
-- then change). server_id is null only when the
-- observation contradicts the rows it matches (nothing is written then). Takes row locks.
CREATE OR REPLACE FUNCTION dcops_internal.resolve_server(p_site text, p_obs jsonb)
  RETURNS jsonb
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_src    text := coalesce(p_obs ->> 'source', 'redfish');
  v_first  boolean := coalesce(p_obs ->> 'source', 'redfish') IN ('redfish', 'discovery');
  v_addr   text := dcops_internal.bmc_address(p_obs ->> 'bmc_address');
  v_tag    text := dcops_internal.identity_text(p_obs ->> 'service_tag');
  v_vendor text := dcops_internal.vendor_key(p_obs ->> 'manufacturer');
  v_serial text := dcops_internal.identity_text(p_obs ->> 'serial_number');
  v_uuid   text := dcops_internal.system_uuid(p_obs ->> 'system_uuid');
  v_ids    uuid[];
  v_id     uuid;
  v_clash  text;
  v_was    text;
  v_identity_was text;
  v_identity_now text;
  v_merged boolean := false;
  v_subject text;
  v_conflict uuid;
  v_created boolean := false;
  v_take_addr boolean := v_addr IS NOT NULL;
  v_evidence jsonb;
  r record;
  a record;
BEGIN
  IF v_tag IS NOT NULL AND v_vendor IS NOT NULL AND v_vendor <> 'dell' THEN
    RAISE EXCEPTION 'service_tag: a service tag is Dell''s; a % server is known by its serial number',
      p_obs ->> 'manufacturer' USING ERRCODE = '22023';
  END IF;
  v_evidence := jsonb_strip_nulls(jsonb_build_object('source', v_src, 'bmc_address', v_addr, 'service_tag', v_tag,
                                                     'manufacturer', v_vendor, 'serial_number', v_serial,
                                                     'system_uuid', v_uuid));
  v_subject := CASE WHEN v_tag IS NOT NULL THEN 'tag:' || v_tag
                    WHEN v_serial IS NOT NULL AND v_vendor IS NOT NULL THEN 'serial:' || v_vendor || '/' || v_serial
                    WHEN v_uuid IS NOT NULL THEN 'uuid:' || v_uuid END;

  -- Rows sharing any evidence, oldest first.
  v_ids := dcops_internal.evidence_matches(v_tag, v_vendor, v_serial, v_uuid);

  IF v_ids IS NOT NULL THEN
    PERFORM 1 FROM public.servers s WHERE s.id = ANY (v_ids) ORDER BY s.id FOR UPDATE;
    -- Every match must agree with the observation and with each other; else nothing merges.
    FOR r IN SELECT s.id, s.service_tag, s.vendor_key, s.serial_number, s.system_uuid
               FROM public.servers s WHERE s.id = ANY (v_ids) LOOP
      v_clash := dcops_internal.identity_clash(v_tag, v_vendor, v_serial, v_uuid,
                                               r.service_tag, r.vendor_key, r.serial_number, r.system_uuid);
      IF v_clash IS NULL THEN
        -- Any one disagreeing pair is enough to refuse (its kind names the conflict).
        SELECT dcops_internal.identity_clash(r.service_tag, r.vendor_key, r.serial_number, r.system_uuid,
                                             o.service_tag, o.vendor_key, o.serial_number, o.system_uuid)
          INTO v_clash
          FROM public.servers o
         WHERE o.id = ANY (v_ids) AND o.id <> r.id
           AND dcops_internal.identity_clash(r.service_tag, r.vendor_key, r.serial_number, r.system_uuid,
                                             o.service_tag, o.vendor_key, o.serial_number, o.system_uuid) IS NOT NULL
         LIMIT 1;
      END IF;
      IF v_clash IS NOT NULL THEN
        v_conflict := dcops_internal.record_conflict(p_site, 'evidence_disagrees', v_subject,
          format('%s reports %s, matching %s server(s) whose %s differs; nothing was merged or written',
                 v_src, v_subject, cardinality(v_ids), v_clash),
          v_ids, NULL, jsonb_build_object(v_src, v_evidence, 'differs', v_clash));
        RETURN jsonb_build_object('server_id', NULL, 'created', false, 'conflict_id', v_conflict, 'address', false);
      END IF;
    END LOOP;
    v_id := v_ids[1];
    v_merged := cardinality(v_ids) > 1;
    FOR i IN 2 .. cardinality(v_ids) LOOP
      PERFORM dcops_internal.merge_servers(v_id, v_ids[i],
        jsonb_build_object('reason', 'one observation carries the evidence of both', 'observation', v_evidence), NULL);
    END LOOP;
  END IF;

  -- An observation with no identity of its own (a partial refresh, a discovered service that
  -- does not say who it is) is about whatever server is at the address.
  IF v_ids IS NULL AND v_tag IS NULL AND v_serial IS NULL AND v_uuid IS NULL AND v_addr IS NOT NULL THEN
    SELECT s.id INTO v_id FROM public.servers s WHERE s.site = p_site AND s.bmc_address = v_addr FOR UPDATE;
  END IF;

  -- The address: a location. Who else is there?
  IF v_addr IS NOT NULL THEN
    SELECT s.id, s.service_tag, s.vendor_key, s.serial_number, s.system_uuid, s.address_source INTO a
      FROM public.servers s
     WHERE s.site = p_site AND s.bmc_address = v_addr AND s.id IS DISTINCT FROM v_id
       FOR UPDATE;
    IF FOUND THEN
      IF a.service_tag IS NULL AND a.serial_number IS NULL AND a.system_uuid IS NULL THEN
        -- A row that is only a location (discovered, or typed in by address) is this server.
        IF v_id IS NULL THEN
          v_id := a.id;
        ELSE
          v_merged := true;
          PERFORM dcops_internal.merge_servers(v_id, a.id,
            jsonb_build_object('reason', 'the row at the address had no identity of its own',
                               'bmc_address', v_addr, 'observation', v_evidence), NULL);
        END IF;
      ELSE
        v_clash := dcops_internal.identity_clash(v_tag, v_vendor, v_serial, v_uuid,
                                                 a.service_tag, a.vendor_key, a.serial_number, a.system_uuid);
        IF v_clash IS NULL THEN
          -- Different evidence, none comparable: they may be one server. Keep them apart.
          v_conflict := dcops_internal.record_conflict(p_site, 'might_be_same', 'address:' || v_addr,
            format('%s at %s reports %s; the server there has no evidence to compare with it (might be the same server)',
                   v_src, v_addr, coalesce(v_subject, 'no identity')),
            ARRAY[a.id, v_id], NULL, jsonb_build_object(v_src, v_evidence));
          v_take_addr := false;
        ELSIF v_first THEN
          -- Something answered there with another identity: the address is this server's now.
          -- (Both observed: the BMC's address was reassigned. Held by a report: the report is
          -- stale; an observation outranks it.) The other row lets it go, audited.
          UPDATE public.servers SET bmc_address = NULL WHERE id = a.id;
          INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
          VALUES ('dispatcher', 'server.address_moved', 'server', a.id::text,
                  jsonb_build_object('bmc_address', v_addr, 'from_server', a.id, 'held_as', a.address_source,
                                     'observation', v_evidence, 'differs', v_clash));
        ELSIF a.address_source = 'observed' THEN
          v_take_addr := false;  -- a report does not move what was observed there
        ELSE
          -- Two reports name one address for two identities: neither keeps it.
          v_conflict := dcops_internal.record_conflict(p_site, 'address_claimed', 'address:' || v_addr,
            format('%s is reported for two servers (their %s differs); neither keeps it', v_addr, v_clash),
            ARRAY[a.id, v_id], NULL, jsonb_build_object(v_src, v_evidence));
          UPDATE public.servers SET bmc_address = NULL WHERE id = a.id;
          INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
          VALUES ('dispatcher', 'server.address_released', 'server', a.id::text,
                  jsonb_build_object('bmc_address', v_addr, 'conflict_id', v_conflict, 'observation', v_evidence));
          v_take_addr := false;
        END IF;
      END IF;
    END IF;
    -- A report never moves an address that was observed, nor one under an open conflict.
    IF v_take_addr AND NOT v_first THEN
      IF EXISTS (SELECT 1 FROM public.servers s WHERE s.id = v_id AND s.address_source = 'observed'
                    AND s.bmc_address IS DISTINCT FROM v_addr)
         OR EXISTS (SELECT 1 FROM public.server_identity_conflicts c
                     WHERE c.site = p_site AND c.subject = 'address:' || v_addr AND c.status = 'open') THEN
        v_take_addr := false;
      END IF;
    END IF;
  END IF;

  IF v_id IS NULL THEN
    IF v_tag IS NULL AND v_serial IS NULL AND v_uuid IS NULL AND NOT v_take_addr THEN
      RAISE EXCEPTION 'server: needs an address or identity evidence (service tag, serial number or system UUID)'
        USING ERRCODE = '22023';
    END IF;
    INSERT INTO public.servers (site, bmc_address, address_source, service_tag, manufacturer, serial_number,
                                system_uuid, source)
    VALUES (p_site, CASE WHEN v_take_addr THEN v_addr END,
            CASE WHEN v_take_addr THEN CASE WHEN v_first THEN 'observed' ELSE 'reported' END END,
            v_tag, p_obs ->> 'manufacturer', v_serial, v_uuid, v_src)
    RETURNING id INTO v_id;
    v_created := true;
  ELSE
    SELECT s.bmc_address, concat_ws('|', s.service_tag, s.vendor_key, s.serial_number, s.system_uuid)
      INTO v_was, v_identity_was FROM public.servers s WHERE s.id = v_id;
    IF v_take_addr AND v_was IS DISTINCT FROM v_addr AND v_was IS NOT NULL AND v_first THEN
      INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
      VALUES ('dispatcher', 'server.address_changed', 'server', v_id::text,
              jsonb_build_object('from', v_was, 'to', v_addr, 'observation', v_evidence));
    END IF;
    UPDATE public.servers s SET
      service_tag = coalesce(v_tag, s.service_tag),
      manufacturer = CASE WHEN v_vendor IS NOT NULL AND (s.manufacturer IS NULL OR v_src = 'redfish')
                          THEN p_obs ->> 'manufacturer' ELSE s.manufacturer END,
      serial_number = coalesce(v_serial, s.serial_number),
      system_uuid = coalesce(v_uuid, s.system_uuid),
      bmc_address = CASE WHEN v_take_addr THEN v_addr ELSE s.bmc_address END,
      address_source = CASE WHEN NOT v_take_addr THEN s.address_source
                            WHEN v_first THEN 'observed'
                            WHEN s.bmc_address = v_addr THEN s.address_source
                            ELSE 'reported' END,
      source = CASE WHEN dcops_internal.source_rank(v_src) > dcops_internal.source_rank(s.source) THEN v_src ELSE s.source END
    WHERE s.id = v_id
    RETURNING concat_ws('|', s.service_tag, s.vendor_key, s.serial_number, s.system_uuid) INTO v_identity_now;
  END IF;
  IF v_conflict IS NOT NULL THEN
    UPDATE public.server_identity_conflicts c
       SET server_ids = ARRAY(SELECT DISTINCT x FROM unnest(c.server_ids || v_id) x WHERE x IS NOT NULL ORDER BY 1)
     WHERE c.id = v_conflict AND NOT (v_id = ANY (c.server_ids));
  END IF;
  RETURN jsonb_build_object('server_id', v_id, 'created', v_created, 'conflict_id', v_conflict,
                            'address', v_take_addr,
                            'identity_changed', v_created OR v_merged OR v_identity_was IS DISTINCT FROM v_identity_now);
END
$$;

-- 6. The writers, all through the resolver.

-- Whether any vCenter host shares evidence with the server or links to it: only then can a
-- change of the server's identity change a link (evidence only grows, and a merge brings the
-- merged row's evidence along), so linking is skipped otherwise.
CREATE OR REPLACE FUNCTION dcops_internal.hosts_may_link(p_server_id uuid)
  RETURNS boolean
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, public
AS $$
  SELECT EXISTS (SELECT 1 FROM public.vcenter_hosts h WHERE h.server_id = p_server_id)
      OR EXISTS (SELECT 1 FROM public.servers s JOIN public.vcenter_hosts h ON h.tag_key = s.service_tag
                  WHERE s.id = p_server_id)
      OR EXISTS (SELECT 1 FROM public.servers s JOIN public.vcenter_hosts h
                     ON h.vendor_key = s.vendor_key AND h.serial_key = s.serial_number
                  WHERE s.id = p_server_id)
      OR EXISTS (SELECT 1 FROM public.servers s JOIN public.vcenter_hosts h ON h.uuid_key = s.system_uuid
                  WHERE s.id = p_server_id)
$$;

-- Writes one resolved server's fields and the component lists present (only keys present
-- are written, so a partial refresh never blanks what it did not read). last_refreshed_at
-- moves only for a Redfish refresh. Links hosts again when the row's identity changed.
CREATE OR REPLACE FUNCTION dcops_internal.write_server(v_id uuid, p_server jsonb, p_identity_changed boolean)
  RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_src text := coalesce(p_server ->> 'source', 'redfish');
BEGIN
  -- A field the device did not report (JSON null) is not a value: what was stored stays.
  p_server := jsonb_strip_nulls(p_server);
  UPDATE public.servers s SET
    hostname      = CASE WHEN p_server ? 'hostname' THEN p_server ->> 'hostname' ELSE s.hostname END,
    model         = CASE WHEN p_server ? 'model' THEN p_server ->> 'model' ELSE s.model END,
    bios_version  = CASE WHEN p_server ? 'bios_version' THEN p_server ->> 'bios_version' ELSE s.bios_version END,
    bmc_firmware  = CASE WHEN p_server ? 'bmc_firmware' THEN p_server ->> 'bmc_firmware' ELSE s.bmc_firmware END,
    lc_state      = CASE WHEN p_server ? 'lc_state' THEN p_server ->> 'lc_state' ELSE s.lc_state END,
    power_state   = CASE WHEN p_server ? 'power_state' THEN p_server ->> 'power_state' ELSE s.power_state END,
    health        = CASE WHEN p_server ? 'health' THEN p_server ->> 'health' ELSE s.health END,
    cpu_count     = CASE WHEN p_server ? 'cpu_count' THEN (p_server ->> 'cpu_count')::int ELSE s.cpu_count END,
    memory_gib    = CASE WHEN p_server ? 'memory_gib' THEN (p_server ->> 'memory_gib')::numeric ELSE s.memory_gib END,
    ome_device_id = CASE WHEN p_server ? 'ome_device_id' THEN (p_server ->> 'ome_device_id')::bigint ELSE s.ome_device_id END,
    credential_set_id = CASE WHEN p_server ? 'credential_set_id'
                             THEN (p_server ->> 'credential_set_id')::uuid ELSE s.credential_set_id END,
    last_refreshed_at = CASE WHEN v_src = 'redfish' THEN now() ELSE s.last_refreshed_at END
  WHERE s.id = v_id;

  IF p_server ? 'processors' THEN
    DELETE FROM public.server_processors WHERE server_id = v_id;
    INSERT INTO public.server_processors (server_id, socket, model, manufacturer, cores, threads, max_speed_mhz, health)
    SELECT DISTINCT ON (x.socket) v_id, x.socket, x.model, x.manufacturer, x.cores, x.threads, x.max_speed_mhz, x.health
      FROM jsonb_to_recordset(p_server -> 'processors')
           AS x(socket text, model text, manufacturer text, cores int, threads int, max_speed_mhz int, health text)
     WHERE x.socket IS NOT NULL;
  END IF;
  IF p_server ? 'memory' THEN
    DELETE FROM public.server_memory WHERE server_id = v_id;
    INSERT INTO public.server_memory (server_id, slot, capacity_mib, memory_type, speed_mhz, manufacturer, part_number, serial_number, health)
    SELECT DISTINCT ON (x.slot) v_id, x.slot, x.capacity_mib, x.memory_type, x.speed_mhz, x.manufacturer, x.part_number, x.serial_number, x.health
      FROM jsonb_to_recordset(p_server -> 'memory')
           AS x(slot text, capacity_mib bigint, memory_type text, speed_mhz int, manufacturer text, part_number text, serial_number text, health text)
     WHERE x.slot IS NOT NULL;
  END IF;
  IF p_server ? 'drives' THEN
    DELETE FROM public.server_drives WHERE server_id = v_id;
    INSERT INTO public.server_drives (server_id, slot, model, serial_number, media_type, protocol, capacity_bytes, firmware_version, health, predicted_failure, controller)
    SELECT DISTINCT ON (x.slot) v_id, x.slot, x.model, x.serial_number, x.media_type, x.protocol, x.capacity_bytes, x.firmware_version, x.health, x.predicted_failure, x.controller
      FROM jsonb_to_recordset(p_server -> 'drives')
           AS x(slot text, model text, serial_number text, media_type text, protocol text, capacity_bytes bigint, firmware_version text, health text, predicted_failure boolean, controller text)
     WHERE x.slot IS NOT NULL;
  END IF;
  IF p_server ? 'nics' THEN
    DELETE FROM public.server_nics WHERE server_id = v_id;
    INSERT INTO public.server_nics (server_id, port_id, adapter, mac_address, link_status, speed_mbps, firmware_version)
    SELECT DISTINCT ON (x.port_id) v_id, x.port_id, x.adapter, x.mac_address, x.link_status, x.speed_mbps, x.firmware_version
      FROM jsonb_to_recordset(p_server -> 'nics')
           AS x(port_id text, adapter text, mac_address text, link_status text, speed_mbps int, firmware_version text)
     WHERE x.port_id IS NOT NULL;
  END IF;
  IF p_server ? 'firmware' THEN
    DELETE FROM public.server_firmware WHERE server_id = v_id;
    INSERT INTO public.server_firmware (server_id, component_id, name, version, updateable, install_date)
    SELECT DISTINCT ON (x.component_id) v_id, x.component_id, coalesce(x.name, x.component_id), coalesce(x.version, ''), x.updateable, x.install_date
      FROM jsonb_to_recordset(p_server -> 'firmware')
           AS x(component_id text, name text, version text, updateable boolean, install_date timestamptz)
     WHERE x.component_id IS NOT NULL;
  END IF;

  IF p_identity_changed AND dcops_internal.hosts_may_link(v_id) THEN
    PERFORM dcops_internal.link_hosts_to_servers(NULL, NULL);
  END IF;
END
$$;

-- A writer's input checked, then resolved (resolve_server's answer).
CREATE OR REPLACE FUNCTION dcops_internal.resolve_for_write(p_site text, p_server jsonb)
  RETURNS jsonb
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_src text := coalesce(p_server ->> 'source', 'redfish');
BEGIN
  IF p_server IS NULL OR jsonb_typeof(p_server) <> 'object' THEN
    RAISE EXCEPTION 'server: must be a JSON object' USING ERRCODE = '22023';
  END IF;
  IF v_src NOT IN ('redfish', 'ome', 'manual', 'discovery') THEN
    RAISE EXCEPTION 'server.source: must be redfish, ome, manual or discovery, got %', v_src USING ERRCODE = '22023';
  END IF;
  RETURN dcops_internal.resolve_server(p_site, p_server);
END
$$;

-- One server's data (the landed contract): identity through resolve_server, then the fields
-- and component lists present. Returns the server id, or NULL when the evidence contradicts
-- the inventory (a conflict was recorded and nothing was written).
CREATE OR REPLACE FUNCTION public.dispatcher_v1_upsert_server(p_site text, p_server jsonb)
  RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_res jsonb := dcops_internal.resolve_for_write(p_site, p_server);
BEGIN
  IF v_res ->> 'server_id' IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM dcops_internal.write_server((v_res ->> 'server_id')::uuid, p_server, (v_res ->> 'identity_changed')::boolean);
  RETURN (v_res ->> 'server_id')::uuid;
END
$$;

-- A refresh's result with its step (identity conflicts become events of the step's job):
-- {"server_id": uuid|null, "conflicts": n}.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_record_refresh(p_site text, p_task_id uuid, p_server jsonb)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_before int := dcops_internal.conflicts_counted();
  v_id uuid;
BEGIN
  PERFORM dcops_internal.set_identity_task(p_task_id);
  v_id := public.dispatcher_v1_upsert_server_inventory(p_site, p_server);
  PERFORM dcops_internal.set_identity_task(NULL);
  RETURN jsonb_build_object('server_id', v_id, 'conflicts', dcops_internal.conflicts_counted() - v_before);
END
$$;

-- One refresh (the landed contract): component digests as before; identity, the system UUID
-- included, through dispatcher_v1_upsert_server. NULL when a conflict kept it from writing.
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
  v_res     jsonb;
BEGIN
  IF p_server IS NULL OR jsonb_typeof(p_server) <> 'object' THEN
    RAISE EXCEPTION 'server: must be a JSON object' USING ERRCODE = '22023';
  END IF;
  IF p_server ? 'volumes' AND jsonb_typeof(p_server -> 'volumes') <> 'array' THEN
    RAISE EXCEPTION 'server.volumes: must be an array' USING ERRCODE = '22023';
  END IF;
  PERFORM set_config('dcops.inventory_writer', 'on', true);
  -- Identity first (nothing else is written when it conflicts), then the digests of the row.
  v_res := dcops_internal.resolve_for_write(p_site, p_server);
  v_id := (v_res ->> 'server_id')::uuid;
  IF v_id IS NULL THEN
    PERFORM set_config('dcops.inventory_writer', 'off', true);
    RETURN NULL;
  END IF;
  SELECT inventory_digests INTO v_digests FROM public.servers WHERE id = v_id;
  FOREACH v_key IN ARRAY ARRAY['processors', 'memory', 'drives', 'nics', 'firmware', 'volumes'] LOOP
    CONTINUE WHEN NOT v_server ? v_key;
    v_md5 := md5((v_server -> v_key)::text);
    IF coalesce(v_digests ->> v_key, '') = v_md5 THEN
      v_server := v_server - v_key;  -- unchanged: left as it is
    ELSE
      v_changed := v_changed || jsonb_build_object(v_key, v_md5);
    END IF;
  END LOOP;
  PERFORM dcops_internal.write_server(v_id, v_server, (v_res ->> 'identity_changed')::boolean);
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


-- Discovery results (the landed contract, through the resolver). A service that says who it
-- is (Dell's root carries the service tag) is resolved by that; one that does not is the
-- server at its address, or a new row of that address. Returns
-- {"added", "known", "conflicts", "refresh": [address…]}.
DROP FUNCTION IF EXISTS public.dispatcher_v1_record_discovery(text, jsonb);
CREATE OR REPLACE FUNCTION public.dispatcher_v1_record_discovery(p_site text, p_found jsonb, p_task_id uuid DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_item    jsonb;
  v_id      uuid;
  v_bmc     text;
  v_cred    uuid;
  v_had     uuid;
  v_res     jsonb;
  v_added   int := 0;
  v_known   int := 0;
  v_before  int := dcops_internal.conflicts_counted();
  v_refresh jsonb := '[]';
BEGIN
  IF p_found IS NULL OR jsonb_typeof(p_found) <> 'array' THEN
    RAISE EXCEPTION 'found: must be an array' USING ERRCODE = '22023';
  END IF;
  PERFORM dcops_internal.set_identity_task(p_task_id);
  FOR v_item IN SELECT * FROM jsonb_array_elements(p_found) LOOP
    v_bmc := dcops_internal.bmc_address(v_item ->> 'bmc_address');
    IF v_bmc IS NULL THEN
      RAISE EXCEPTION 'found[].bmc_address: is required' USING ERRCODE = '22023';
    END IF;
    v_cred := CASE WHEN v_item ->> 'login' = 'ok' THEN (v_item ->> 'credential_set_id')::uuid END;
    v_res := dcops_internal.resolve_server(p_site, jsonb_strip_nulls(jsonb_build_object(
               'bmc_address', v_bmc, 'service_tag', v_item ->> 'service_tag', 'source', 'discovery',
               'manufacturer', CASE WHEN dcops_internal.identity_text(v_item ->> 'service_tag') IS NOT NULL
                                    THEN v_item ->> 'vendor' END)));
    v_id := (v_res ->> 'server_id')::uuid;
    CONTINUE WHEN v_id IS NULL;  -- a conflict, recorded
    IF (v_res ->> 'created')::boolean THEN
      v_added := v_added + 1;
      v_had := NULL;
    ELSE
      v_known := v_known + 1;
      SELECT credential_set_id INTO v_had FROM public.servers WHERE id = v_id;
    END IF;
    -- The pin is the certificate seen at the address: it belongs to the row that holds it.
    UPDATE public.servers s
       SET credential_set_id = coalesce(s.credential_set_id, v_cred),
           tls_pin_sha256 = CASE WHEN s.bmc_address = v_bmc THEN coalesce(s.tls_pin_sha256, nullif(v_item ->> 'tls_pin_sha256', ''))
                                 ELSE s.tls_pin_sha256 END
     WHERE s.id = v_id;
    IF v_cred IS NOT NULL AND v_had IS NULL AND (v_res ->> 'address')::boolean THEN
      v_refresh := v_refresh || to_jsonb(v_bmc);
    END IF;
  END LOOP;
  PERFORM dcops_internal.link_hosts_to_servers(NULL, NULL);
  PERFORM dcops_internal.set_identity_task(NULL);
  RETURN jsonb_build_object('added', v_added, 'known', v_known, 'refresh', v_refresh,
                            'conflicts', dcops_internal.conflicts_counted() - v_before);
END
$$;

-- Applies a succeeded inventory.ome_sync step (the landed contract), each device through the
-- resolver. Devices OME lists twice under one service tag, and devices that share one iDRAC
-- address, are conflicts: the first kind is written once (lowest device id) with the
-- conflict recorded, the second kind keeps nobody at the address. An address that is no
-- address ("[::]", "0.0.0.0", junk) is dropped and counted. OME is a report: it never moves
-- an address a refresh observed, and last_refreshed_at is a refresh's.
-- Returns {"devices", "added", "newly_missing", "returned", "failed", "conflicts",
-- "no_address", "untagged"}.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_apply_ome_sync(p_task_id uuid, p_lease_id uuid,
                                                              p_result jsonb)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_endpoint uuid := dcops_internal.sync_endpoint(p_task_id, p_lease_id, p_result);
  v_site text;
  v_devices jsonb;
  v_n int := 0;
  v_added int := 0;
  v_returned int;
  v_missing int;
  v_untagged int;
  v_no_address int;
  v_before int := dcops_internal.conflicts_counted();
  v_failed jsonb := CASE WHEN jsonb_typeof(p_result -> 'failed') = 'array' THEN p_result -> 'failed' ELSE '[]' END;
  v_dev record;
  g record;
  v_device_ids bigint[] := '{}';
  v_server_ids uuid[] := '{}';
  v_res jsonb;
  v_id uuid;
BEGIN
  SELECT site INTO v_site FROM public.ome_endpoints WHERE id = v_endpoint;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ome_endpoint_id: no OME endpoint with id %', v_endpoint USING ERRCODE = 'P0002';
  END IF;
  PERFORM dcops_internal.set_identity_task(p_task_id);
  v_devices := dcops_internal.staged(p_task_id, p_lease_id, 'ome.devices');
  CREATE TEMP TABLE IF NOT EXISTS ome_sync_devices (
    ome_device_id bigint, service_tag text, raw_address text, bmc_address text, model text, power_state text,
    health text, processors jsonb, memory jsonb, drives jsonb, firmware jsonb, server_id uuid, first_of_tag boolean
  ) ON COMMIT DROP;
  TRUNCATE ome_sync_devices;
  INSERT INTO ome_sync_devices
  SELECT x.ome_device_id, dcops_internal.identity_text(x.service_tag), nullif(trim(x.bmc_address), ''),
         dcops_internal.bmc_address_or_null(x.bmc_address), x.model, x.power_state, x.health,
         x.processors, x.memory, x.drives, x.firmware, NULL, false
    FROM jsonb_to_recordset(v_devices)
         AS x(ome_device_id bigint, service_tag text, bmc_address text, model text, power_state text, health text,
              processors jsonb, memory jsonb, drives jsonb, firmware jsonb);
  SELECT count(*) FILTER (WHERE service_tag IS NULL),
         count(*) FILTER (WHERE service_tag IS NOT NULL AND bmc_address IS NULL)
    INTO v_untagged, v_no_address FROM ome_sync_devices;
  DELETE FROM ome_sync_devices WHERE service_tag IS NULL;
  UPDATE ome_sync_devices d SET first_of_tag = true
    FROM (SELECT o.service_tag, min(o.ome_device_id) AS first_id FROM ome_sync_devices o GROUP BY o.service_tag) x
   WHERE d.service_tag = x.service_tag AND d.ome_device_id = x.first_id;
  ANALYZE ome_sync_devices;

  SELECT count(*) INTO v_returned
    FROM public.servers s JOIN ome_sync_devices d ON upper(s.service_tag) = d.service_tag AND d.first_of_tag
   WHERE s.ome_missing_since IS NOT NULL OR s.ome_endpoint_id IS DISTINCT FROM v_endpoint;

  -- One address listed for devices of different service tags: nobody gets it from OME (the
  -- conflict is recorded once the devices' rows exist).
  CREATE TEMP TABLE IF NOT EXISTS ome_sync_shared ON COMMIT DROP AS
    SELECT a.bmc_address, array_agg(DISTINCT a.service_tag) AS tags, array_agg(a.ome_device_id) AS ids
      FROM ome_sync_devices a WHERE false GROUP BY a.bmc_address;
  TRUNCATE ome_sync_shared;
  INSERT INTO ome_sync_shared
  SELECT a.bmc_address, array_agg(DISTINCT a.service_tag ORDER BY a.service_tag), array_agg(a.ome_device_id ORDER BY a.ome_device_id)
    FROM ome_sync_devices a WHERE a.bmc_address IS NOT NULL
   GROUP BY a.bmc_address HAVING count(DISTINCT a.service_tag) > 1;
  UPDATE ome_sync_devices d SET bmc_address = NULL FROM ome_sync_shared x WHERE d.bmc_address = x.bmc_address;
  -- A row holding such an address on another report's word loses it too: reports disagree.
  UPDATE public.servers s SET bmc_address = NULL
    FROM ome_sync_shared x
   WHERE s.site = v_site AND s.bmc_address = x.bmc_address AND s.address_source = 'reported';

  FOR v_dev IN SELECT * FROM ome_sync_devices ORDER BY ome_device_id LOOP
    IF NOT v_dev.first_of_tag THEN
      PERFORM dcops_internal.record_conflict(v_site, 'might_be_same', 'tag:' || v_dev.service_tag,
        format('OME lists service tag %s under several device ids (%s); the lowest was written', v_dev.service_tag,
               (SELECT string_agg(o.ome_device_id::text, ', ' ORDER BY o.ome_device_id) FROM ome_sync_devices o
                 WHERE o.service_tag = v_dev.service_tag)),
        ARRAY(SELECT s.id FROM public.servers s WHERE upper(s.service_tag) = v_dev.service_tag), NULL,
        jsonb_build_object('ome', jsonb_build_object('service_tag', v_dev.service_tag, 'ome_device_id', v_dev.ome_device_id)));
      CONTINUE;
    END IF;
    v_res := dcops_internal.resolve_server(v_site, jsonb_strip_nulls(jsonb_build_object(
               'service_tag', v_dev.service_tag, 'bmc_address', v_dev.bmc_address, 'source', 'ome')));
    v_id := (v_res ->> 'server_id')::uuid;
    CONTINUE WHEN v_id IS NULL;
    v_n := v_n + 1;
    IF (v_res ->> 'created')::boolean THEN
      v_added := v_added + 1;
    END IF;
    v_device_ids := v_device_ids || v_dev.ome_device_id;
    v_server_ids := v_server_ids || v_id;
  END LOOP;
  UPDATE ome_sync_devices d SET server_id = x.server_id
    FROM unnest(v_device_ids, v_server_ids) AS x(ome_device_id, server_id)
   WHERE d.ome_device_id = x.ome_device_id;
  -- OME's data on the servers it resolved to, in one statement.
  UPDATE public.servers s SET
    model = coalesce(d.model, s.model),
    power_state = coalesce(d.power_state, s.power_state),
    health = coalesce(d.health, s.health),
    ome_device_id = d.ome_device_id,
    ome_endpoint_id = v_endpoint,
    ome_missing_since = NULL
    FROM ome_sync_devices d
   WHERE d.server_id = s.id;

  FOR g IN SELECT * FROM ome_sync_shared ORDER BY bmc_address LOOP
    PERFORM dcops_internal.record_conflict(v_site, 'address_claimed', 'address:' || g.bmc_address,
      format('OME lists %s devices at %s (service tags %s); none of them keeps it', cardinality(g.ids), g.bmc_address,
             array_to_string(g.tags, ', ')),
      ARRAY(SELECT s.id FROM public.servers s WHERE upper(s.service_tag) = ANY (g.tags)), NULL,
      jsonb_build_object('ome', jsonb_build_object('bmc_address', g.bmc_address, 'service_tags', to_jsonb(g.tags),
                                                   'ome_device_ids', to_jsonb(g.ids))));
  END LOOP;

  -- Inventory details (a sync with details: true) replace the component lists of servers OME
  -- is the source of; a server a Redfish refresh reads keeps the Redfish inventory.
  CREATE TEMP TABLE IF NOT EXISTS ome_sync_detailed ON COMMIT DROP AS
    SELECT d.server_id, d.processors, d.memory, d.drives, d.firmware FROM ome_sync_devices d WHERE false;
  TRUNCATE ome_sync_detailed;
  INSERT INTO ome_sync_detailed
  SELECT s.id, d.processors, d.memory, d.drives, d.firmware
    FROM ome_sync_devices d JOIN public.servers s ON s.id = d.server_id
   WHERE s.source = 'ome' AND d.processors IS NOT NULL;
  DELETE FROM public.server_processors p USING ome_sync_detailed x WHERE p.server_id = x.server_id;
  INSERT INTO public.server_processors (server_id, socket, model, manufacturer, cores, max_speed_mhz, health)
  SELECT DISTINCT ON (x.server_id, p.socket) x.server_id, p.socket, p.model, p.manufacturer, p.cores, p.max_speed_mhz, nullif(p.health, '')
    FROM ome_sync_detailed x,
         jsonb_to_recordset(x.processors) AS p(socket text, model text, manufacturer text, cores int, max_speed_mhz int, health text)
   WHERE p.socket IS NOT NULL AND p.socket <> '';
  DELETE FROM public.server_memory m USING ome_sync_detailed x WHERE m.server_id = x.server_id AND x.memory IS NOT NULL;
  INSERT INTO public.server_memory (server_id, slot, capacity_mib, memory_type, speed_mhz, manufacturer, part_number, serial_number, health)
  SELECT DISTINCT ON (x.server_id, m.slot) x.server_id, m.slot, m.capacity_mib, m.memory_type, m.speed_mhz, m.manufacturer,
         m.part_number, m.serial_number, nullif(m.health, '')
    FROM ome_sync_detailed x,
         jsonb_to_recordset(x.memory) AS m(slot text, capacity_mib bigint, memory_type text, speed_mhz int, manufacturer text,
                                           part_number text, serial_number text, health text)
   WHERE m.slot IS NOT NULL AND m.slot <> '';
  DELETE FROM public.server_drives k USING ome_sync_detailed x WHERE k.server_id = x.server_id AND x.drives IS NOT NULL;
  INSERT INTO public.server_drives (server_id, slot, model, serial_number, media_type, protocol, capacity_bytes,
                                    firmware_version, health, predicted_failure, controller)
  SELECT DISTINCT ON (x.server_id, k.slot) x.server_id, k.slot, k.model, k.serial_number, k.media_type, k.protocol, k.capacity_bytes,
         k.firmware_version, nullif(k.health, ''), k.predicted_failure, k.controller
    FROM ome_sync_detailed x,
         jsonb_to_recordset(x.drives) AS k(slot text, model text, serial_number text, media_type text, protocol text,
                                           capacity_bytes bigint, firmware_version text, health text, predicted_failure boolean,
                                           controller text)
   WHERE k.slot IS NOT NULL AND k.slot <> '';
  DELETE FROM public.server_firmware f USING ome_sync_detailed x WHERE f.server_id = x.server_id AND x.firmware IS NOT NULL;
  INSERT INTO public.server_firmware (server_id, component_id, name, version, updateable, install_date)
  SELECT DISTINCT ON (x.server_id, f.component_id) x.server_id, f.component_id, coalesce(f.name, f.component_id),
         coalesce(f.version, ''), NULL, f.install_date
    FROM ome_sync_detailed x,
         jsonb_to_recordset(x.firmware) AS f(component_id text, name text, version text, install_date timestamptz)
   WHERE f.component_id IS NOT NULL AND f.component_id <> '';

  UPDATE public.servers s SET ome_missing_since = now()
   WHERE s.ome_endpoint_id = v_endpoint AND s.ome_missing_since IS NULL
     AND s.ome_device_id IS NOT NULL
     AND s.ome_device_id NOT IN (SELECT d.ome_device_id FROM ome_sync_devices d WHERE d.ome_device_id IS NOT NULL)
     AND s.ome_device_id NOT IN (SELECT (f ->> 'id')::bigint FROM jsonb_array_elements(v_failed) f
                                  WHERE jsonb_typeof(f -> 'id') = 'number');
  GET DIAGNOSTICS v_missing = ROW_COUNT;
  PERFORM dcops_internal.link_hosts_to_servers(NULL, NULL);
  PERFORM dcops_internal.set_identity_task(NULL);
  UPDATE public.ome_endpoints
     SET last_sync_at = now(),
         last_sync_error = CASE WHEN jsonb_array_length(v_failed) > 0
                                THEN format('%s device(s) could not be read', jsonb_array_length(v_failed)) END
   WHERE id = v_endpoint;
  DELETE FROM public.inventory_staging WHERE task_id = p_task_id;
  RETURN jsonb_build_object('devices', v_n, 'added', v_added, 'newly_missing', v_missing, 'returned', v_returned,
                            'failed', jsonb_array_length(v_failed),
                            'conflicts', dcops_internal.conflicts_counted() - v_before,
                            'no_address', v_no_address, 'untagged', v_untagged);
END
$$;

-- vCenter hosts ↔ servers: one host, one server, by the evidence both sides have. A host
-- links to a server only when exactly one server shares evidence with it, nothing they both
-- have differs, and no other host wants that server. Evidence several hosts report (one
-- service tag on every host of a vSphere simulator or an OEM build) identifies nothing.
-- Anything else leaves the host unlinked with a host_link conflict; a conflict whose
-- ambiguity is gone is cleared. Hosts an operator linked or unlinked (link_pinned) are kept.
-- Every link made, moved or dropped is audited with its evidence. The arguments are kept for
-- the callers' sake: the decision needs every host, so every host is evaluated.
CREATE OR REPLACE FUNCTION dcops_internal.link_hosts_to_servers(p_service_tag text DEFAULT NULL,
                                                               p_vcenter_id uuid DEFAULT NULL)
  RETURNS int
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
  -- Compiling this plan (JIT) costs more than running it: ~150 ms at 2,500 hosts.
  SET jit = off
AS $$
DECLARE
  v_changed int;
  v_c record;
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS host_link_plan (
    host_id uuid PRIMARY KEY, site text, vcenter_id uuid, moref text, name text, old_server uuid,
    new_server uuid, evidence text, problem text, servers uuid[]
  ) ON COMMIT DROP;
  TRUNCATE host_link_plan;
  WITH h AS (
    SELECT h.id, v.site, h.vcenter_id, h.moref, h.name, h.server_id, h.link_pinned,
           h.tag_key AS tag, h.vendor_key AS vendor, h.serial_key AS serial, h.uuid_key AS uuid
      FROM public.vcenter_hosts h JOIN public.vcenters v ON v.id = h.vcenter_id
  ), usable AS (
    SELECT h.*,
           CASE WHEN h.tag IS NOT NULL AND coalesce(h.vendor, 'dell') = 'dell'
                     AND count(*) OVER (PARTITION BY h.tag) = 1 THEN h.tag END AS u_tag,
           -- ESXi's serial number on Dell is the service tag (SMBIOS), not the board serial a
           -- Redfish refresh reads: on Dell it is no serial-number evidence.
           CASE WHEN h.serial IS NOT NULL AND h.vendor IS NOT NULL AND h.vendor <> 'dell'
                     AND count(*) OVER (PARTITION BY h.vendor, h.serial) = 1 THEN h.serial END AS u_serial,
           CASE WHEN h.uuid IS NOT NULL AND count(*) OVER (PARTITION BY h.uuid) = 1 THEN h.uuid END AS u_uuid,
           CASE WHEN h.tag IS NOT NULL AND count(*) OVER (PARTITION BY h.tag) > 1
                THEN count(*) OVER (PARTITION BY h.tag) END AS tag_shared_by
      FROM h
  ), pairs AS (
    -- One equi-join per kind of evidence (an OR across kinds cannot use an index or a hash).
    SELECT u.id AS host_id, s.id AS server_id FROM usable u JOIN public.servers s ON upper(s.service_tag) = u.u_tag
    UNION
    SELECT u.id, s.id FROM usable u JOIN public.servers s
        ON s.vendor_key = u.vendor AND upper(s.serial_number) = u.u_serial
    UNION
    SELECT u.id, s.id FROM usable u JOIN public.servers s ON lower(s.system_uuid) = u.u_uuid
  ), cand AS (
    SELECT u.id AS host_id, s.id AS server_id,
           concat_ws(' + ', CASE WHEN u.u_tag IS NOT NULL AND upper(s.service_tag) = u.u_tag THEN 'service tag' END,
                     CASE WHEN u.u_serial IS NOT NULL AND s.vendor_key = u.vendor AND upper(s.serial_number) = u.u_serial
                          THEN 'serial number' END,
                     CASE WHEN u.u_uuid IS NOT NULL AND lower(s.system_uuid) = u.u_uuid THEN 'system UUID' END) AS matched,
           dcops_internal.identity_clash(u.u_tag, u.vendor, u.u_serial, u.u_uuid,
                                         s.service_tag, s.vendor_key, s.serial_number, s.system_uuid) AS clash
      FROM pairs x JOIN usable u ON u.id = x.host_id JOIN public.servers s ON s.id = x.server_id
  ), per_host AS (
    SELECT u.id AS host_id, u.site, u.vcenter_id, u.moref, u.name, u.server_id AS old_server, u.link_pinned,
           u.tag, u.tag_shared_by,
           count(c.server_id) AS n, array_agg(c.server_id ORDER BY c.server_id) FILTER (WHERE c.server_id IS NOT NULL) AS servers,
           min(c.matched) AS matched, min(c.clash) AS clash
      FROM usable u LEFT JOIN cand c ON c.host_id = u.id
     GROUP BY u.id, u.site, u.vcenter_id, u.moref, u.name, u.server_id, u.link_pinned, u.tag, u.tag_shared_by
  ), decided AS (
    SELECT p.*, CASE WHEN p.n = 1 AND p.clash IS NULL THEN p.servers[1] END AS pick
      FROM per_host p
  ), wanted AS (
    SELECT d.*, count(*) FILTER (WHERE d.pick IS NOT NULL) OVER (PARTITION BY d.pick) AS wanted_by
      FROM decided d
  )
  INSERT INTO host_link_plan
  SELECT w.host_id, w.site, w.vcenter_id, w.moref, w.name, w.old_server,
         CASE WHEN w.pick IS NOT NULL AND w.wanted_by = 1 THEN w.pick END,
         CASE WHEN w.pick IS NOT NULL AND w.wanted_by = 1 THEN w.matched END,
         CASE WHEN w.n > 1 THEN format('host %s matches %s servers; it is left unlinked', w.name, w.n)
              WHEN w.n = 1 AND w.clash IS NOT NULL
                THEN format('host %s matches a server by %s but their %s differs; it is left unlinked', w.name, w.matched, w.clash)
              WHEN w.pick IS NOT NULL AND w.wanted_by > 1
                THEN format('%s hosts (%s among them) match one server; none is linked', w.wanted_by, w.name)
              WHEN w.n = 0 AND w.tag_shared_by IS NOT NULL
                   AND EXISTS (SELECT 1 FROM public.servers s WHERE upper(s.service_tag) = w.tag)
                THEN format('host %s reports service tag %s, which %s hosts report: not an identity; it is left unlinked',
                            w.name, w.tag, w.tag_shared_by)
         END,
         coalesce(w.servers, CASE WHEN w.tag_shared_by IS NOT NULL
                                  THEN ARRAY(SELECT s.id FROM public.servers s WHERE upper(s.service_tag) = w.tag) END,
                  '{}')
    FROM wanted w
   WHERE NOT w.link_pinned;

  WITH changed AS (
    UPDATE public.vcenter_hosts h SET server_id = p.new_server, link_evidence = p.evidence
      FROM host_link_plan p
     WHERE h.id = p.host_id AND (h.server_id IS DISTINCT FROM p.new_server OR h.link_evidence IS DISTINCT FROM p.evidence)
    RETURNING h.id, p.vcenter_id, p.moref, p.name, p.old_server, p.new_server, p.evidence, p.problem
  ), audited AS (
    INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
    SELECT 'dispatcher', CASE WHEN c.new_server IS NULL THEN 'host.unlink' ELSE 'host.link' END,
           'vcenter_host', c.id::text,
           jsonb_build_object('vcenter_id', c.vcenter_id, 'moref', c.moref, 'name', c.name,
                              'server_id', c.new_server, 'previous_server_id', c.old_server,
                              'evidence', c.evidence, 'why_unlinked', c.problem)
      FROM changed c
     WHERE c.old_server IS DISTINCT FROM c.new_server
    RETURNING 1
  )
  SELECT count(*) INTO v_changed FROM audited;

  -- Conflicts: a new one per host whose ambiguity is new; cleared when it is gone.
  FOR v_c IN SELECT * FROM host_link_plan x WHERE x.problem IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM public.server_identity_conflicts c
                               WHERE c.site = x.site AND c.status = 'open'
                                 AND c.subject = 'host:' || x.vcenter_id || '/' || x.moref AND c.message = x.problem) LOOP
    PERFORM dcops_internal.record_conflict(v_c.site, 'host_link', 'host:' || v_c.vcenter_id || '/' || v_c.moref, v_c.problem,
                                           v_c.servers, v_c.host_id, jsonb_build_object('host', v_c.name));
  END LOOP;
  UPDATE public.server_identity_conflicts c
     SET status = 'cleared', resolved_at = now(), resolved_by = 'dispatcher',
         resolution = jsonb_build_object('reason', 'the evidence no longer conflicts')
    FROM host_link_plan x
   WHERE c.kind = 'host_link' AND c.status = 'open' AND c.host_id = x.host_id AND x.problem IS NULL;
  RETURN v_changed;
END
$$;

-- Applies a succeeded inventory.vcenter_sync step (the landed contract, now with host link
-- conflicts as events of the step's job, counted in "conflicts"), from its staged batches, in
-- this one transaction. Result: {"mode": "full"|"incremental", "version": "…", "batches": n}.
-- full: every class is replaced (objects not seen are removed). incremental: the objects sent
-- are upserted and those in vcenter.removed ({"class": "vms", "moref": "vm-12"}) deleted.
-- Returns counts per class and the mode.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_apply_vcenter_sync(p_task_id uuid, p_lease_id uuid,
                                                                  p_result jsonb)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_vc uuid := dcops_internal.sync_endpoint(p_task_id, p_lease_id, p_result);
  v_mode text := coalesce(p_result ->> 'mode', '');
  v_inv jsonb := '{}';
  v_out jsonb;
  v_removed jsonb;
  v_class text;
  v_n int;
  v_before int := dcops_internal.conflicts_counted();
BEGIN
  PERFORM dcops_internal.set_identity_task(p_task_id);
  IF v_mode NOT IN ('full', 'incremental') THEN
    RAISE EXCEPTION 'sync result: mode must be full or incremental, got %', v_mode USING ERRCODE = '22023';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM public.vcenters WHERE id = v_vc) THEN
    RAISE EXCEPTION 'vcenter_id: no vCenter with id %', v_vc USING ERRCODE = 'P0002';
  END IF;
  FOREACH v_class IN ARRAY ARRAY['clusters', 'hosts', 'vms', 'datastores', 'networks'] LOOP
    IF v_mode = 'full' OR EXISTS (SELECT 1 FROM public.inventory_staging s
                                   WHERE s.task_id = p_task_id AND s.lease_id = p_lease_id
                                     AND s.kind = 'vcenter.' || v_class) THEN
      v_inv := v_inv || jsonb_build_object(v_class, dcops_internal.staged(p_task_id, p_lease_id, 'vcenter.' || v_class));
    END IF;
  END LOOP;
  v_out := dcops_internal.upsert_vcenter_objects(v_vc, v_inv, v_mode = 'full');
  IF v_mode = 'incremental' THEN
    v_removed := dcops_internal.staged(p_task_id, p_lease_id, 'vcenter.removed');
    -- VMs before hosts before clusters: nothing points at a row already gone.
    DELETE FROM public.vcenter_vms t WHERE t.vcenter_id = v_vc
       AND t.moref IN (SELECT r ->> 'moref' FROM jsonb_array_elements(v_removed) r WHERE r ->> 'class' = 'vms');
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_out := jsonb_set(v_out, '{vms_removed}', to_jsonb(v_n));
    DELETE FROM public.vcenter_hosts t WHERE t.vcenter_id = v_vc
       AND t.moref IN (SELECT r ->> 'moref' FROM jsonb_array_elements(v_removed) r WHERE r ->> 'class' = 'hosts');
    DELETE FROM public.vcenter_clusters t WHERE t.vcenter_id = v_vc
       AND t.moref IN (SELECT r ->> 'moref' FROM jsonb_array_elements(v_removed) r WHERE r ->> 'class' = 'clusters');
    DELETE FROM public.vcenter_datastores t WHERE t.vcenter_id = v_vc
       AND t.moref IN (SELECT r ->> 'moref' FROM jsonb_array_elements(v_removed) r WHERE r ->> 'class' = 'datastores');
    DELETE FROM public.vcenter_networks t WHERE t.vcenter_id = v_vc
       AND t.moref IN (SELECT r ->> 'moref' FROM jsonb_array_elements(v_removed) r WHERE r ->> 'class' = 'networks');
    v_out := v_out || jsonb_build_object('removed', jsonb_array_length(v_removed));
  END IF;
  PERFORM dcops_internal.link_hosts_to_servers(NULL, v_vc);
  UPDATE public.vcenters
     SET last_sync_at = now(), last_sync_error = NULL, sync_version = nullif(p_result ->> 'version', '')
   WHERE id = v_vc;
  PERFORM dcops_internal.set_identity_task(NULL);
  DELETE FROM public.inventory_staging WHERE task_id = p_task_id;
  RETURN v_out || jsonb_build_object('mode', v_mode, 'conflicts', dcops_internal.conflicts_counted() - v_before);
END
$$;

-- 7. Reading and resolving conflicts.
CREATE OR REPLACE FUNCTION dcops_internal.conflict_json(c public.server_identity_conflicts)
  RETURNS jsonb
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, public
AS $$
  SELECT jsonb_build_object('id', c.id, 'site', c.site, 'kind', c.kind, 'subject', c.subject, 'status', c.status,
                            'message', c.message, 'server_ids', to_jsonb(c.server_ids), 'host_id', c.host_id,
                            'evidence', c.evidence, 'first_seen_at', c.first_seen_at, 'last_seen_at', c.last_seen_at,
                            'seen_count', c.seen_count, 'job_id', c.job_id, 'resolved_at', c.resolved_at,
                            'resolved_by', c.resolved_by, 'resolution', c.resolution)
$$;

CREATE OR REPLACE FUNCTION public.dispatcher_v1_identity_conflicts(p_site text, p_status text DEFAULT 'open',
                                                                  p_limit int DEFAULT 200)
  RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
BEGIN
  IF coalesce(p_status, '') NOT IN ('open', 'resolved', 'dismissed', 'cleared', 'all') THEN
    RAISE EXCEPTION 'status: must be open, resolved, dismissed, cleared or all, got %', p_status USING ERRCODE = '22023';
  END IF;
  RETURN coalesce((SELECT jsonb_agg(dcops_internal.conflict_json(c) ORDER BY c.last_seen_at DESC, c.id)
                     FROM (SELECT * FROM public.server_identity_conflicts x
                            WHERE x.site = p_site AND (p_status = 'all' OR x.status = p_status)
                            ORDER BY x.last_seen_at DESC, x.id
                            LIMIT greatest(1, least(coalesce(p_limit, 200), 1000))) c), '[]');
END
$$;

-- An operator's decision on a conflict (audited):
--   dismiss  the rows stay apart as they are
--   merge    every server of the conflict becomes p_server_id (one of them)
--   assign   (an address conflict) the address goes to p_server_id, observed from now on
--   link     (a host conflict) the host links to p_server_id, pinned
--   unlink   (a host conflict) the host stays unlinked, pinned
--   accept   (evidence that disagreed with one server: a replaced board, a re-programmed tag)
--            the server takes the observation's evidence; the next refresh writes as usual
CREATE OR REPLACE FUNCTION dcops_internal.resolve_identity_conflict(p_site text, p_id uuid, p_action text,
                                                                   p_server_id uuid, p_actor text, p_actor_role text,
                                                                   p_note text)
  RETURNS jsonb
  LANGUAGE plpgsql
  SET search_path = pg_catalog, public
AS $$
DECLARE
  c public.server_identity_conflicts;
  v_addr text;
  v_other uuid;
  v_obs jsonb;
  v_resolution jsonb := jsonb_strip_nulls(jsonb_build_object('action', p_action, 'server_id', p_server_id,
                                                             'note', nullif(p_note, '')));
BEGIN
  SELECT * INTO c FROM public.server_identity_conflicts WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'conflict: no identity conflict with id %', p_id USING ERRCODE = 'P0002';
  END IF;
  IF p_site IS NOT NULL AND c.site <> p_site THEN
    RAISE EXCEPTION 'conflict: no identity conflict with id % in site %', p_id, p_site USING ERRCODE = 'P0002';
  END IF;
  IF coalesce(p_action, '') NOT IN ('dismiss', 'merge', 'assign', 'link', 'unlink', 'accept') THEN
    RAISE EXCEPTION 'action: must be dismiss, merge, assign, link, unlink or accept, got %', p_action USING ERRCODE = '22023';
  END IF;
  IF c.status <> 'open' THEN
    RAISE EXCEPTION 'conflict %: is % already', p_id, c.status USING ERRCODE = '55000';
  END IF;
  IF p_action IN ('dismiss', 'unlink') AND p_server_id IS NOT NULL THEN
    RAISE EXCEPTION 'server_id: % takes no server', p_action USING ERRCODE = '22023';
  END IF;
  IF p_action IN ('merge', 'assign', 'link', 'accept') THEN
    IF p_server_id IS NULL THEN
      RAISE EXCEPTION 'server_id: is required to %', p_action USING ERRCODE = '22023';
    END IF;
    IF NOT p_server_id = ANY (c.server_ids) THEN
      RAISE EXCEPTION 'server_id: % is not one of the conflict''s servers (%)', p_server_id, array_to_string(c.server_ids, ', ')
        USING ERRCODE = '22023';
    END IF;
  END IF;
  IF p_action IN ('link', 'unlink') AND c.kind <> 'host_link' THEN
    RAISE EXCEPTION 'action: % applies to host_link conflicts; this one is %', p_action, c.kind USING ERRCODE = '22023';
  END IF;
  IF p_action = 'assign' AND c.subject NOT LIKE 'address:%' THEN
    RAISE EXCEPTION 'action: assign applies to address conflicts; this one is about %', c.subject USING ERRCODE = '22023';
  END IF;
  IF p_action = 'accept' AND (c.kind <> 'evidence_disagrees' OR cardinality(c.server_ids) <> 1) THEN
    RAISE EXCEPTION 'action: accept applies to evidence that disagreed with one server; this conflict is % about % server(s) (merge, assign or dismiss)',
      c.kind, cardinality(c.server_ids) USING ERRCODE = '22023';
  END IF;
  IF p_action = 'merge' AND c.kind = 'host_link' THEN
    RAISE EXCEPTION 'action: merge applies to server conflicts; link or unlink the host instead' USING ERRCODE = '22023';
  END IF;

  IF p_action = 'accept' THEN
    -- The observation as the conflict kept it (under its source's name, latest sighting each).
    -- Sources may disagree with each other too: a first-hand one (redfish, then discovery) is
    -- what the operator accepts; the audit row records it as the "after".
    SELECT e.value INTO v_obs FROM jsonb_each(c.evidence) e
     WHERE jsonb_typeof(e.value) = 'object' AND e.key IN ('redfish', 'discovery', 'ome', 'manual')
     ORDER BY CASE e.key WHEN 'redfish' THEN 1 WHEN 'discovery' THEN 2 WHEN 'ome' THEN 3 ELSE 4 END LIMIT 1;
    IF v_obs IS NULL THEN
      RAISE EXCEPTION 'conflict %: keeps no observation to accept', p_id USING ERRCODE = '22023';
    END IF;
    INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
    SELECT p_actor_role, 'server.identity_changed', 'server', s.id::text,
           jsonb_build_object('before', jsonb_strip_nulls(jsonb_build_object('service_tag', s.service_tag,
                                'manufacturer', s.vendor_key, 'serial_number', s.serial_number, 'system_uuid', s.system_uuid)),
                              'after', v_obs, 'conflict_id', c.id, 'actor', p_actor, 'note', p_note)
      FROM public.servers s WHERE s.id = p_server_id;
    UPDATE public.servers s SET
      service_tag = coalesce(v_obs ->> 'service_tag', s.service_tag),
      serial_number = coalesce(v_obs ->> 'serial_number', s.serial_number),
      system_uuid = coalesce(v_obs ->> 'system_uuid', s.system_uuid)
     WHERE s.id = p_server_id;
    IF dcops_internal.hosts_may_link(p_server_id) THEN
      PERFORM dcops_internal.link_hosts_to_servers(NULL, NULL);
    END IF;
  ELSIF p_action = 'merge' THEN
    FOREACH v_other IN ARRAY c.server_ids LOOP
      CONTINUE WHEN v_other = p_server_id;
      -- The kept row keeps its own identity; the other's evidence is in the audit row.
      UPDATE public.servers SET bmc_address = NULL, service_tag = NULL WHERE id = v_other
         AND EXISTS (SELECT 1 FROM public.servers k WHERE k.id = p_server_id AND (k.service_tag IS NOT NULL OR k.bmc_address IS NOT NULL));
      PERFORM dcops_internal.merge_servers(p_server_id, v_other,
        jsonb_build_object('conflict_id', c.id, 'conflict', c.message, 'decided_by', p_actor, 'note', p_note), p_actor_role);
    END LOOP;
    PERFORM dcops_internal.link_hosts_to_servers(NULL, NULL);
  ELSIF p_action = 'assign' THEN
    v_addr := substr(c.subject, length('address:') + 1);
    UPDATE public.servers SET bmc_address = NULL WHERE site = c.site AND bmc_address = v_addr AND id <> p_server_id;
    UPDATE public.servers SET bmc_address = v_addr, address_source = 'observed' WHERE id = p_server_id;
  ELSIF p_action IN ('link', 'unlink') THEN
    UPDATE public.vcenter_hosts
       SET server_id = CASE WHEN p_action = 'link' THEN p_server_id END, link_pinned = true,
           link_evidence = 'operator'
     WHERE id = c.host_id;
    INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
    VALUES (p_actor_role, 'host.' || p_action, 'vcenter_host', c.host_id::text,
            jsonb_build_object('server_id', p_server_id, 'evidence', 'operator', 'actor', p_actor,
                               'conflict_id', c.id, 'note', p_note));
  END IF;

  UPDATE public.server_identity_conflicts
     SET status = CASE WHEN p_action = 'dismiss' THEN 'dismissed' ELSE 'resolved' END,
         resolved_at = now(), resolved_by = p_actor, resolution = v_resolution
   WHERE id = p_id
  RETURNING * INTO c;
  INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
  VALUES (p_actor_role, 'identity.resolve', 'server_identity_conflict', p_id::text,
          jsonb_build_object('actor', p_actor, 'resolution', v_resolution, 'subject', c.subject, 'kind', c.kind));
  RETURN dcops_internal.conflict_json(c);
END
$$;

-- The dispatcher's (for /api/v1 and the CLI): a conflict of its own site only.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_resolve_identity_conflict(p_site text, p_id uuid, p_action text,
                                                                         p_server_id uuid, p_actor text, p_note text)
  RETURNS jsonb
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT dcops_internal.resolve_identity_conflict(p_site, p_id, p_action, p_server_id, coalesce(p_actor, 'api'),
                                                  'dispatcher:' || coalesce(p_actor, 'api'), p_note)
$$;

-- The UI's: admins resolve conflicts.
CREATE OR REPLACE FUNCTION public.resolve_identity_conflict(p_id uuid, p_action text, p_server_id uuid DEFAULT NULL,
                                                           p_note text DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
BEGIN
  PERFORM dcops_internal.require_role('admin', 'resolve an identity conflict');
  RETURN dcops_internal.resolve_identity_conflict(NULL, p_id, p_action, p_server_id, coalesce(auth.uid()::text, current_user::text),
                                                  dcops_internal.actor_role(), p_note);
END
$$;

-- The UI's way to add a server (admins): through the resolver like every other writer.
-- {"bmc_address": "…", "service_tag"?, "manufacturer"?, "serial_number"?, "credential_set_id"?,
--  "tls_verify"?, "tls_pin_sha256"?}. Returns {"server_id", "created", "conflict_id"}.
CREATE OR REPLACE FUNCTION public.add_server(p_server jsonb, p_site text DEFAULT 'default')
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_res jsonb;
  v_id uuid;
BEGIN
  PERFORM dcops_internal.require_role('admin', 'add a server');
  IF p_server IS NULL OR jsonb_typeof(p_server) <> 'object' THEN
    RAISE EXCEPTION 'server: must be a JSON object' USING ERRCODE = '22023';
  END IF;
  v_res := dcops_internal.resolve_for_write(p_site, (p_server - 'source') || '{"source": "manual"}');
  v_id := (v_res ->> 'server_id')::uuid;
  IF v_id IS NOT NULL THEN
    UPDATE public.servers s SET
      credential_set_id = CASE WHEN p_server ? 'credential_set_id' THEN (p_server ->> 'credential_set_id')::uuid ELSE s.credential_set_id END,
      tls_verify = CASE WHEN p_server ? 'tls_verify' THEN (p_server ->> 'tls_verify')::boolean ELSE s.tls_verify END,
      tls_pin_sha256 = CASE WHEN p_server ? 'tls_pin_sha256' THEN p_server ->> 'tls_pin_sha256' ELSE s.tls_pin_sha256 END
     WHERE s.id = v_id;
    IF (v_res ->> 'identity_changed')::boolean AND dcops_internal.hosts_may_link(v_id) THEN
      PERFORM dcops_internal.link_hosts_to_servers(NULL, NULL);
    END IF;
  END IF;
  INSERT INTO public.audit_log (actor, actor_role, action, object_type, object_id, details)
  VALUES (auth.uid(), dcops_internal.actor_role(), 'server.add', 'server', v_id::text,
          jsonb_build_object('request', p_server - 'tls_pin_sha256', 'result', v_res));
  RETURN jsonb_build_object('server_id', v_id, 'created', coalesce((v_res ->> 'created')::boolean, false),
                            'conflict_id', v_res -> 'conflict_id');
END
$$;

-- Targets by address: the scope's addresses in their normal form.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_resolve_servers(p_site text, p_scope jsonb)
  RETURNS TABLE (server_id uuid, bmc_address text, service_tag text, credential_set_id uuid,
                 tls_verify boolean, tls_pin_sha256 text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT s.id, s.bmc_address, s.service_tag, s.credential_set_id, s.tls_verify, s.tls_pin_sha256
    FROM public.servers s
   WHERE s.bmc_address IS NOT NULL
     AND ((p_scope ? 'server_ids' AND s.id IN (SELECT e::uuid FROM jsonb_array_elements_text(p_scope -> 'server_ids') e))
       OR (p_scope ? 'bmc_addresses' AND s.site = p_site
           AND s.bmc_address IN (SELECT dcops_internal.bmc_address_or_null(e)
                                   FROM jsonb_array_elements_text(p_scope -> 'bmc_addresses') e))
       OR (p_scope -> 'all_servers' = 'true'::jsonb AND s.site = p_site))
   ORDER BY s.bmc_address
$$;

-- A scope's BMC addresses in their normal form (an address that has none is kept as given;
-- the planner reports it when it cannot be reached), for targets the inventory lacks.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_scope_addresses(p_scope jsonb)
  RETURNS TABLE (bmc_address text)
  LANGUAGE sql IMMUTABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
  SELECT DISTINCT coalesce(dcops_internal.bmc_address_or_null(e), e)
    FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(p_scope -> 'bmc_addresses') = 'array'
                                        THEN p_scope -> 'bmc_addresses' ELSE '[]' END) e
$$;

-- 8. Rows written before this migration: non-Dell rows lose the "service tag" that was a SKU
-- (audited), addresses take their normal form unless two rows would then share one (those
-- are recorded as conflicts and left as they are), identity fields take theirs.
DO $$
DECLARE
  g record;
BEGIN
  INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
  SELECT 'migration', 'server.identity_corrected', 'server', s.id::text,
         jsonb_build_object('service_tag_removed', s.service_tag, 'manufacturer', s.manufacturer,
                            'why', 'a service tag is Dell''s; this was the SKU or serial number')
    FROM public.servers s
   WHERE s.service_tag IS NOT NULL AND dcops_internal.vendor_key(s.manufacturer) <> 'dell';
  ALTER TABLE public.servers DISABLE TRIGGER servers_normalize;
  UPDATE public.servers s SET service_tag = NULL
   WHERE s.service_tag IS NOT NULL AND dcops_internal.vendor_key(s.manufacturer) <> 'dell';
  ALTER TABLE public.servers ENABLE TRIGGER servers_normalize;
  FOR g IN SELECT s.site, dcops_internal.bmc_address_or_null(s.bmc_address) AS addr, array_agg(s.id ORDER BY s.id) AS ids
             FROM public.servers s WHERE s.bmc_address IS NOT NULL
            GROUP BY 1, 2 HAVING count(*) > 1 AND dcops_internal.bmc_address_or_null(s.bmc_address) IS NOT NULL LOOP
    PERFORM dcops_internal.record_conflict(g.site, 'might_be_same', 'address:' || g.addr,
      format('%s rows name the address %s in different spellings', cardinality(g.ids), g.addr), g.ids, NULL,
      jsonb_build_object('migration', true));
  END LOOP;
  UPDATE public.servers s
     SET bmc_address = dcops_internal.bmc_address_or_null(s.bmc_address),
         address_source = CASE WHEN s.last_refreshed_at IS NOT NULL AND s.source IN ('redfish', 'discovery')
                               THEN 'observed' ELSE 'reported' END
   WHERE s.bmc_address IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM public.servers o
                      WHERE o.id <> s.id AND o.site = s.site AND o.bmc_address IS NOT NULL
                        AND dcops_internal.bmc_address_or_null(o.bmc_address) = dcops_internal.bmc_address_or_null(s.bmc_address));
  PERFORM set_config('dcops.renormalize', 'on', true);
  UPDATE public.servers s SET service_tag = s.service_tag;  -- the trigger writes the normal forms
  PERFORM set_config('dcops.renormalize', 'off', true);
END
$$;

-- 9. Grants. The UI adds servers through add_server and resolves through
-- resolve_identity_conflict; it may still set a server's credentials and TLS settings.
REVOKE INSERT, UPDATE ON public.servers FROM authenticated;
GRANT UPDATE (credential_set_id, tls_verify, tls_pin_sha256, hostname) ON public.servers TO authenticated;
GRANT EXECUTE ON FUNCTION public.add_server(jsonb, text) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.resolve_identity_conflict(uuid, text, uuid, text) TO authenticated, service_role;
DO $$
DECLARE
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['dispatcher_v1_upsert_server(text, jsonb)',
                           'dispatcher_v1_upsert_server_inventory(text, jsonb)',
                           'dispatcher_v1_record_refresh(text, uuid, jsonb)',
                           'dispatcher_v1_record_discovery(text, jsonb, uuid)',
                           'dispatcher_v1_apply_ome_sync(uuid, uuid, jsonb)',
                           'dispatcher_v1_apply_vcenter_sync(uuid, uuid, jsonb)',
                           'dispatcher_v1_resolve_servers(text, jsonb)',
                           'dispatcher_v1_scope_addresses(jsonb)',
                           'dispatcher_v1_identity_conflicts(text, text, int)',
                           'dispatcher_v1_resolve_identity_conflict(text, uuid, text, uuid, text, text)']
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION public.%s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION public.%s TO dcops_dispatcher', f);
  END LOOP;
END
$$;
