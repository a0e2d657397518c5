#!/usr/bin/env bash
# CTest fixture setup: start the private PostgreSQL of this test run and build the template
# database every test clones: an empty database migrated with the real migrations by the
# real `job-dispatcher migrate`.
#   setup_fixture.sh INFO_FILE JOB_DISPATCHER_BIN MIGRATIONS_DIR
set -euo pipefail
info=$1 dispatcher=$2 migrations=$3
here=$(cd "$(dirname "$0")" && pwd)
"$here/pg_fixture.sh" start "$info"
admin=$(sed -n 's/^ADMIN_DSN=//p' "$info")
psql "$admin" -v ON_ERROR_STOP=1 -qc 'CREATE DATABASE dcops_template'
DCOPS_DATABASE_URL="${admin/dbname=postgres/dbname=dcops_template}" \
  "$dispatcher" migrate --dir "$migrations"
