# tests/fleet/lib.sh: shared by the fleet stories (tests/sh/fleet_*.sh) and bench/fleet_db.sh.
# Source it after setting RECWATCH and SRC (ctest sets both). It starts a private PostgreSQL
# (tests/sh/pg_lib.sh), one shared `recwatch sim` (tests/fleet/scenario.lua, shaped by FLEET_*),
# fleet members (tests/fleet/member.lua) and a webhook receiver (tests/fleet/receiver.py), and
# collects the simulator's request log. Everything it starts is stopped on exit.
#
# The scaled-down timings: r = 0.2 s renewals, D = 0.5 s to act, T = 2 s leases. The issue's
# example T = 1 s cannot be: a member refuses timings without D + 1 < T (the new owner's
# 1 s pacing wait must fit before the old owner's lease could expire), so T = 2 s.
set -u
: "${RECWATCH:?RECWATCH must point at the recwatch binary}"
: "${SRC:?SRC must point at the source tree}"
FL=$SRC/tests/fleet
. "$SRC/tests/sh/pg_lib.sh"
export RECWATCH_FLEET_RENEW=${RECWATCH_FLEET_RENEW:-0.2}
export RECWATCH_FLEET_LEASE=${RECWATCH_FLEET_LEASE:-2}
export RECWATCH_FLEET_ACT=${RECWATCH_FLEET_ACT:-0.5}
W=$(mktemp -d "${TMPDIR:-/tmp}/fleet.XXXXXX")
declare -A MPID=() MURL=()
SIMPID= RCVPID= COLLPID=

test_cleanup() {
  local p
  for p in "${MPID[@]}" $COLLPID $RCVPID $SIMPID; do
    kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null
  done
  wait 2>/dev/null
  if [ -n "${FLEET_KEEP:-}" ]; then echo "kept $W"; else rm -rf "$W"; fi
}

fail() {
  local m
  echo "FAIL: $*" >&2
  for m in "${!MPID[@]}"; do
    echo "--- member $m (last 15 lines of $W/$m.err):" >&2
    tail -15 "$W/$m.err" >&2
  done
  exit 1
}

now() { date +%s.%N; }
# since T0: seconds since the wall time T0 (printing only: no bound depends on it)
since() { python3 -c 'import sys,time; print("%.2f" % (time.time() - float(sys.argv[1])))' "$1"; }

# fleet_sim: the shared simulator, shaped by FLEET_ACCOUNTS, FLEET_SESSIONS, FLEET_RATE,
# FLEET_FAIL...; sets SIM (its base URL) and exports the AGORA_* lines it prints.
fleet_sim() {
  local i
  "$RECWATCH" sim --listen 127.0.0.1:0 --scenario "$FL/scenario.lua" \
    --log-requests "$W/sim.jsonl" >"$W/sim.out" 2>"$W/sim.err" &
  SIMPID=$!
  for i in $(seq 1200); do
    grep -q '^export RECWATCH_SIM_PORT=' "$W/sim.out" 2>/dev/null && break
    kill -0 "$SIMPID" 2>/dev/null || fail "the simulator exited: $(cat "$W/sim.err")"
    sleep 0.05
  done
  eval "$(grep '^export ' "$W/sim.out")"
  SIM=$AGORA_API_BASE
}

# fleet_receiver [receiver.py options]: the webhook receiver; sets HOOK (its base URL).
fleet_receiver() {
  local i
  python3 "$FL/receiver.py" --out "$W/hooks.jsonl" "$@" >"$W/rcv.port" 2>"$W/rcv.err" &
  RCVPID=$!
  for i in $(seq 200); do grep -q PORT "$W/rcv.port" 2>/dev/null && break; sleep 0.05; done
  HOOK="http://127.0.0.1:$(awk '/PORT/{print $2}' "$W/rcv.port")/hook"
}

