#!/bin/bash
# Every dispatcher_v1_* function the migrations leave in place has a caller in production code:
# the dispatcher's C++ (services/, libs/, tests excluded) or another SQL function's body. A
# function nothing calls is an untested promise (it drifts from what production does) or a
# door nobody watches; drop it in a migration instead.
#
#   tests/contract/dispatcher_api_callers.sh REPO_ROOT
set -euo pipefail
root=${1:?usage: dispatcher_api_callers.sh REPO_ROOT}
migrations="$root/deploy/supabase/migrations"

defined=$(grep -ohE 'FUNCTION public\.dispatcher_v1_[a-z0-9_]+' "$migrations"/*.sql | sed 's/.*public\.//' | sort -u)
dropped=$(grep -ohE 'DROP FUNCTION (IF EXISTS )?public\.dispatcher_v1_[a-z0-9_]+' "$migrations"/*.sql |
          sed 's/.*public\.//' | sort -u)
live=$(comm -23 <(echo "$defined") <(echo "$dropped"))

# Production C++: everything under services/ and libs/ but tests and test rigs.
cpp=$(find "$root/services" "$root/libs" -name '*.cpp' -o -name '*.hpp' | grep -vE '_test\.cpp$|test_rig\.hpp$')
# SQL bodies: migration lines that are neither comments nor a function's own definition,
# grant, revoke, comment or drop.
sql_bodies=$(cat "$migrations"/*.sql | sed 's/--.*$//' |
             grep -vE '(CREATE( OR REPLACE)?|DROP|ALTER) FUNCTION|GRANT |REVOKE |COMMENT ON FUNCTION')

# Known exceptions, each with its reason and its way out. Keep this list short.
declare -A allowed=(
  # Whole-snapshot vCenter apply: the db tests' way to load an inventory (9 call sites);
  # production stages batches and applies with dispatcher_v1_apply_vcenter_sync. Way out: port
  # those tests to staged batches and drop it.
  [dispatcher_v1_upsert_vcenter_inventory]=1
  # The claim of dispatchers before dispatcher_v1_claim_ready_steps (20261205000300): a
  # dispatcher accepts a newer schema, so during an upgrade an older one still calls it. Way
  # out: drop it in a migration once no dispatcher older than that schema can run.
  [dispatcher_v1_claim_steps_affine]=1
)

missing=()
count=0
for fn in $live; do
  count=$((count + 1))
  if [ -n "${allowed[$fn]:-}" ]; then continue; fi
  if grep -qwF "$fn" $cpp; then continue; fi
  if grep -qwF "$fn" <<<"$sql_bodies"; then continue; fi
  missing+=("$fn")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "dispatcher_v1 functions with no production caller (call them or drop them in a migration):"
  printf '  %s\n' "${missing[@]}"
  exit 1
fi
echo "all $count dispatcher_v1 functions have a production caller"
