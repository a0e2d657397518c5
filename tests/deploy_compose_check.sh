#!/usr/bin/env bash
# The compose files are valid for docker-compose (offline check; no engine needed): the site
# alone, with its own PostgreSQL and with its HTTP port published, as env.example combines
# them; every agent scales (no fixed container name or host port); every secret has a file.
set -euo pipefail
src=$(cd "$(dirname "$0")/../deploy" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$src"/docker-compose*.yml "$src/dcops.env.example" "$work/"
cp "$work/dcops.env.example" "$work/dcops.env"
mkdir -p "$work/pki/agents"
# Every secret file the compose files name, empty (config only checks that they exist).
grep -ho 'file: \./pki/[^}]*' "$work"/docker-compose*.yml | sed 's/file: \.\///; s/ *$//' | sort -u | while read -r f; do : > "$work/$f"; done
combos=("docker-compose.yml" "docker-compose.yml:docker-compose.publish.yml"
        "docker-compose.yml:docker-compose.postgres.yml:docker-compose.publish.yml")
for combo in "${combos[@]}"; do
  args=(); IFS=: read -ra files <<< "$combo"
  for f in "${files[@]}"; do args+=(-f "$work/$f"); done
  docker-compose "${args[@]}" config -q || { echo "invalid: $combo" >&2; exit 1; }
done
config=$(docker-compose -f "$work/docker-compose.yml" config)
for agent in idrac-worker esxi-worker zfs-worker ome-sync vcenter-sync; do
  block=$(awk -v s="  $agent:" '$0 == s {w=1; next} /^  [a-z]/{w=0} w' <<< "$config")
  [ -n "$block" ] || { echo "no service $agent" >&2; exit 1; }
  ! grep -qE 'container_name|ports:' <<< "$block" || { echo "$agent cannot scale: fixed name or port" >&2; exit 1; }
  grep -q "stop_grace_period: 90s" <<< "$block" || { echo "$agent: no grace period for its drain" >&2; exit 1; }
done
echo "compose files valid"
