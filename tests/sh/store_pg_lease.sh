# store_pg_lease (issue 24): leases and fencing on a real PostgreSQL (pg_lib.sh), with
# `recwatch run` members (RECWATCH_MEMBER m1, m2) and fast times: r = 0.2 s, D = 1 s, T = 2.5 s.
#   1. m1 holds all 12 units (tokens 1); m2 joins: m1 releases m2's share (rendezvous) and
#      m2 takes it under token 2 and acts 1 s later (a graceful handover); disjoint, every unit
#      held; each writes under its units' tokens (db:transaction(fn, {unit = u}));
#   2. a token bumped behind a member's back: its next write is refused by the database
#      (false, {kind = "fenced"}), nothing lands; its next renewal (by unit and token) loses
#      the unit, which it takes over again under token + 2 once the lease expires, and writes;
#   3. kill -9 of m1: m2 takes every unit over within T + r + 1 s (+ slack for a loaded
#      machine), the taken units' tokens are 2, and m2 acts on them only 1 s after the gain;
#   4. the database stops (pg_kill): m2 stops acting within D (+ slack), logs kind=store_outage
#      once, /healthz answers 503 and recwatch_store_up is 0; after pg_restart it acts again
#      under the same tokens and /healthz is 200;
#   5. claims: rows claimed by one member (FOR UPDATE SKIP LOCKED, locked for the lease) are not
#      handed to another, which gets the rest: disjoint.
set -eu
: "${RECWATCH:?}" "${SRC:?}"
. "$SRC/tests/sh/pg_lib.sh"
pg_start
T=$PGDIR/t
mkdir -p "$T"
P1= P2=
test_cleanup() { for p in $P1 $P2; do kill -9 "$p" 2>/dev/null || true; done; }
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.log; do echo "== $f"; tail -25 "$f"; cp "$f" /tmp/last_$(basename "$f"); done >&2; exit 1; }
export RECWATCH_FLEET_RENEW=0.2 RECWATCH_FLEET_ACT=1 RECWATCH_FLEET_LEASE=2.5
URL=$(pg_db fleet)
export URL

