-- The control plane's tables. Names are part of the UI contract.
-- Statuses are text with CHECK constraints (not enum types) so later migrations can widen
-- them without ALTER TYPE, and so this file can be re-run.

-- Shared trigger: keep updated_at current.
CREATE OR REPLACE FUNCTION public.dcops_touch_updated_at() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

-- Who may do what in the UI. A user without a row here sees nothing.
CREATE TABLE IF NOT EXISTS public.user_roles (
  user_id    uuid PRIMARY KEY,
  role       text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The registry of job types: what create_job accepts. The dispatcher has its own registry
-- of planners for the same names; a type the dispatcher cannot plan fails at planning with
-- a clear error, never silently.
CREATE TABLE IF NOT EXISTS public.job_types (
  job_type            text PRIMARY KEY CHECK (job_type ~ '^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$'),
  description         text NOT NULL,
  agent_kind          text NOT NULL,
  mutating            boolean NOT NULL,
  -- Keys the target scope may use (exactly one of them per job), see dcops_validate_scope.
  scope_kinds         text[] NOT NULL,
  -- A JSON-Schema subset, see dcops_validate_json.
  params_schema       jsonb NOT NULL DEFAULT '{"type":"object","additionalProperties":false}',
  enabled             boolean NOT NULL DEFAULT true,
  max_attempts        int NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100),
  retry_base_ms       int NOT NULL DEFAULT 2000 CHECK (retry_base_ms >= 0),
  retry_max_ms        int NOT NULL DEFAULT 300000 CHECK (retry_max_ms >= 0),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.jobs (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site                text NOT NULL DEFAULT 'default'
                      CHECK (site ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  job_type            text NOT NULL REFERENCES public.job_types(job_type),
  status              text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('scheduled', 'pending', 'running',
                                        'succeeded', 'failed', 'cancelled')),
  target_scope        jsonb NOT NULL,
  params              jsonb NOT NULL DEFAULT '{}',
  priority            int NOT NULL DEFAULT 0 CHECK (priority BETWEEN -100 AND 100),
  idempotency_key     text CHECK (length(idempotency_key) BETWEEN 1 AND 200),
  schedule_at         timestamptz,
  created_by          uuid,
  created_via         text NOT NULL DEFAULT 'ui' CHECK (created_via IN ('ui', 'schedule', 'dispatcher', 'service')),
  schedule_id         uuid,
  -- W3C trace context created with the job; travels to the agent and the device.
  traceparent         text NOT NULL,
  cancel_requested_at timestamptz,
  cancel_requested_by uuid,
  steps_total         int NOT NULL DEFAULT 0,
  steps_succeeded     int NOT NULL DEFAULT 0,
  steps_failed        int NOT NULL DEFAULT 0,
  steps_finished      int NOT NULL DEFAULT 0,   -- in any terminal state
  progress            int NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  result              jsonb,
  error_code          text,
  error_message       text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  planned_at          timestamptz,
  started_at          timestamptz,
  finished_at         timestamptz,
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency_key_uq
  ON public.jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_to_plan_idx
  ON public.jobs (site, priority DESC, created_at) WHERE status IN ('scheduled', 'pending');
CREATE INDEX IF NOT EXISTS jobs_finished_idx
  ON public.jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_created_idx ON public.jobs (created_at DESC);

-- One step of a job: (action, target), with dependencies in job_task_deps.
CREATE TABLE IF NOT EXISTS public.job_tasks (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id              uuid NOT NULL REFERENCES public.jobs(id) ON DELETE CASCADE,
  site                text NOT NULL,
  -- Position in the job (1-based). Claims take lower positions of every job first, so a
  -- 1,000-step job cannot starve a 1-step job that arrives after it.
  seq                 int NOT NULL CHECK (seq >= 1),
  step_key            text NOT NULL,
  step_kind           text NOT NULL,
  target              text NOT NULL CHECK (target ~ '^(idrac|vcenter|esxi|zfs|ome|redfish|site):.+$'),
  mutating            boolean NOT NULL,
  params              jsonb NOT NULL DEFAULT '{}',
  status              text NOT NULL DEFAULT 'blocked'
                      CHECK (status IN ('blocked', 'ready', 'leased', 'running',
                                        'succeeded', 'failed', 'cancelled', 'skipped')),
  priority            int NOT NULL DEFAULT 0,
  attempt             int NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  max_attempts        int NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
  retry_base_ms       int NOT NULL DEFAULT 2000,
  retry_max_ms        int NOT NULL DEFAULT 300000,
  run_after           timestamptz NOT NULL DEFAULT now(),
  -- The lease: a fresh lease_id per claim fences off late calls from an earlier holder.
  lease_id            uuid,
  lease_owner         text,
  lease_expires_at    timestamptz,
  heartbeat_at        timestamptz,
  progress            int NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  progress_message    text,
  -- What the worker saved between phases, handed back on retry so it resumes.
  checkpoint          jsonb,
  result              jsonb,
  error_code          text,
  error_message       text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  started_at          timestamptz,
  finished_at         timestamptz,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (job_id, step_key),
  UNIQUE (job_id, seq)
);
CREATE INDEX IF NOT EXISTS job_tasks_ready_idx
  ON public.job_tasks (site, priority DESC, seq, created_at) WHERE status = 'ready';
CREATE INDEX IF NOT EXISTS job_tasks_leased_idx
  ON public.job_tasks (lease_expires_at) WHERE status IN ('leased', 'running');

CREATE TABLE IF NOT EXISTS public.job_task_deps (
  task_id    uuid NOT NULL REFERENCES public.job_tasks(id) ON DELETE CASCADE,
  depends_on uuid NOT NULL REFERENCES public.job_tasks(id) ON DELETE CASCADE,
  PRIMARY KEY (task_id, depends_on),
  CHECK (task_id <> depends_on)
);
CREATE INDEX IF NOT EXISTS job_task_deps_depends_on_idx ON public.job_task_deps (depends_on);

-- The live log of a job. Append-only; ordered per job by id.
CREATE TABLE IF NOT EXISTS public.job_events (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id     uuid NOT NULL REFERENCES public.jobs(id) ON DELETE CASCADE,
  task_id    uuid REFERENCES public.job_tasks(id) ON DELETE CASCADE,
  ts         timestamptz NOT NULL DEFAULT now(),
  level      text NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
  message    text NOT NULL CHECK (length(message) BETWEEN 1 AND 4000),
  data       jsonb,
  source     text,
  trace_id   text
);
CREATE INDEX IF NOT EXISTS job_events_job_idx ON public.job_events (job_id, id);

CREATE TABLE IF NOT EXISTS public.agents (
  id              text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
  site            text NOT NULL,
  kind            text NOT NULL,
  version         text NOT NULL DEFAULT '',
  hostname        text NOT NULL DEFAULT '',
  capacity        int NOT NULL DEFAULT 1 CHECK (capacity >= 0),
  step_kinds      text[] NOT NULL DEFAULT '{}',
  status          text NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'draining', 'offline')),
  running         int NOT NULL DEFAULT 0,
  connected_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at    timestamptz NOT NULL DEFAULT now(),
  disconnected_at timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS agents_site_idx ON public.agents (site, kind);

-- Device credentials. ciphertext is AES-256-GCM under a key only the on-prem dispatcher
-- holds; no UI role can read the column (see the security migration).
CREATE TABLE IF NOT EXISTS public.credential_sets (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
  kind        text NOT NULL CHECK (kind IN ('idrac', 'redfish', 'vcenter', 'esxi', 'ome', 'zfs')),
  username    text NOT NULL DEFAULT '',
  description text NOT NULL DEFAULT '',
  -- Order in which discovery tries sets of the same kind (lower first).
  try_order   int NOT NULL DEFAULT 100,
  ciphertext  bytea,
  -- Whether a secret is stored, readable where the ciphertext is not.
  has_secret  boolean GENERATED ALWAYS AS (ciphertext IS NOT NULL) STORED,
  key_id      text,
  created_by  uuid,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.servers (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site               text NOT NULL DEFAULT 'default',
  bmc_address        text,
  hostname           text,
  manufacturer       text,
  model              text,
  service_tag        text,
  serial_number      text,
  bios_version       text,
  bmc_firmware       text,
  lc_state           text,
  power_state        text,
  health             text,
  cpu_count          int,
  memory_gib         numeric,
  source             text NOT NULL DEFAULT 'redfish' CHECK (source IN ('redfish', 'ome', 'manual', 'discovery')),
  ome_device_id      bigint,
  credential_set_id  uuid REFERENCES public.credential_sets(id) ON DELETE SET NULL,
  tls_verify         boolean NOT NULL DEFAULT true,
  tls_pin_sha256     text,
  last_refreshed_at  timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CHECK (bmc_address IS NOT NULL OR service_tag IS NOT NULL)
);
CREATE UNIQUE INDEX IF NOT EXISTS servers_service_tag_uq
  ON public.servers (upper(service_tag)) WHERE service_tag IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS servers_bmc_uq
  ON public.servers (site, bmc_address) WHERE bmc_address IS NOT NULL;

CREATE TABLE IF NOT EXISTS public.server_processors (
  server_id     uuid NOT NULL REFERENCES public.servers(id) ON DELETE CASCADE,
  socket        text NOT NULL,
  model         text,
  manufacturer  text,
  cores         int,
  threads       int,
  max_speed_mhz int,
  health        text,
  PRIMARY KEY (server_id, socket)
);
CREATE TABLE IF NOT EXISTS public.server_memory (
  server_id     uuid NOT NULL REFERENCES public.servers(id) ON DELETE CASCADE,
  slot          text NOT NULL,
  capacity_mib  bigint,
  memory_type   text,
  speed_mhz     int,
  manufacturer  text,
  part_number   text,
  serial_number text,
  health        text,
  PRIMARY KEY (server_id, slot)
);
CREATE TABLE IF NOT EXISTS public.server_drives (
  server_id         uuid NOT NULL REFERENCES public.servers(id) ON DELETE CASCADE,
  slot              text NOT NULL,
  model             text,
  serial_number     text,
  media_type        text,
  protocol          text,
  capacity_bytes    bigint,
  firmware_version  text,
  health            text,
  predicted_failure boolean,
  controller        text,
  PRIMARY KEY (server_id, slot)
);
CREATE TABLE IF NOT EXISTS public.server_nics (
  server_id        uuid NOT NULL REFERENCES public.servers(id) ON DELETE CASCADE,
  port_id          text NOT NULL,
  adapter          text,
  mac_address      text,
  link_status      text,
  speed_mbps       int,
  firmware_version text,
  PRIMARY KEY (server_id, port_id)
);
CREATE TABLE IF NOT EXISTS public.server_firmware (
  server_id    uuid NOT NULL REFERENCES public.servers(id) ON DELETE CASCADE,
  component_id text NOT NULL,
  name         text NOT NULL,
  version      text NOT NULL,
  updateable   boolean,
  install_date timestamptz,
  PRIMARY KEY (server_id, component_id)
);

CREATE TABLE IF NOT EXISTS public.vcenters (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site              text NOT NULL DEFAULT 'default',
  name              text NOT NULL,
  address           text NOT NULL,
  credential_set_id uuid REFERENCES public.credential_sets(id) ON DELETE SET NULL,
  tls_verify        boolean NOT NULL DEFAULT true,
  tls_pin_sha256    text,
  enabled           boolean NOT NULL DEFAULT true,
  last_sync_at      timestamptz,
  last_sync_error   text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (site, address)
);
CREATE TABLE IF NOT EXISTS public.vcenter_clusters (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  vcenter_id   uuid NOT NULL REFERENCES public.vcenters(id) ON DELETE CASCADE,
  moref        text NOT NULL,
  name         text NOT NULL,
  datacenter   text,
  ha_enabled   boolean,
  drs_enabled  boolean,
  vsan_enabled boolean,
  host_count   int,
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (vcenter_id, moref)
);
CREATE TABLE IF NOT EXISTS public.vcenter_hosts (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  vcenter_id       uuid NOT NULL REFERENCES public.vcenters(id) ON DELETE CASCADE,
  cluster_id       uuid REFERENCES public.vcenter_clusters(id) ON DELETE SET NULL,
  moref            text NOT NULL,
  name             text NOT NULL,
  connection_state text,
  power_state      text,
  maintenance_mode boolean,
  esxi_version     text,
  esxi_build       text,
  vendor           text,
  model            text,
  service_tag      text,
  server_id        uuid REFERENCES public.servers(id) ON DELETE SET NULL,
  last_seen_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (vcenter_id, moref)
);
CREATE INDEX IF NOT EXISTS vcenter_hosts_service_tag_idx ON public.vcenter_hosts (upper(service_tag));
CREATE TABLE IF NOT EXISTS public.vcenter_vms (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  vcenter_id    uuid NOT NULL REFERENCES public.vcenters(id) ON DELETE CASCADE,
  host_id       uuid REFERENCES public.vcenter_hosts(id) ON DELETE SET NULL,
  moref         text NOT NULL,
  name          text NOT NULL,
  power_state   text,
  guest_os      text,
  num_cpu       int,
  memory_mib    bigint,
  instance_uuid text,
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (vcenter_id, moref)
);
CREATE TABLE IF NOT EXISTS public.vcenter_datastores (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  vcenter_id     uuid NOT NULL REFERENCES public.vcenters(id) ON DELETE CASCADE,
  moref          text NOT NULL,
  name           text NOT NULL,
  ds_type        text,
  capacity_bytes bigint,
  free_bytes     bigint,
  accessible     boolean,
  last_seen_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (vcenter_id, moref)
);
CREATE TABLE IF NOT EXISTS public.vcenter_networks (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  vcenter_id   uuid NOT NULL REFERENCES public.vcenters(id) ON DELETE CASCADE,
  moref        text NOT NULL,
  name         text NOT NULL,
  network_type text,
  vlan_id      int,
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (vcenter_id, moref)
);

CREATE TABLE IF NOT EXISTS public.ome_endpoints (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site              text NOT NULL DEFAULT 'default',
  name              text NOT NULL,
  address           text NOT NULL,
  credential_set_id uuid REFERENCES public.credential_sets(id) ON DELETE SET NULL,
  tls_verify        boolean NOT NULL DEFAULT true,
  tls_pin_sha256    text,
  enabled           boolean NOT NULL DEFAULT true,
  last_sync_at      timestamptz,
  last_sync_error   text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (site, address)
);

CREATE TABLE IF NOT EXISTS public.zfs_hosts (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site                 text NOT NULL DEFAULT 'default',
  name                 text NOT NULL,
  address              text NOT NULL,
  ssh_port             int NOT NULL DEFAULT 22 CHECK (ssh_port BETWEEN 1 AND 65535),
  ssh_user             text NOT NULL DEFAULT 'root',
  credential_set_id    uuid REFERENCES public.credential_sets(id) ON DELETE SET NULL,
  host_key_fingerprint text,
  enabled              boolean NOT NULL DEFAULT true,
  last_health          jsonb,
  last_health_at       timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (site, address, ssh_port)
);

-- Periodic jobs (inventory syncs, replication, pruning). The dispatcher fires due ones.
CREATE TABLE IF NOT EXISTS public.schedules (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site             text NOT NULL DEFAULT 'default',
  name             text NOT NULL,
  job_type         text NOT NULL REFERENCES public.job_types(job_type),
  target_scope     jsonb NOT NULL,
  params           jsonb NOT NULL DEFAULT '{}',
  interval_seconds int NOT NULL CHECK (interval_seconds BETWEEN 60 AND 31536000),
  enabled          boolean NOT NULL DEFAULT true,
  next_run_at      timestamptz NOT NULL DEFAULT now(),
  last_run_at      timestamptz,
  last_job_id      uuid,
  created_by       uuid,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (site, name)
);
CREATE INDEX IF NOT EXISTS schedules_due_idx ON public.schedules (site, next_run_at) WHERE enabled;

CREATE TABLE IF NOT EXISTS public.audit_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts          timestamptz NOT NULL DEFAULT now(),
  actor       uuid,
  actor_role  text,
  action      text NOT NULL,
  object_type text NOT NULL,
  object_id   text,
  details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_log_ts_idx ON public.audit_log (ts);

-- updated_at triggers.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['user_roles', 'job_types', 'jobs', 'job_tasks', 'agents',
                           'credential_sets', 'servers', 'vcenters', 'ome_endpoints',
                           'zfs_hosts', 'schedules']
  LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE UPDATE ON public.%I '
                   'FOR EACH ROW EXECUTE FUNCTION public.dcops_touch_updated_at()',
                   t || '_touch', t);
  END LOOP;
END
$$;

-- Terminal states are final, whoever writes: no statement moves a finished job or step back.
CREATE OR REPLACE FUNCTION public.dcops_guard_terminal_status() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status IN ('succeeded', 'failed', 'cancelled', 'skipped')
     AND NEW.status IS DISTINCT FROM OLD.status THEN
    RAISE EXCEPTION '% % is % (final) and cannot become %',
      TG_TABLE_NAME, OLD.id, OLD.status, NEW.status
      USING ERRCODE = '55000';
  END IF;
  RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER jobs_terminal_guard BEFORE UPDATE OF status ON public.jobs
  FOR EACH ROW WHEN (OLD.status IN ('succeeded', 'failed', 'cancelled'))
  EXECUTE FUNCTION public.dcops_guard_terminal_status();
CREATE OR REPLACE TRIGGER job_tasks_terminal_guard BEFORE UPDATE OF status ON public.job_tasks
  FOR EACH ROW WHEN (OLD.status IN ('succeeded', 'failed', 'cancelled', 'skipped'))
  EXECUTE FUNCTION public.dcops_guard_terminal_status();
