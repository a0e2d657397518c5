-- Credentials go only where their kind belongs (issue 13, first part). A step is given a
-- credential set's secret only when the set's kind is one its agent speaks: a vCenter
-- administrator's password is never handed to a step that talks to a BMC, whoever names the
-- set in a job's params. Every decryption the dispatcher is allowed is audited (job, step,
-- target, set; never the secret).

-- The credential kinds each agent kind's steps may receive.
CREATE OR REPLACE FUNCTION dcops_internal.credential_kinds_for(p_agent_kind text)
  RETURNS text[]
  LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE p_agent_kind
           WHEN 'idrac-worker' THEN ARRAY['idrac', 'redfish']
           WHEN 'ome-sync' THEN ARRAY['ome']
           WHEN 'vcenter-sync' THEN ARRAY['vcenter']
           WHEN 'esxi-worker' THEN ARRAY['vcenter', 'esxi']
           WHEN 'zfs-worker' THEN ARRAY['zfs']
           ELSE ARRAY[]::text[]
         END
$$;

-- A credential set for one step, for the dispatcher to decrypt and send with the step's
-- assignment. The step's kind (its job type's agent) must take the set's kind: otherwise the
-- row comes back without its ciphertext and with `refused` saying why (the refusal is kept in
-- the audit log, which an exception would roll back). An unknown set or step returns no row.
-- Each call is one audit row (`credential.release` / `credential.refused`): the set, the job,
-- the step and its target; never the secret.
CREATE OR REPLACE FUNCTION public.dispatcher_v1_credential_set_for_step(p_id uuid, p_task_id uuid)
  RETURNS TABLE (id uuid, name text, kind text, username text, ciphertext bytea, key_id text, refused text)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
AS $$
DECLARE
  v_set public.credential_sets;
  v_step record;
  v_allowed text[];
BEGIN
  SELECT t.id, t.job_id, t.step_kind, t.target,
         coalesce((SELECT jt.agent_kind FROM public.job_types jt WHERE jt.job_type = t.step_kind),
                  (SELECT jt.agent_kind FROM public.jobs j JOIN public.job_types jt ON jt.job_type = j.job_type
                    WHERE j.id = t.job_id)) AS agent_kind
    INTO v_step
    FROM public.job_tasks t WHERE t.id = p_task_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  SELECT * INTO v_set FROM public.credential_sets c WHERE c.id = p_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  v_allowed := dcops_internal.credential_kinds_for(v_step.agent_kind);
  IF NOT v_set.kind = ANY (v_allowed) THEN
    INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
    VALUES ('dispatcher', 'credential.refused', 'credential_set', v_set.id::text,
            jsonb_build_object('set', v_set.name, 'kind', v_set.kind, 'job_id', v_step.job_id, 'task_id', v_step.id,
                               'step_kind', v_step.step_kind, 'target', v_step.target));
    RETURN QUERY SELECT v_set.id, v_set.name, v_set.kind, v_set.username, NULL::bytea, NULL::text,
      format('credential set %s is a %s set; %s steps take %s sets only', v_set.name, v_set.kind,
             v_step.step_kind, array_to_string(v_allowed, ' or '));
    RETURN;
  END IF;
  INSERT INTO public.audit_log (actor_role, action, object_type, object_id, details)
  VALUES ('dispatcher', 'credential.release', 'credential_set', v_set.id::text,
          jsonb_build_object('set', v_set.name, 'kind', v_set.kind, 'job_id', v_step.job_id, 'task_id', v_step.id,
                             'step_kind', v_step.step_kind, 'target', v_step.target));
  RETURN QUERY SELECT v_set.id, v_set.name, v_set.kind, v_set.username, v_set.ciphertext, v_set.key_id, NULL::text;
END
$$;

REVOKE ALL ON FUNCTION public.dispatcher_v1_credential_set_for_step(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.dispatcher_v1_credential_set_for_step(uuid, uuid) TO dcops_dispatcher;
