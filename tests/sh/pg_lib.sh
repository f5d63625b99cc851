# pg_lib: a private PostgreSQL 15 for one shell test (source it). Run on its own (ctest globs
# tests/sh/*.sh: sh.pg_lib) it tests itself: start, a query, an outage, a restart, a stop.
#
#   pg_start     initdb + pg_ctl start in a fresh temp dir, on 127.0.0.1 and a free port
#                (and on a Unix socket in the same dir); exports PGURL (a libpq URL, trust
#                auth, user recwatch, database postgres), PGPORT, PGDIR
#   pg_sql SQL   runs SQL through psql on PGURL (-X -q -A -t -v ON_ERROR_STOP=1): rows on stdout
#   pg_db NAME   creates the database NAME and prints its URL (a fresh database per story)
#   pg_stop      stops the server (fast) and removes the temp dir
#   pg_kill      stops the server now (immediate: an outage); the data stays
#   pg_restart   starts it again on the same port (after pg_kill)
#
# As root the server runs as the user `postgres` (created by Debian's postgresql package)
# through runuser, since PostgreSQL refuses to run as root; otherwise as the current user.
# A missing PostgreSQL fails the test (exit 1): nothing is skipped.
#
# Clean-up: pg_start installs an EXIT trap (and INT/TERM ones that exit) that stops the
# server and removes its dir; a test with clean-up of its own defines a function
# `test_cleanup`, which the trap calls first. A watchdog also stops the server when the test's
# shell dies without running its trap (kill -9, a ctest timeout).
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PGDIR= PGPORT= PGURL=
_PG_WATCHDOG=

_pg_as() {   # runs "$@" as the server's user
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

_pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

_pg_ctl_start() {
  _pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -t 60 \
    -o "-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PGDIR -c fsync=off -c max_connections=200" \
    start >/dev/null
}

pg_start() {
  local i
  for x in initdb pg_ctl postgres; do
    [ -x "$PG_BIN/$x" ] || { echo "pg_lib: $PG_BIN/$x missing: install postgresql-15 (.ci/deps)" >&2; exit 1; }
  done
  command -v psql >/dev/null || { echo "pg_lib: psql missing: install postgresql-client-15 (.ci/deps)" >&2; exit 1; }
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "pg_lib: running as root but no user postgres" >&2; exit 1; }
  fi
  # /tmp, not a private TMPDIR: the server's user must be able to reach it
  PGDIR=$(mktemp -d /tmp/recwatch-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
  trap '_pg_exit' EXIT
  trap 'exit 1' INT TERM
  _pg_as "$PG_BIN/initdb" -D "$PGDIR/data" -U recwatch --auth=trust -E UTF8 --no-sync \
    >"$PGDIR/initdb.log" 2>&1 || { cat "$PGDIR/initdb.log" >&2; echo "pg_lib: initdb failed" >&2; exit 1; }
  for i in 1 2 3 4 5; do   # a free port can be taken between the probe and the bind
    PGPORT=$(_pg_free_port)
    _pg_ctl_start && break
    PGPORT=
  done
  [ -n "$PGPORT" ] || { cat "$PGDIR/log" >&2; echo "pg_lib: the server did not start" >&2; exit 1; }
  PGURL="postgresql://recwatch@127.0.0.1:$PGPORT/postgres"
  export PGURL PGPORT PGDIR
  # the watchdog: stops the server once this shell is gone (it polls once a second; no test
  # waits for it)
  local me=$$ dir=$PGDIR bin=$PG_BIN
  ( trap '' INT TERM HUP
    while kill -0 "$me" 2>/dev/null; do sleep 1; done
    if [ -d "$dir/data" ]; then
      _pg_as "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
      rm -rf "$dir"
    fi ) </dev/null >/dev/null 2>&1 &
  _PG_WATCHDOG=$!
  disown "$_PG_WATCHDOG" 2>/dev/null || true
}

pg_sql() {
  psql -X -q -A -t -v ON_ERROR_STOP=1 "$PGURL" -c "$1"
}

pg_db() {
  pg_sql "CREATE DATABASE \"$1\"" >/dev/null
  printf 'postgresql://recwatch@127.0.0.1:%s/%s\n' "$PGPORT" "$1"
}

pg_kill() {
  _pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null
}

pg_restart() {
  _pg_ctl_start || { cat "$PGDIR/log" >&2; echo "pg_lib: restart failed" >&2; exit 1; }
}

pg_stop() {
  [ -n "$PGDIR" ] || return 0
  if [ -f "$PGDIR/data/postmaster.pid" ]; then
    _pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1 ||
      _pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PGDIR"
  PGDIR=
}

_pg_exit() {
  local rc=$?
  if declare -F test_cleanup >/dev/null; then test_cleanup || true; fi
  pg_stop
  exit "$rc"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then   # the self-test
  set -eu
  pg_start
  [ "$(pg_sql 'select 1+1')" = 2 ] || { echo "FAIL: a query"; exit 1; }
  pg_sql 'create table t(x int); insert into t values (7)'
  pg_kill
  if pg_sql 'select 1' >/dev/null 2>&1; then echo "FAIL: the server answers after pg_kill"; exit 1; fi
  pg_restart
  [ "$(pg_sql 'select x from t')" = 7 ] || { echo "FAIL: the data after a restart"; exit 1; }
  dir=$PGDIR
  pg_stop
  [ ! -e "$dir" ] || { echo "FAIL: $dir left behind"; exit 1; }
  echo "ok: pg_lib"
fi
