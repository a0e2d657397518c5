#!/usr/bin/env bash
# A private PostgreSQL for one test run (or one benchmark, or the demo).
#
#   pg_fixture.sh start INFO_FILE [fsync=on|off] [NAME=VALUE ...]
#                                                   initdb into a fresh temp dir, start on a
#                                                   free 127.0.0.1 port + a private socket,
#                                                   write "KEY=VALUE" lines to INFO_FILE; any
#                                                   further NAME=VALUE is a server setting
#                                                   (shared_preload_libraries=pg_stat_statements)
#   pg_fixture.sh stop INFO_FILE                    stop it and delete its directory
#
# INFO_FILE lines: PGDIR, PGHOST (socket dir), PGPORT, ADMIN_DSN (superuser over the socket,
# trust), TCP_HOST. TCP connections need a password (scram-sha-256), so authentication
# failures can be tested for real. The system cluster is never touched. Loopback only.
set -euo pipefail

cmd=${1:?usage: pg_fixture.sh start|stop INFO_FILE [fsync=on|off] [NAME=VALUE ...]}
info=${2:?usage: pg_fixture.sh start|stop INFO_FILE}
fsync=${3:-fsync=off}
settings=""
for setting in "${@:4}"; do
  [[ "$setting" =~ ^[a-z_.]+=[A-Za-z0-9_.,]+$ ]] || { echo "pg_fixture: not a setting: $setting" >&2; exit 2; }
  settings+=" -c $setting"
done

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -x "$pgbin/initdb" ] || { echo "pg_fixture: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_owner=()
if [ "$(id -u)" = 0 ]; then as_owner=(runuser -u postgres --); fi

stop() {
  [ -f "$info" ] || return 0
  # shellcheck disable=SC1090
  local dir; dir=$(sed -n 's/^PGDIR=//p' "$info")
  if [ -n "$dir" ] && [ -d "$dir/data" ]; then
    "${as_owner[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    rm -rf "$dir"
  fi
  rm -f "$info"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  stop
  local dir; dir=$(mktemp -d /tmp/dcops-pg.XXXXXX)
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  "${as_owner[@]}" "$pgbin/initdb" -D "$dir/data" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  local tries=0 port
  while :; do
    port=$(( 20000 + (RANDOM * 7 + $$) % 30000 ))
    tries=$((tries + 1))
    if port_in_use "$port"; then continue; fi
    if "${as_owner[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c $fsync -c max_connections=200 \
            -c shared_buffers=128MB -c log_min_messages=warning$settings" >/dev/null 2>&1; then
      break
    fi
    [ "$tries" -lt 5 ] || { cat "$dir/server.log" >&2; exit 1; }
  done
  cat >"$info" <<INFO
PGDIR=$dir
PGHOST=$dir
PGPORT=$port
TCP_HOST=127.0.0.1
ADMIN_DSN=host=$dir port=$port user=postgres dbname=postgres
INFO
  echo "pg_fixture: PostgreSQL on 127.0.0.1:$port (socket in $dir), $fsync"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "pg_fixture: unknown command $cmd" >&2; exit 2 ;;
esac
