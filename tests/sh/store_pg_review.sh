# store_pg_review (issue 24, the reviewer's findings on the fleet): on a real PostgreSQL
# (pg_lib.sh), r = 0.2 s, D = 1 s, T = 2.5 s; each part fails on the code before its fix.
#   8. a malformed URL: refused as "malformed", the password never in the log;
#   3. two processes under one member name: the first paused (SIGSTOP) past T, a second m1
#      takes every unit under token 2; the first, continued, stops acting for all of them
#      (kind=fleet_member_taken) and its exit leaves the second's leases alone;
#   7. renewals fail on a live connection (the leases table locked): /healthz 503 and
#      recwatch_fleet_units_actionable 0 within D (+ slack), then 200 and 12 again;
#   4. an orphaned unit's lease row locked FOR SHARE past T: the new owner keeps renewing its
#      own units (no STOP) and takes the other orphans within the bound;
#   6. claims: a second process under the same member name gets none of the first's rows,
#      and an attempt_failed after the lock lapsed and another claimed the row changes nothing.
set -eu
: "${RECWATCH:?}" "${SRC:?}"
. "$SRC/tests/sh/pg_lib.sh"
pg_start
T=$PGDIR/t
mkdir -p "$T"
P1= P2= P3= PL=
test_cleanup() { for p in $P1 $P2 $P3 $PL; do kill -CONT "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done; }
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.log; do echo "== $f"; tail -30 "$f"; done >&2; exit 1; }
export RECWATCH_FLEET_RENEW=0.2 RECWATCH_FLEET_ACT=1 RECWATCH_FLEET_LEASE=2.5
URL=$(pg_db review)
export URL
sql() { psql -X -A -t "$URL" -c "$1"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ts() { python3 -c 'import time; print("%.3f" % time.time())'; }
# after.py LOG WORD SINCE [UNITS]: lines " WORD <unit>" logged at or after SINCE (epoch s),
# as "count unit,unit,..." (only the given units, comma-separated, when UNITS is given)
cat >"$T/after.py" <<'PY'
import sys, datetime
def ts(l):
    return datetime.datetime.strptime(l[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
log, word, at = sys.argv[1], " %s " % sys.argv[2], float(sys.argv[3])
only = set(sys.argv[4].split(",")) if len(sys.argv) > 4 and sys.argv[4] else None
seen = set()
for l in open(log):
    if word in l and l[:4].isdigit() and ts(l) >= at:
        u = l.split(word)[1].split()[0].rstrip(":")
        if only is None or u in only: seen.add(u)
print(len(seen), ",".join(sorted(seen)))
PY

# --- 8. a malformed URL never shows its password
echo 'require("rec.store").open()' >"$T/open.lua"
set +e
"$RECWATCH" run --state 'postgresql://u:s3cretpw@[::1/db' "$T/open.lua" >"$T/bad.log" 2>&1
rc=$?
set -e
[ "$rc" != 0 ] || fail "a malformed URL was accepted"
grep -q "malformed PostgreSQL URL" "$T/bad.log" || fail "no 'malformed' in: $(cat "$T/bad.log")"
! grep -q "s3cretpw" "$T/bad.log" || fail "the password is in the log: $(cat "$T/bad.log")"
echo "8: malformed URL refused, password not logged"

cat >"$T/setup.lua" <<'LUA'
local db = require("rec.store").open(os.getenv("URL"), {leases = false})
for i = 1, 12 do assert(db:set(("agora:c%02d/session/s1"):format(i), '{"appid":"a"}')) end
print("setup ok")
LUA
cat >"$T/member.lua" <<'LUA'
-- logs UNITS (held), ACT <unit> tok <t> (may act, first time under t), STOP <unit> (may not)
local db = require("rec.store").open()
local stop = os.getenv("STOPFILE")
local last, acting = nil, {}
local function exists(p) local f = io.open(p) if f then f:close() return true end return false end
while not exists(stop) do
  local units = db:units()
  local s = table.concat(units, ",")
  if s ~= last then last = s ; rec.log.info("UNITS n=%d %s", #units, s) end
  local seen = {}
  for _, u in ipairs(units) do
    seen[u] = true
    local t, why = db:unit(u)
    if t and acting[u] ~= t then acting[u] = t ; rec.log.info("ACT %s tok %d", u, t) end
    if not t and acting[u] then acting[u] = nil ; rec.log.info("STOP %s: %s", u, why) end
  end
  for u in pairs(acting) do
    if not seen[u] then acting[u] = nil ; rec.log.info("STOP %s: lost", u) end
  end
  rec.sleep(0.1)
end
LUA
"$RECWATCH" run --state "$URL" "$T/setup.lua" >"$T/setup.log" 2>&1 || fail "setup"
cnt() { python3 "$T/after.py" "$@" | cut -d' ' -f1; }   # cnt LOG WORD SINCE [UNITS]
code() { curl -s -o "$T/healthz" -w '%{http_code}' "http://127.0.0.1:$1/healthz"; }
actionable() { curl -s "http://127.0.0.1:$1/metrics" | sed -n 's/^recwatch_fleet_units_actionable //p'; }
leases() { sql "select count(*) from leases where owner = '$1' and expires_at > now()${2:+ and token = $2}"; }
waitfor() {   # waitfor SECONDS 'SHELL CONDITION': until it holds (evaluated afresh each time)
  local n=$(( $1 * 10 ))
  for _ in $(seq "$n"); do eval "$2" && return 0; sleep 0.1; done
  return 1
}

# --- 3. two processes under one member name
LP1=$(port)
RECWATCH_MEMBER=m1 STOPFILE=$T/stop1 "$RECWATCH" run --state "$URL" --listen "127.0.0.1:$LP1" "$T/member.lua" >"$T/a.log" 2>&1 &
P1=$!
waitfor 15 'grep -q "ACT agora:c12" "$T/a.log"' || fail "m1 (a) never acted on its units"
waitfor 15 '[ "$(cnt "$T/a.log" ACT 0)" = 12 ]' || fail "a acts on 12"
kill -STOP "$P1"
sleep 3.5   # past T: a's member row and leases expire
LP2=$(port)
RECWATCH_MEMBER=m1 STOPFILE=$T/stop2 "$RECWATCH" run --state "$URL" --listen "127.0.0.1:$LP2" "$T/member.lua" >"$T/b.log" 2>&1 &
P2=$!
waitfor 15 '[ "$(leases m1 2)" = 12 ]' ||
  fail "b never took the 12 units under token 2: $(sql "select unit, owner, token from leases")"
cont=$(ts)
kill -CONT "$P1"
waitfor 10 'grep -q "kind=fleet_member_taken" "$T/a.log"' || fail "a did not notice its name was taken"
waitfor 10 '[ "$(cnt "$T/a.log" STOP "$cont")" = 12 ]' || fail "a did not stop acting for the 12 units"
sleep 1
[ "$(python3 "$T/after.py" "$T/a.log" ACT "$cont" | cut -d' ' -f1)" = 0 ] || fail "a acted again after it was continued"
[ "$(sql "select count(*) from leases where owner = 'm1' and token = 2 and expires_at > now()")" = 12 ] ||
  fail "a's renewals moved the leases: $(sql "select unit, owner, token from leases")"
touch "$T/stop1"
wait "$P1" || fail "a exited non-zero"
P1=
sleep 0.5
[ "$(sql "select count(*) from leases where owner = 'm1' and token = 2 and expires_at > now()")" = 12 ] ||
  fail "a's exit expired b's leases: $(sql "select unit, owner, token, expires_at > now() from leases")"
[ "$(sql "select count(*) from members where member = 'm1' and expires_at > now()")" = 1 ] || fail "a's exit deleted b's member row"
[ "$(python3 "$T/after.py" "$T/b.log" STOP 0 | cut -d' ' -f1)" = 0 ] || fail "b stopped acting for some unit"
echo "3: a paused m1 stops acting when another m1 holds its units; its exit leaves them alone"

# --- 7. renewals fail on a live connection: loud within D
waitfor 10 '[ "$(actionable $LP2)" = 12 ]' ||
  fail "b's recwatch_fleet_units_actionable is not 12: $(curl -s "http://127.0.0.1:$LP2/metrics" | grep fleet)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LP2/healthz")" = 200 ] || fail "/healthz before the lock"
psql -X -q "$URL" -c "BEGIN; LOCK TABLE leases IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3.5); COMMIT;" >/dev/null 2>&1 &
PL=$!
locked=$(ts)
waitfor 6 '[ "$(code $LP2)" = 503 ]' ||
  fail "/healthz stayed $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LP2/healthz") while no renewal succeeded"
took=$(python3 -c "print('%.2f' % ($(ts) - $locked))")
grep -q "no lease renewal" "$T/healthz" || fail "/healthz says why: $(cat "$T/healthz")"
curl -s "http://127.0.0.1:$LP2/metrics" | grep -q '^recwatch_store_up 0' || fail "recwatch_store_up 0"
waitfor 3 '[ "$(actionable $LP2)" = 0 ]' ||
  fail "recwatch_fleet_units_actionable not 0 while fenced"
wait "$PL" || true
PL=
waitfor 10 '[ "$(code $LP2)" = 200 ]' || fail "/healthz after the lock"
waitfor 10 '[ "$(actionable $LP2)" = 12 ]' ||
  fail "recwatch_fleet_units_actionable back to 12"
echo "7: renewals failing on a live connection: /healthz 503 after $took s (D = 1 s), actionable 0, then back"

# --- 4. an orphan's lease row locked past T stalls nothing else
LP3=$(port)
RECWATCH_MEMBER=m2 STOPFILE=$T/stop3 "$RECWATCH" run --state "$URL" --listen "127.0.0.1:$LP3" "$T/member.lua" >"$T/c.log" 2>&1 &
P3=$!
waitfor 15 '[ "$(leases m2)" -gt 1 ]' || fail "m2 never took a share"
waitfor 10 '[ "$(cnt "$T/c.log" ACT 0)" = "$(leases m2)" ]' || fail "m2 acts"
sleep 0.5
orphans=$(sql "select string_agg(unit, ',' order by unit) from leases where owner = 'm2'")
mine=$(sql "select string_agg(unit, ',' order by unit) from leases where owner = 'm1'")
held=${orphans%%,*}
psql -X -q "$URL" -c "BEGIN; SELECT 1 FROM leases WHERE unit = '$held' FOR SHARE; SELECT pg_sleep(4.5); COMMIT;" >/dev/null 2>&1 &
PL=$!
sleep 0.2
kill -9 "$P3"
killed=$(ts)
P3=
rest=${orphans#*,}
n_rest=$(echo "$rest" | tr ',' '\n' | grep -c .)
waitfor 12 '[ "$(cnt "$T/b.log" ACT "$killed" "$rest")" = "$n_rest" ]' ||
  fail "b did not take the unlocked orphans ($rest)"
worst=$(python3 - "$T/b.log" "$killed" "$rest" <<'PY'
import sys, datetime
def ts(l):
    return datetime.datetime.strptime(l[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
at, units, first = float(sys.argv[2]), set(sys.argv[3].split(",")), {}
for l in open(sys.argv[1]):
    if " ACT " in l and ts(l) >= at:
        u = l.split(" ACT ")[1].split()[0]
        if u in units: first.setdefault(u, ts(l) - at)
print("%.2f" % max(first.values()))
PY
)
[ "$(python3 "$T/after.py" "$T/b.log" STOP "$killed" "$mine" | cut -d' ' -f1)" = 0 ] ||
  fail "b stopped acting for its own units while an orphan's row was locked: $(python3 "$T/after.py" "$T/b.log" STOP "$killed" "$mine")"
awk -v w="$worst" 'BEGIN { exit !(w <= 2.5 + 0.2 + 1 + 1.5) }' || fail "the unlocked orphans took $worst s"
wait "$PL" || true
PL=
waitfor 10 '[ "$(cnt "$T/b.log" ACT "$killed" "$held")" = 1 ]' || fail "b never took the locked orphan $held"
[ "$(python3 "$T/after.py" "$T/b.log" STOP "$killed" "$mine" | cut -d' ' -f1)" = 0 ] || fail "b stopped acting for its own units"
echo "4: an orphan locked past T: the other orphans acted on $worst s after kill -9 (bound 3.7 s), no STOP of b's own units"
touch "$T/stop2"
wait "$P2" || fail "b exited non-zero"
P2=

# --- 6. claims under one member name, and a report after the lock lapsed
sql "delete from outbox" >/dev/null
cat >"$T/enq.lua" <<'LUA'
local db = require("rec.store").open(os.getenv("URL"), {leases = false})
for i = 1, 6 do assert(db:enqueue(("al-%02d"):format(i), "hook", "{}")) end
LUA
"$RECWATCH" run --state "$URL" "$T/enq.lua" >"$T/enq.log" 2>&1 || fail "enqueue"
cat >"$T/claim.lua" <<'LUA'
-- claims N rows (CLAIMED ids), then, once GO exists, reports the first as failed (REPORTED)
local db = require("rec.store").open(os.getenv("URL"), {leases = false})
local rows = db:pending(tonumber(os.getenv("N")), rec.time() + 1)
local ids = {}
for _, r in ipairs(rows) do ids[#ids + 1] = r.id end
print("CLAIMED " .. table.concat(ids, ","))
io.stdout:flush()
local go = os.getenv("GO")
if go then
  while not io.open(go) do rec.sleep(0.05) end
  print("FAILED_RESULT", tostring(db:attempt_failed(ids[1], "hook", rec.time() + 60, "late")))
  print("REPORTED")
end
LUA
RECWATCH_MEMBER=cl N=2 GO=$T/go "$RECWATCH" run --state "$URL" "$T/claim.lua" >"$T/c1.out" 2>"$T/c1.log" &
P3=$!
waitfor 10 'grep -q CLAIMED "$T/c1.out"' || fail "the first claim"
a=$(sed -n 's/^CLAIMED //p' "$T/c1.out")
b=$(RECWATCH_MEMBER=cl N=20 "$RECWATCH" run --state "$URL" "$T/claim.lua" 2>"$T/c2.log" | sed -n 's/^CLAIMED //p')
python3 - "$a" "$b" <<'PY' || fail "claims under one member name"
import sys
a, b = [set(x.split(",")) - {""} for x in sys.argv[1:3]]
assert len(a) == 2 and len(b) == 4 and not (a & b), (a, b)
PY
first=${a%%,*}
sql "update outbox set locked_until = now() where id = '$first'" >/dev/null   # its lock lapses
c=$(RECWATCH_MEMBER=other N=20 "$RECWATCH" run --state "$URL" "$T/claim.lua" 2>"$T/c3.log" | sed -n 's/^CLAIMED //p')
[ "$c" = "$first" ] || fail "another member claims the lapsed row: got '$c'"
touch "$T/go"
wait "$P3" || fail "the first claimer failed: $(cat "$T/c1.log")"
P3=
grep -q REPORTED "$T/c1.out" || fail "no report"
[ "$(sql "select attempts || ' ' || coalesce(locked_by, '-') from outbox where id = '$first'" | cut -d/ -f1)" = "0 other" ] ||
  fail "the late report changed a row another member holds: $(sql "select attempts, locked_by, last_error from outbox where id = '$first'")"
echo "6: claims under one name are disjoint; a late attempt_failed leaves another's claim alone"
echo "ok: store_pg_review"