# fleet_sessions N ACCOUNTS: the watch set: session i (recording rid-i/sid-i of fleet-app)
# under unit agora:c<((i-1) % ACCOUNTS) + 1>, by `recwatch sessions add --file` (one
# transaction; the CLI opens the store without joining the fleet)
fleet_sessions() {
  python3 - "$1" "$2" >"$W/sessions.json" <<'PY'
import json, sys
n, a = int(sys.argv[1]), int(sys.argv[2])
print(json.dumps([{"provider": "agora", "account": "c%02d" % ((i - 1) % a + 1), "appid": "fleet-app",
                   "resourceid": "rid-%d" % i, "sid": "sid-%d" % i, "mode": "mix"} for i in range(1, n + 1)]))
PY
  "$RECWATCH" sessions add --state "$PGURL" --file "$W/sessions.json" >"$W/sessions.out" 2>&1 ||
    fail "recwatch sessions add: $(cat "$W/sessions.out")"
}

# fleet_member NAME [member.lua options]: starts a member (RECWATCH_MEMBER=NAME) with a
# listener; waits for its URL (MURL[NAME]); its log is $W/NAME.err.
fleet_member() {
  local name=$1 i url=
  shift
  touch "$W/$name.err"
  RECWATCH_MEMBER=$name "$RECWATCH" run --state "$PGURL" --listen 127.0.0.1:0 \
    "$FL/member.lua" --accounts "${FLEET_ACCOUNTS:-30}" "$@" >"$W/$name.out" 2>>"$W/$name.err" &
  MPID[$name]=$!
  for i in $(seq 600); do
    url=$(sed -n 's/.*listening on \(http:[^ ]*\) .*/\1/p' "$W/$name.err" | head -1)
    [ -n "$url" ] && break
    kill -0 "${MPID[$name]}" 2>/dev/null || fail "member $name exited early"
    sleep 0.05
  done
  [ -n "$url" ] || fail "member $name: no listener"
  MURL[$name]=$url
}

# fleet_kill NAME [SIGNAL]: kill -SIGNAL (default KILL) the member; KILL forgets it.
fleet_kill() {
  kill "-${2:-KILL}" "${MPID[$1]}"
  if [ "${2:-KILL}" = KILL ]; then wait "${MPID[$1]}" 2>/dev/null || true; unset "MPID[$1]"; fi
}

# fleet_collect: collects the simulator's request log (account and member of each request)
# into $W/req.jsonl until the test ends; mark NAME puts a named instant on the sim's clock
# (and its wall time in $W/marks, to compare with the receiver's wall times).
fleet_collect() { python3 "$FL/fleetlog.py" collect "$SIM" "$W/req.jsonl" & COLLPID=$!; }
mark() { python3 "$FL/fleetlog.py" mark "$SIM" "$1" "$W/marks"; }
# fleet_collected: stops the collector after one last look (the marks made just before)
fleet_collected() {
  kill "$COLLPID" 2>/dev/null || true; wait "$COLLPID" 2>/dev/null || true; COLLPID=
  python3 "$FL/fleetlog.py" collect "$SIM" "$W/req.jsonl" --once
}

