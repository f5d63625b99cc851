# pg_fleet_shared (issue 24): keys of no unit are shared by the fleet's members. Two members
# (RECWATCH_MEMBER m1, m2, r = 0.2 s, D = 1 s, T = 2.5 s) on a real PostgreSQL (pg_lib.sh):
#   1. m1 reads the silences (notify.silences) in a loop and has an outbox to a webhook;
#      m2 adds a silence through its admin route (POST /admin/silences): m1 lists it within
#      about one lease round (a commit that writes a key of no unit bumps the version of the
#      pseudo-unit '' in units; m1's lease round sees it move and reloads those keys);
#   2. m1 fires an alert the silence matches: it is held (recwatch_alerts_held 1 on m1) and
#      not sent, while another alert it does not match is sent;
#   3. m2 expires the silence (DELETE /admin/silences/ID): m1 sees it over and sends the held
#      alert;
#   4. a plain key written by m2's script (rec/shared/x) and deleted again reaches m1's cache
#      (db:get) both times.
set -eu
: "${RECWATCH:?}" "${SRC:?}" "${HELPERS:?}"
. "$SRC/tests/sh/pg_lib.sh"
pg_start
T=$PGDIR/t
mkdir -p "$T"
P1= P2= PW=
test_cleanup() { for p in $P1 $P2 $PW; do kill -9 "$p" 2>/dev/null || true; done; }
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.log; do echo "== $f"; tail -30 "$f"; done >&2; exit 1; }
wait_for() { local n=$(( $1 * 10 )); shift; for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
export RECWATCH_FLEET_RENEW=0.2 RECWATCH_FLEET_ACT=1 RECWATCH_FLEET_LEASE=2.5
URL=$(pg_db fleet)
export URL T
TOKEN=tok-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$T/token"
chmod 600 "$T/token"

python3 "$HELPERS/webhook_receiver.py" --out "$T/got.jsonl" >"$T/port" &
PW=$!
wait_for 10 grep -q PORT "$T/port" || fail "no webhook receiver"
export HOOK=http://127.0.0.1:$(awk '/PORT/{print $2}' "$T/port")/hook

cat >"$T/m1.lua" <<'LUA'
-- m1: lists the active silences when they change (SILENCES n), the cache's rec/shared/x
-- (SHARED v), and fires alerts when told (a file per alert)
local notify = require "rec.notify"
local db = require("rec.store").open()
assert(db:fleet() == true)
local T = os.getenv("T")
local out = notify.outbox{ to = notify.webhook_sender{ url = os.getenv("HOOK") }, every = 0.2 }
local function exists(p) local f = io.open(p) if f then f:close() return true end return false end
local last, lastx, fired = -1, false, {}
while not exists(T .. "/stop1") do
  local n = 0
  for _, s in ipairs(notify.silences()) do if s.state == "active" then n = n + 1 end end
  if n ~= last then last = n ; rec.log.info("SILENCES %d", n) end
  local x = db:get("rec/shared/x")
  if x ~= lastx then lastx = x ; rec.log.info("SHARED %s", tostring(x)) end
  for _, ch in ipairs({ "muted-room", "open-room" }) do
    if not fired[ch] and exists(T .. "/fire-" .. ch) then
      fired[ch] = true
      out:alert{ text = "recording failed in " .. ch, channel = ch }
      rec.log.info("FIRED %s", ch)
    end
  end
  rec.sleep(0.05)
end
LUA

cat >"$T/m2.lua" <<'LUA'
-- m2: an admin route for silences (notify.outbox is not needed for it) and, when told, a
-- plain key of no unit written and then deleted
local db = require("rec.store").open()
local T = os.getenv("T")
local function exists(p) local f = io.open(p) if f then f:close() return true end return false end
require "rec.notify"
local step = 0
while not exists(T .. "/stop2") do
  if step == 0 and exists(T .. "/x-set") then step = 1 ; assert(db:set("rec/shared/x", "from-m2")) ; rec.log.info("XSET") end
  if step == 1 and exists(T .. "/x-del") then step = 2 ; assert(db:set("rec/shared/x", nil)) ; rec.log.info("XDEL") end
  rec.sleep(0.05)
end
LUA

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
LP1=$(free_port) LP2=$(free_port)
RECWATCH_MEMBER=m1 "$RECWATCH" run --state "$URL" --listen "127.0.0.1:$LP1" "$T/m1.lua" >"$T/m1.log" 2>&1 &
P1=$!
RECWATCH_MEMBER=m2 "$RECWATCH" run --state "$URL" --listen "127.0.0.1:$LP2" --admin-token-file "$T/token" \
  "$T/m2.lua" >"$T/m2.log" 2>&1 &
P2=$!
wait_for 20 grep -q "SILENCES 0" "$T/m1.log" || fail "m1 never started"
wait_for 20 curl -sf -o /dev/null "http://127.0.0.1:$LP2/healthz" || fail "m2 never answered"
wait_for 10 grep -q "joined the fleet" "$T/m1.log" || fail "m1 never joined"
wait_for 10 grep -q "joined the fleet" "$T/m2.log" || fail "m2 never joined"
sleep 0.5   # both past their first rounds

# --- 1. a silence added through m2's admin route reaches m1
t0=$(date +%s.%N)
code=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 10 -X POST \
  -H "Authorization: Bearer $TOKEN" --data-binary '{"matchers":["channel=muted-room"],"for":3600,"comment":"fleet"}' \
  "http://127.0.0.1:$LP2/admin/silences")
