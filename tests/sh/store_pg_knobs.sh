# store_pg_knobs (issue 24): the fleet's times. --fleet-renew/--fleet-lease/--fleet-act (and
# RECWATCH_FLEET_RENEW/_LEASE/_ACT) are refused unless r < D and D + 1 < T, or not a number
# of seconds: exit 2 with a message that says why, before anything runs; a PostgreSQL store
# opened with such an environment stops the run (kind=state_file, exit 2). Good ones run.
set -eu
: "${RECWATCH:?}" "${SRC:?}"
. "$SRC/tests/sh/pg_lib.sh"
pg_start
T=$PGDIR/k
mkdir -p "$T"
fail() { echo "FAIL: $*" >&2; exit 1; }
printf 'local db = require("rec.store").open()\nassert(db:fleet())\nprint("RAN")\n' >"$T/s.lua"
refused() {   # refused "what" args...
  local what=$1 rc=0
  shift
  "$@" >"$T/out" 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "$what: exit $rc, expected 2: $(cat "$T/out")"
  grep -q "RAN" "$T/out" && fail "$what: the script ran"
  return 0
}
refused "r >= D" "$RECWATCH" run --fleet-renew 3 --fleet-act 3 "$T/s.lua"
grep -q "r < D and D + 1 < T" "$T/out" || fail "the message says the rule"
refused "D + 1 >= T" "$RECWATCH" run --fleet-act 5 --fleet-lease 6 "$T/s.lua"
refused "not a number" "$RECWATCH" run --fleet-lease ten "$T/s.lua"
grep -q "RECWATCH_FLEET_LEASE=ten" "$T/out" || fail "the message names the knob"
refused "no value" "$RECWATCH" run --fleet-act
# the environment, read when the store opens: the run stops with kind=state_file
refused "env D + 1 >= T" env RECWATCH_FLEET_ACT=9.5 "$RECWATCH" run --state "$PGURL" "$T/s.lua"
grep -q "kind=state_file.*r < D and D + 1 < T" "$T/out" || fail "the store says why: $(cat "$T/out")"
# good ones
"$RECWATCH" run --fleet-renew 0.2 --fleet-act 1 --fleet-lease 2.5 --state "$PGURL" "$T/s.lua" >"$T/out" 2>&1 ||
  fail "good knobs: $(cat "$T/out")"
grep -q "RAN" "$T/out" && grep -q "renew every 0.2 s, act for 1 s after a renewal, lease 2.5 s" "$T/out" ||
  fail "the knobs reach the lease thread: $(cat "$T/out")"
# a database that cannot be reached at open: exit 2, no password in the message
rc=0
"$RECWATCH" run --state "postgresql://recwatch:s3cretpw@127.0.0.1:1/x" "$T/s.lua" >"$T/out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "unreachable database: exit $rc"
grep -q "kind=state_file" "$T/out" || fail "unreachable database: the message: $(cat "$T/out")"
grep -q "s3cretpw" "$T/out" && fail "the password leaked: $(cat "$T/out")"
echo "ok: store_pg_knobs"
