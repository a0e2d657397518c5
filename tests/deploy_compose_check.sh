#!/usr/bin/env bash
# The compose file is valid for docker-compose (offline check; no engine needed): the
# deployment's services, secrets and scaling rules parse as written.
set -euo pipefail
src=$(cd "$(dirname "$0")/../deploy" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$src/docker-compose.yml" "$src/dcops.env.example" "$work/"
cp "$work/dcops.env.example" "$work/dcops.env"
mkdir -p "$work/pki/agents"
for f in postgres.password site.key agent.token api.token dispatcher.pem dispatcher-key.pem ca.pem \
         agents/idrac-worker.token agents/ome-sync.token agents/vcenter-sync.token; do : > "$work/pki/$f"; done
docker-compose -f "$work/docker-compose.yml" config -q
# Agents scale: no fixed container names or host ports on the worker.
docker-compose -f "$work/docker-compose.yml" config | awk '/^  idrac-worker:/{w=1;next} /^  [a-z]/{w=0} w' > "$work/worker.yml"
[ -s "$work/worker.yml" ] && grep -q "idrac-worker" "$work/worker.yml"
! grep -qE 'container_name|ports:' "$work/worker.yml"
echo "compose file valid"
