#!/usr/bin/env bash
# The dispatcher's commands refuse a database on another machine that the URL does not verify
# (sslmode below verify-full), before any connection is tried, naming the way out and never the
# password. (Only refusals: an accepted remote URL would reach past loopback.)
set -euo pipefail
dispatcher=${1:?usage: deploy_database_tls_check.sh JOB_DISPATCHER}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c 32 /dev/urandom >"$work/site.key"
expect_refused() {  # what, then the command
  local what=$1; shift
  if "$@" >"$work/out" 2>&1 </dev/null; then echo "accepted: $what" >&2; exit 1; fi
  grep -q '"code":"db.tls_unverified"' "$work/out" || { echo "$what: not refused for TLS:" >&2; cat "$work/out" >&2; exit 1; }
  grep -q 'DCOPS_DATABASE_URL_ALLOW_UNVERIFIED=' "$work/out" || { echo "$what: the way out is not named" >&2; exit 1; }
  ! grep -q 'pw-not-in-logs' "$work/out" || { echo "$what: the password reached the output" >&2; exit 1; }
}
url='postgresql://dcops_site:pw-not-in-logs@db.example.com:5432/dcops?sslmode=require'
expect_refused "migrate, sslmode=require" env -i DCOPS_DATABASE_URL="$url" "$dispatcher" migrate --dir "$work"
expect_refused "serve, no sslmode" env -i DCOPS_DATABASE_URL='postgresql://dcops_site:pw-not-in-logs@10.1.2.3/dcops' \
  DCOPS_SECRET_KEY_FILE="$work/site.key" "$dispatcher" serve --insecure-dev
expect_refused "serve, PGSSLMODE=verify-ca" env -i PGSSLMODE=verify-ca DCOPS_DATABASE_URL="host=db.example.com password=pw-not-in-logs dbname=dcops" \
  DCOPS_SECRET_KEY_FILE="$work/site.key" "$dispatcher" serve --insecure-dev
echo "unverified remote databases refused"