cat >"$T/setup.lua" <<'LUA'
-- the watch set: 12 units with one session each, written without joining the fleet
local db = require("rec.store").open(os.getenv("URL"), {leases = false})
assert(db:fleet() == false)
for i = 1, 12 do assert(db:set(("agora:c%02d/session/s1"):format(i), '{"appid":"a"}')) end
local u = db:units()
assert(#u == 12 and u[1] == "agora:c01", "db:units() off the fleet: every unit with a session key")
-- rows to claim: 10 of no unit
for i = 1, 10 do assert(db:enqueue(("al-%02d"):format(i), "hook", "{}")) end
print("setup ok")
LUA

cat >"$T/member.lua" <<'LUA'
-- a member: logs the units it holds (UNITS), when it may act for one (ACT) and when not
-- (STOP), and writes "<member> <token> <seq>" under each unit it may act for
local db = require("rec.store").open()
assert(db:fleet() == true)
local me, stop = os.getenv("RECWATCH_MEMBER"), os.getenv("STOPFILE")
local last, acting, seq, sess = nil, {}, 0, {}
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
    if t then
      seq = seq + 1
      local ok, err = db:transaction(function(d) d:set(u .. "/w", ("%s %d %d"):format(me, t, seq)) end,
                                     {unit = u})
      if not ok then
        rec.log.info("FENCED %s kind=%s %s", u, type(err) == "table" and err.kind or "?", tostring(err.message or err))
      end
    end
  end
  for u in pairs(acting) do
    if not seen[u] then acting[u] = nil ; rec.log.info("STOP %s: lost", u) end
  end
  for _, u in ipairs(units) do   -- the unit's sessions, as the cache has them
    local n = 0
    for _ in pairs(db:keys(u .. "/session/")) do n = n + 1 end
    if sess[u] ~= n then sess[u] = n ; rec.log.info("SESS %s %d", u, n) end
  end
  if os.getenv("PROBE") and exists(os.getenv("PROBE")) then
    -- 2: the token moves behind this member's back: the database refuses the write
    os.remove(os.getenv("PROBE"))
    local u = units[1]
    local t = assert(db:unit(u))
    local function psql(sql) assert(os.execute(("psql -X -q %q -c %q >/dev/null"):format(os.getenv("URL"), sql))) end
    psql(("UPDATE leases SET token = token + 1 WHERE unit = '%s'"):format(u))
    local ok, err = db:transaction(function(d) d:set(u .. "/probe", "stale") end, {unit = u})
    assert(ok == false and err.kind == "fenced" and err.unit == u, "a stale token is refused")
    -- refused by the database ("held under token t+1"), or, when a lease round ran between
    -- the bump and the write, already dropped here (renewal goes by (unit, token): a token
    -- moved behind this member's back loses the unit)
    assert(tostring(err.message):find("held under token " .. (t + 1), 1, true) or
           tostring(err.message):find("not held by this member", 1, true), tostring(err.message))
    assert(db:get(u .. "/probe") == nil, "nothing of it in the cache")
    -- the unit is lost at the next renewal, and taken over again once the lease expires
    local t2, deadline = nil, rec.now() + 15
    repeat rec.sleep(0.1) ; t2 = db:unit(u) until (t2 and t2 > t + 1) or rec.now() > deadline
    assert(t2 == t + 2, ("taken over again under token %d, got %s"):format(t + 2, tostring(t2)))
    rec.log.info("PROBE regained %s tok %d", u, t2)
    t = t2
    assert(db:transaction(function(d) d:set(u .. "/probe", "fresh") end, {unit = u}))
    assert(db:get(u .. "/probe") == "fresh")
    -- an alert enqueued under the unit is claimed with it
    assert(db:transaction(function(d) d:enqueue("al-unit", "hook", "{}") end, {unit = u}))
    local found
    for _, r in ipairs(db:pending(50, rec.time() + 1)) do if r.id == "al-unit" then found = r end end
    assert(found and found.unit == u, "a claimed row carries its unit")
    assert(db:delivered("al-unit", "hook"))
    rec.log.info("PROBE ok %s tok %d", u, t)
  end
  rec.sleep(0.2)
end
LUA

cat >"$T/claim.lua" <<'LUA'
-- claims up to N due rows and prints their ids (CLAIMED id,id,...) with their units
local db = require("rec.store").open()
local rows = db:pending(tonumber(os.getenv("N")), rec.time() + 1)
local ids = {}
for _, r in ipairs(rows) do
  assert(r.unit == nil, "rows of no unit carry none")
  ids[#ids + 1] = r.id
end
print("CLAIMED " .. table.concat(ids, ","))
LUA

# units.py LOG acting AFTER: how many units' last event (ACT/STOP) is an ACT after AFTER;
# units.py LOG stopped SINCE: how many units' last event is a STOP, and the latest first STOP
# after SINCE (a unit stopped earlier, the machine being slow, counts from SINCE)
cat >"$T/units.py" <<'PY'
import sys, datetime
def ts(l):
    return datetime.datetime.strptime(l[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
log, what, at = sys.argv[1], sys.argv[2], float(sys.argv[3])
last, first_stop = {}, {}
for l in open(log):
    for ev in (" ACT ", " STOP "):
        if ev in l:
            u = l.split(ev)[1].split()[0].rstrip(":")
            last[u] = (ev.strip(), ts(l))
            if ev == " STOP " and ts(l) >= at and u not in first_stop:
                first_stop[u] = ts(l)
if what == "acting":
    print(sum(1 for e, t in last.values() if e == "ACT" and t > at))
else:
    stopped = [u for u, (e, t) in last.items() if e == "STOP"]
    worst = max([first_stop.get(u, at) - at for u in stopped] or [0])
    print(len(stopped), "%.2f" % worst)
PY
"$RECWATCH" run --state "$URL" "$T/setup.lua" >"$T/setup.log" 2>&1 || fail "setup"
grep -q "setup ok" "$T/setup.log" || fail "setup"
[ "$(psql -X -A -t "$URL" -c "select count(*) from units where unit <> ''")" = 12 ] || fail "12 units registered"

# --- 1. two members split the units
LP1=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LP2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RECWATCH_MEMBER=m1 STOPFILE=$T/stop1 "$RECWATCH" run --state "$URL" --listen "127.0.0.1:$LP1" "$T/member.lua" >"$T/m1.log" 2>&1 &
P1=$!
for _ in $(seq 150); do grep -q "UNITS n=12" "$T/m1.log" && break; sleep 0.1; done
grep -q "UNITS n=12" "$T/m1.log" || fail "m1 alone never held the 12 units"
[ "$(psql -X -A -t "$URL" -c "select count(*) from leases where token = 1 and owner = 'm1'")" = 12 ] || fail "m1 holds 12 leases under token 1"
RECWATCH_MEMBER=m2 STOPFILE=$T/stop2 PROBE=$T/probe "$RECWATCH" run --state "$URL" --listen "127.0.0.1:$LP2" "$T/member.lua" >"$T/m2.log" 2>&1 &
P2=$!
split() {   # prints "n1 n2 union" from the last UNITS line of each member
  python3 - "$T/m1.log" "$T/m2.log" <<'PY'
import sys
sets = []
for f in sys.argv[1:]:
    last = set()
    for l in open(f):
        if " UNITS n=" in l:
            parts = l.rstrip("\n").split(" UNITS ")[1].split(" ", 1)
            last = set(parts[1].split(",")) if len(parts) > 1 and parts[1] else set()
    sets.append(last)
print(len(sets[0]), len(sets[1]), len(sets[0] | sets[1]), len(sets[0] & sets[1]))
PY
}
ok=
for _ in $(seq 150); do
  read -r n1 n2 nu ni <<<"$(split)"
  if [ "$nu" = 12 ] && [ "$ni" = 0 ] && [ "$n1" -gt 0 ] && [ "$n2" -gt 0 ]; then ok=1; break; fi
  sleep 0.1
done
[ -n "$ok" ] || fail "two members never split the 12 units (last: $n1 $n2 union $nu both $ni)"
echo "split: m1 $n1, m2 $n2"
sleep 1.5   # both act (after the 1 s wait) and write
# the units m1 released went to m2 under token 2; the others stayed with m1 under token 1
[ "$(psql -X -A -t "$URL" -c "select count(*) from leases where (owner = 'm1' and token = 1) or (owner = 'm2' and token = 2)")" = 12 ] ||
  fail "tokens after the handover: $(psql -X -A -t "$URL" -c "select unit, owner, token from leases")"
python3 - "$T/m1.log" "$T/m2.log" <<'PY' || fail "graceful handover"
import sys, datetime
def ts(l):
    return datetime.datetime.strptime(l[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
rel = {l.split("kind=fleet unit ")[1].split()[0]: ts(l) for l in open(sys.argv[1]) if " released to member m2" in l}
act = {}
for l in open(sys.argv[2]):
    if " ACT " in l: act.setdefault(l.split(" ACT ")[1].split()[0], ts(l))   # the first
assert rel and set(rel) <= set(act), (rel, act)
worst = max(act[u] - rel[u] for u in rel)
print("handover: %d units released by m1, acted on by m2 %.2f s later at worst (r + 1 = 1.2 s)" % (len(rel), worst))
assert worst <= 0.2 + 1 + 1.5, worst
PY
for m in m1 m2; do
  n=$(psql -X -A -t "$URL" -c "select count(*) from kv where key like '%/w' and value like '$m %'")
  [ "$n" -gt 0 ] || fail "$m wrote under none of its units"
done
# (no check that nothing was fenced here: a unit released between a script's db:unit and its
# db:transaction is rightly refused; the database's own refusal is step 2)

# --- 1b. the watch set changes behind the members' backs: the holder reloads the sessions
cat >"$T/edit.lua" <<'LUA'
local db = require("rec.store").open(os.getenv("URL"), {leases = false})
assert(db:set("agora:c01/session/s2", "{}"))
assert(db:set("agora:c02/session/s1", nil))
LUA
"$RECWATCH" run --state "$URL" "$T/edit.lua" >"$T/edit.log" 2>&1 || fail "edit"
ok=
for _ in $(seq 100); do
  grep -q "SESS agora:c01 2" "$T/m1.log" "$T/m2.log" && grep -q "SESS agora:c02 0" "$T/m1.log" "$T/m2.log" && { ok=1; break; }
  sleep 0.1
done
[ -n "$ok" ] || fail "the holders did not see the watch set change"

# --- 2. a stale token is refused by the database
touch "$T/probe"
for _ in $(seq 250); do grep -q "PROBE ok" "$T/m2.log" && break; sleep 0.1; done
grep -q "PROBE ok" "$T/m2.log" || fail "the stale-token probe"

# --- 3. kill -9 of m1: m2 takes its units over
m1units=$(psql -X -A -t "$URL" -c "select string_agg(unit, ',' order by unit) from leases where owner = 'm1'")
kill -9 "$P1"
killed=$(date +%s.%N)
P1=
ok=
for _ in $(seq 200); do
  [ "$(python3 "$T/units.py" "$T/m2.log" acting 0)" = 12 ] && { ok=1; break; }
  sleep 0.1
done
[ -n "$ok" ] || fail "m2 never acted on all 12 units after m1 was killed"
python3 - "$T/m2.log" "$killed" "$m1units" <<'PY' || fail "failover"
import sys, datetime
log, killed, units = sys.argv[1], float(sys.argv[2]), sys.argv[3].split(",")
def ts(l):
    return datetime.datetime.strptime(l[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
act = {}
gain = {}
for l in open(log):
    if " ACT " in l:
        u = l.split(" ACT ")[1].split()[0]
        if l.split(" tok ")[1].strip() == "2": act.setdefault(u, (ts(l), "2"))   # the first under 2
    if "kind=fleet unit" in l and " gained " in l:
        gain[l.split("kind=fleet unit ")[1].split()[0]] = ts(l)
worst = 0
for u in units:
    t, tok = act[u]
    assert tok == "2", (u, tok, "a taken-over unit's token is 2")
    assert t - gain[u] >= 0.95, (u, t - gain[u], "acted before the old owner's pacing window passed")
    worst = max(worst, t - killed)
T, r = 2.5, 0.2
print("failover: every orphaned unit acted on %.2f s after kill -9 (bound T + r + 1 = %.1f s)" % (worst, T + r + 1))
assert worst <= T + r + 1 + 1.5, "failover took %.2f s" % worst
PY
[ "$(psql -X -A -t "$URL" -c "select count(*) from leases where owner = 'm2'")" = 12 ] || fail "m2 holds the 12 leases"

# --- 4. the database stops: m2 stops acting within D, loudly; then resumes
curl -sf "http://127.0.0.1:$LP2/healthz" >/dev/null || fail "/healthz before the outage"
tokens_before=$(psql -X -A -t "$URL" -c "select string_agg(unit || '=' || token, ',' order by unit) from leases where owner = 'm2'")
pg_kill
stopped=$(date +%s.%N)
ok=
for _ in $(seq 100); do
  read -r n worst <<<"$(python3 "$T/units.py" "$T/m2.log" stopped "$stopped")"
  [ "$n" = 12 ] && grep -q "kind=store_outage " "$T/m2.log" && { ok=1; break; }
  sleep 0.1
done
[ -n "$ok" ] || fail "m2 did not stop acting during the outage ($n units stopped)"
echo "outage: stopped acting on every unit $worst s after the database stopped (D = 1 s)"
awk -v w="$worst" 'BEGIN { exit !(w <= 1 + 1.5) }' || fail "stopping took $worst s"
code=$(curl -s -o "$T/healthz" -w '%{http_code}' "http://127.0.0.1:$LP2/healthz")
[ "$code" = 503 ] && grep -q "PostgreSQL store cannot be reached" "$T/healthz" || fail "/healthz during the outage: $code $(cat "$T/healthz")"
curl -s "http://127.0.0.1:$LP2/metrics" | grep -q '^recwatch_store_up 0' || fail "recwatch_store_up 0"
[ "$(grep -c "kind=store_outage " "$T/m2.log")" = 1 ] || fail "the outage is logged once"
sleep 1
restarted=$(date +%s.%N)   # before: the member may act again before pg_restart returns
pg_restart
ok=
for _ in $(seq 150); do
  [ "$(python3 "$T/units.py" "$T/m2.log" acting "$restarted")" = 12 ] && grep -q "kind=store_outage_over" "$T/m2.log" && { ok=1; break; }
  sleep 0.1
done
[ -n "$ok" ] || fail "m2 did not act again after the database came back"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LP2/healthz")" = 200 ] || fail "/healthz after the outage"
curl -s "http://127.0.0.1:$LP2/metrics" | grep -q '^recwatch_store_up 1' || fail "recwatch_store_up 1"
[ "$(psql -X -A -t "$URL" -c "select string_agg(unit || '=' || token, ',' order by unit) from leases where owner = 'm2'")" = "$tokens_before" ] ||
  fail "the tokens moved through the outage: $(psql -X -A -t "$URL" -c "select unit, owner, token from leases")"
touch "$T/stop2"
wait "$P2" || fail "m2 exited non-zero"
P2=
[ "$(psql -X -A -t "$URL" -c "select count(*) from members where member = 'm2'")" = 0 ] || fail "m2 left its member row"
[ "$(psql -X -A -t "$URL" -c "select count(*) from leases where expires_at > now()")" = 0 ] || fail "m2 left live leases"

# --- 5. claims are disjoint (SKIP LOCKED, locked for the lease)
a=$(RECWATCH_MEMBER=c1 N=6 "$RECWATCH" run --state "$URL" "$T/claim.lua" 2>"$T/c1.log" | sed -n 's/^CLAIMED //p')
b=$(RECWATCH_MEMBER=c2 N=20 "$RECWATCH" run --state "$URL" "$T/claim.lua" 2>"$T/c2.log" | sed -n 's/^CLAIMED //p')
python3 - "$a" "$b" <<'PY' || fail "claims"
import sys
a, b = [set(x.split(",")) - {""} for x in sys.argv[1:3]]
assert len(a) == 6, a
assert len(b) == 4, ("the second member gets the rest", b)
assert not (a & b), a & b
print("claims: %d + %d rows, disjoint" % (len(a), len(b)))
PY
echo "ok: store_pg_lease"