[ "$code" = 201 ] || fail "m2's admin route: $code $(cat "$T/body")"
ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/body")
wait_for 10 grep -q "SILENCES 1" "$T/m1.log" || fail "m1 never saw m2's silence"
t1=$(date +%s.%N)
python3 -c "import sys; d=$t1-$t0; print('silence added on m2 seen by m1 after %.2f s (r = 0.2 s)' % d); sys.exit(0 if d < 3 else 1)" ||
  fail "m1 saw m2's silence too late"

# --- 2. m1's alert that the silence matches is held, the other one is sent
touch "$T/fire-muted-room" "$T/fire-open-room"
wait_for 10 sh -c "grep -q open-room '$T/got.jsonl' 2>/dev/null" || fail "the alert no silence matches was not sent"
held() { curl -s --max-time 5 "http://127.0.0.1:$LP1/metrics" | awk '$1 == "recwatch_alerts_held" {print $2}'; }
wait_for 10 sh -c "[ \"\$(curl -s --max-time 5 http://127.0.0.1:$LP1/metrics | awk '\$1 == \"recwatch_alerts_held\" {print \$2}')\" = 1 ]" ||
  fail "m1 does not hold the silenced alert: held=$(held)"
sleep 1   # more delivery passes: still not sent
if grep -q muted-room "$T/got.jsonl"; then fail "a silenced alert was sent: $(cat "$T/got.jsonl")"; fi

# --- 3. m2 expires it: m1 sends the held alert
code=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 10 -X DELETE -H "Authorization: Bearer $TOKEN" \
  "http://127.0.0.1:$LP2/admin/silences/$ID")
[ "$code" = 200 ] || fail "expire on m2: $code $(cat "$T/body")"
wait_for 10 sh -c "grep -q muted-room '$T/got.jsonl'" || fail "m1 never sent the alert after m2 expired the silence"
[ "$(grep SILENCES "$T/m1.log" | tail -1 | awk '{print $NF}')" = 0 ] || fail "m1 still lists an active silence"

# --- 4. a plain key of no unit, set and deleted on m2, follows in m1's cache
touch "$T/x-set"
wait_for 10 grep -q "SHARED from-m2" "$T/m1.log" || fail "m1 never saw rec/shared/x"
touch "$T/x-del"
wait_for 10 sh -c "grep SHARED '$T/m1.log' | tail -1 | grep -q 'SHARED nil'" || fail "m1 never saw rec/shared/x deleted"

touch "$T/stop2"
wait "$P2" || fail "m2 exit $?"
P2=
kill -TERM "$P1"   # m1's outbox runs on: a graceful stop
wait "$P1" || fail "m1 exit $?"
P1=
if grep -q "Sanitizer" "$T/m1.log" "$T/m2.log"; then fail "a sanitizer report"; fi
if grep -q "$TOKEN" "$T"/*.log; then fail "the admin token in a log"; fi
grep -q "kind=store_error" "$T/m1.log" "$T/m2.log" && fail "a store error"
echo "pg_fleet_shared ok"
