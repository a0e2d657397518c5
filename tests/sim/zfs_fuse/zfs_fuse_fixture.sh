#!/bin/sh
# Real ZFS for tests (TOOLCHAIN.md): Debian's zfs-fuse daemon, started for the test run and
# stopped after it. One daemon serves every pool, so each test names its pools uniquely
# ("dcopst<pid><n>") and destroys them; `stop` destroys any such pool a crashed test left.
# A daemon that was already running (a developer's) is used and left running.
#   zfs_fuse_fixture.sh start|stop STATE_DIR
set -eu
cmd=$1
dir=$2
case "$cmd" in
start)
  mkdir -p "$dir"
  if zpool list >/dev/null 2>&1; then
    echo shared >"$dir/owner"
    exit 0
  fi
  command -v zfs-fuse >/dev/null || { echo "zfs-fuse is not installed (scripts/install-deps installs it)" >&2; exit 1; }
  [ -c /dev/fuse ] || { echo "/dev/fuse is missing: zfs-fuse cannot run here" >&2; exit 1; }
  zfs-fuse --no-daemon >"$dir/zfs-fuse.log" 2>&1 &
  echo $! >"$dir/pid"
  echo ours >"$dir/owner"
  # Ready when it answers (it writes no pid file and has no readiness signal).
  i=0
  until zpool list >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 300 ] || ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      echo "zfs-fuse did not start:" >&2
      cat "$dir/zfs-fuse.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  # Pools a crashed run left in zfs-fuse's cache (FAULTED once their files are gone).
  for pool in $(zpool list -H -o name 2>/dev/null | grep '^dcopst' || true); do
    zpool destroy -f "$pool" || true
  done
  ;;
stop)
  for pool in $(zpool list -H -o name 2>/dev/null | grep '^dcopst' || true); do
    zpool destroy -f "$pool" || true
  done
  [ "$(cat "$dir/owner" 2>/dev/null || true)" = ours ] || exit 0
  pid=$(cat "$dir/pid")
  kill "$pid" 2>/dev/null || true
  i=0
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do
    i=$((i + 1))
    sleep 0.1
  done
  ;;
*)
  echo "usage: $0 start|stop STATE_DIR" >&2
  exit 2
  ;;
esac