# logs_clean: no member logged a sanitizer's report or a Lua error it did not handle
logs_clean() {
  local f
  for f in "$W"/*.err; do
    if grep -E 'AddressSanitizer|LeakSanitizer|runtime error:|task failed|callback failed' "$f" >/dev/null; then
      fail "$(basename "$f" .err): $(grep -E -m3 'AddressSanitizer|LeakSanitizer|runtime error:|task failed|callback failed' "$f")"
    fi
  done
}

# held NAME: the number of units member NAME holds (its recwatch_fleet_units_held), "" if none
held() { curl -s --max-time 5 "${MURL[$1]}/metrics" | awk '$1 == "recwatch_fleet_units_held" {print $2}'; }

# owners: "unit owner token" lines from the database's leases that have not expired
owners() { pg_sql "select unit, owner, token from leases where expires_at > now() order by unit"; }

# wait_until SECONDS CMD...: CMD every 0.1 s until it succeeds (1 when it never does)
wait_until() {
  local n=$(( $1 * 10 )) i
  shift
  for i in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}

# settled N: N members are live, every unit of the watch set has a live lease, and no lease
# changed hands for 1.5 s (the renewals' r plus a handover's 1 s wait: the joins are done).
# The pseudo-unit '' is the version row of the keys of no unit (an alert's state): never leased.
settled() {
  local a b
  [ "$(pg_sql "select count(*) from members where expires_at > now()")" = "$1" ] || return 1
  [ "$(pg_sql "select count(*) from units u where u.unit <> '' and not exists (select 1 from leases l where l.unit = u.unit and l.expires_at > now())")" = 0 ] || return 1
  a=$(pg_sql "select unit, owner, token from leases order by unit")
  sleep 1.5
  b=$(pg_sql "select unit, owner, token from leases where expires_at > now() order by unit")
  [ "$a" = "$b" ]
}

# fleet_audit: test-side triggers on the fleet's tables (after the members made them):
# audit_lease(unit, owner, token, at) gets a row whenever a lease changes hands (its owner or
# token), audit_renew(owner, at) one per lease a renewal extended, audit_kv(key, unit, at)
# one per kv write; "at" is the database clock inside the
# writing transaction. A write of a unit is legitimate when the last lease change of that unit
# before it gave the unit to the writer: the share lock a write takes on the lease row orders
# it before or after a takeover, never across it.
fleet_audit() {
  pg_sql "set client_min_messages to warning;
create table if not exists audit_lease(unit text, owner text, token bigint, at timestamptz default clock_timestamp());
create or replace function audit_lease_f() returns trigger language plpgsql as \$\$ begin
  if tg_op = 'INSERT' or new.token is distinct from old.token or new.owner is distinct from old.owner then
    insert into audit_lease(unit, owner, token) values (new.unit, new.owner, new.token);
  end if; return new; end \$\$;
drop trigger if exists audit_lease_t on leases;
create trigger audit_lease_t after insert or update on leases for each row execute function audit_lease_f();
insert into audit_lease(unit, owner, token) select unit, owner, token from leases;
create table if not exists audit_renew(owner text, at timestamptz default clock_timestamp());
create or replace function audit_renew_f() returns trigger language plpgsql as \$\$ begin
  if new.owner = old.owner and new.token = old.token and new.expires_at > old.expires_at then
    insert into audit_renew(owner) values (new.owner);
  end if; return new; end \$\$;
drop trigger if exists audit_renew_t on leases;
create trigger audit_renew_t after update on leases for each row execute function audit_renew_f();
create table if not exists audit_kv(key text, unit text, at timestamptz default clock_timestamp());
create or replace function audit_kv_f() returns trigger language plpgsql as \$\$ begin
  insert into audit_kv(key, unit) values (new.key, new.unit); return new; end \$\$;
drop trigger if exists audit_kv_t on kv;
create trigger audit_kv_t after insert or update on kv for each row execute function audit_kv_f();" >/dev/null
}

# stale_writes MEMBER: kv writes of MEMBER's probe keys that landed while another member held
# the unit (rows "key|unit|holder"); none is the fence's promise
stale_writes() {
  pg_sql "select k.key, k.unit, l.owner from audit_kv k cross join lateral
            (select owner from audit_lease a where a.unit = k.unit and a.at < k.at order by a.at desc limit 1) l
          where k.key like '%/probe/$1/%' and l.owner <> '$1'"
}

# lease_log: the lease changes recorded by fleet_audit into $W/leases ("unit|owner|token|epoch"),
# and each member's renewals ("owner|epoch", one per renewal statement) into $W/renewals
lease_log() {
  pg_sql "select unit, owner, token, extract(epoch from at) from audit_lease order by at" >"$W/leases"
  pg_sql "select owner, extract(epoch from at) from audit_renew group by owner, at order by at" >"$W/renewals"
}
