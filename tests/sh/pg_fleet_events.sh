# pg_fleet_events (issue 24): an Agora notification received by any member reaches the owner
# of its session's unit. Two members (ma, mb: names whose rendezvous gives each one of the two
# units; r = 0.2 s) run watch.fleet on one PostgreSQL store (pg_lib.sh) against one
# `recwatch sim`, each with its own NCS receiver (--events-listen), polling every 60 s (so a
# query within seconds comes from the event):
#   1. a notification for the session is POSTed to the member that does NOT hold the session's
#      unit: it is stored there (200); the owner reads it from the store (every r) and queries
#      the recording within 2 s; the non-owner never queries it; the owner marks it done;
#   2. a notification for a session no member watches stays not done (no member took it: the
#      owner would have; it ages out at the de-duplication window), and each member was
#      handed it once (de-duplicated by noticeId: no second "unwatched" line on a re-read);
#   3. the same notification POSTed again to the owner is a duplicate (200, nothing new).
source "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"
source "$SRC/tests/sh/pg_lib.sh"
: "${RECWATCH:?}" "${SRC:?}"
T=$SIM_TMP
PIDS=()
fail() { echo "FAIL: $*" >&2; for f in "$T"/ma.log "$T"/mb.log; do [ -f "$f" ] && { echo "== $f"; tail -25 "$f"; }; done >&2; exit 1; }
test_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  sim_cleanup
}
cat >"$T/scn.lua" <<'LUA'
return {
  agora = { rate_limit = 0, customers = { { customer_id = "cust-b", customer_secret = "cust-b-secret-000111", rate_limit = 0 } } },
  agora_recordings = {
    { appid = "app", resourceid = "r-1", sid = "sid-1", timeline = { {0, 5} } },
    { appid = "app", resourceid = "r-b", sid = "sid-b", timeline = { {0, 5} } },
  },
}
LUA
sim_start --scenario "$T/scn.lua"
pg_start
DB=$(pg_db fleet)
export RECWATCH_FLEET_RENEW=0.2 RECWATCH_FLEET_LEASE=2.5 RECWATCH_FLEET_ACT=1
export NCS_SECRET=ncs-secret-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
UNIT=agora:$AGORA_CUSTOMER_ID
"$RECWATCH" sessions add --state "$DB" agora --account "$AGORA_CUSTOMER_ID" --appid app \
  --resourceid r-1 --sid sid-1 >/dev/null || fail "sessions add"
"$RECWATCH" sessions add --state "$DB" agora --account cust-b --appid app \
  --resourceid r-b --sid sid-b >/dev/null || fail "sessions add b"

cat >"$T/member.lua" <<'LUA'
rec.configure{ agora = { ncs_secret = os.getenv("NCS_SECRET"), accounts = {
  { customer_id = os.getenv("AGORA_CUSTOMER_ID"), customer_secret = os.getenv("AGORA_CUSTOMER_SECRET") },
  { customer_id = "cust-b", customer_secret = "cust-b-secret-000111" } } } }
local watch = require "rec.watch"
watch.fleet{ provider = "agora", every = 60, first_after = 0.3, start_timeout = 600 }
rec.log.info("configured")
LUA
for m in ma mb; do
  RECWATCH_MEMBER=$m "$RECWATCH" run --state "$DB" --events-listen 127.0.0.1:0 --log-level debug \
    "$T/member.lua" >"$T/$m.log" 2>&1 &
  PIDS+=($!)
done
wait_for() { local i; for i in $(seq $(( $1 * 10 ))); do "${@:2}" && return 0; sleep 0.1; done; return 1; }
url_of() { sed -n 's/.*receiving Agora notifications on \(http:[^ ]*\).*/\1/p' "$T/$1.log" | head -1; }
for m in ma mb; do
  wait_for 60 sh -c "grep -q configured '$T/$m.log' && grep -q 'receiving Agora notifications' '$T/$m.log'" ||
    fail "$m did not start: $(tail -5 "$T/$m.log")"
done
owner() { psql -X -A -t "$DB" -c "select owner from leases where unit = '$UNIT' and expires_at > now()"; }
polls() {  # polls SID SINCE(wall s) -> "member count" lines (the sim's request log)
  curl -s "$BASE/_sim/requests" | python3 -c '
import json, sys, collections
sid, since = sys.argv[1], float(sys.argv[2])
c = collections.Counter(r.get("member") or "?" for r in json.load(sys.stdin)
                        if "/sid/" + sid + "/" in r["path"] and r["t"] >= since)
for m, n in sorted(c.items()): print(m, n)' "$1" "$2"
}
simnow() { curl -s "$BASE/_sim/requests" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(max([x["t"] for x in r] or [0]))'; }
# the owner polled sid-1 once (first_after), the next poll is 60 s away
wait_for 60 sh -c "[ -n \"\$(psql -X -A -t '$DB' -c \"select owner from leases where unit = '$UNIT' and expires_at > now()\")\" ]" ||
  fail "no member holds $UNIT"
wait_for 30 sh -c "curl -s '$BASE/_sim/requests' | grep -q sid-1" || fail "sid-1 never polled"
wait_for 30 sh -c "curl -s '$BASE/_sim/requests' | grep -q sid-b" || fail "sid-b never polled"
sleep 1.5   # the two members settled (a handover would poll again)
OWN=$(owner)
case "$OWN" in ma) OTHER=mb ;; mb) OTHER=ma ;; *) fail "owner: '$OWN'" ;; esac
# the rendezvous of these names gives each member one unit (so each runs a dispatcher)
[ "$(psql -X -A -t "$DB" -c "select owner from leases where unit = 'agora:cust-b' and expires_at > now()")" = "$OTHER" ] ||
  fail "both units on one member: $(psql -X -A -t "$DB" -c "select unit, owner from leases")"
T0=$(simnow)

post() {  # post MEMBER BODYFILE -> http code
  local sig
  sig=$(python3 -c 'import hmac,hashlib,sys,os; print(hmac.new(os.environ["NCS_SECRET"].encode(), open(sys.argv[1],"rb").read(), hashlib.sha256).hexdigest())' "$2")
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST -H "Agora-Signature-V2: $sig" \
    --data-binary "@$2" "$(url_of "$1")"
}
now_ms=$(python3 -c 'import time; print(int(time.time()*1000))')
printf '{"noticeId":"n-fleet-1","productId":3,"eventType":41,"notifyMs":%s,"payload":{"cname":"room-1","uid":"42","sid":"sid-1","sequence":7,"sendts":%s,"serviceType":0,"details":{"leaveCode":0,"msgName":"recorder_leave"}}}' \
  "$now_ms" "$now_ms" >"$T/ev1.json"
printf '{"noticeId":"n-fleet-2","productId":3,"eventType":41,"notifyMs":%s,"payload":{"cname":"room-x","uid":"43","sid":"sid-nobody","sequence":1,"sendts":%s,"serviceType":0,"details":{}}}' \
  "$now_ms" "$now_ms" >"$T/ev2.json"

# --- 1. to the member that does not hold the unit; the owner queries within 2 s
S0=$(simnow)
t0=$(date +%s.%N)
[ "$(post "$OTHER" "$T/ev1.json")" = 200 ] || fail "the notification to $OTHER was not stored"
wait_for 10 sh -c "[ -n \"\$(curl -s '$BASE/_sim/requests' | python3 -c '
import json, sys
print(\"\".join(r.get(\"member\") or \"?\" for r in json.load(sys.stdin) if \"/sid/sid-1/\" in r[\"path\"] and r[\"t\"] > $S0))')\" ]" ||
  fail "nobody queried sid-1 after the notification: $(tail -5 "$T/$OWN.log")"
t1=$(date +%s.%N)
got=$(polls sid-1 "$S0")
python3 -c "import sys; d=$t1-$t0; print('notification posted to $OTHER, queried by the owner $OWN %.2f s later' % d); sys.exit(0 if d <= 2.5 else 1)" ||
  fail "the owner queried too late"
[ "$(echo "$got" | awk '{print $1}' | sort -u)" = "$OWN" ] || fail "queried by: $got (owner $OWN)"
wait_for 10 sh -c "[ \"\$(psql -X -A -t '$DB' -c \"select count(*) from events where notice_id = 'n-fleet-1' and done_at is not null\")\" = 1 ]" ||
  fail "the owner did not mark the event done"
wait_for 5 grep -q "n-fleet-1" "$T/$OTHER.log" || fail "$OTHER was not handed its own event"
grep "n-fleet-1" "$T/$OTHER.log" | grep -q "kind=agora_event_unwatched" || fail "$OTHER did not leave it unwatched"

# --- 2. a notification no member watches: handed to each once, never marked done
[ "$(post "$OWN" "$T/ev2.json")" = 200 ] || fail "the second notification"
wait_for 10 sh -c "grep -q n-fleet-2 '$T/ma.log' && grep -q n-fleet-2 '$T/mb.log'" || fail "not every member was handed n-fleet-2"
sleep 1.5   # several re-reads (every r = 0.2 s): no second hand-out
for m in ma mb; do
  n=$(grep -c "kind=agora_event_unwatched.*n-fleet-2" "$T/$m.log" || true)
  [ "$n" = 1 ] || fail "$m was handed n-fleet-2 $n times"
  n=$(grep -c "kind=agora_event_unwatched.*n-fleet-1" "$T/$m.log" || true)
  [ "$n" -le 1 ] || fail "$m was handed n-fleet-1 $n times"
done
[ "$(psql -X -A -t "$DB" -c "select count(*) from events where notice_id = 'n-fleet-2' and done_at is null")" = 1 ] ||
  fail "an event no member took was marked done"

# --- 3. the same one again, to the owner: a duplicate
[ "$(post "$OWN" "$T/ev1.json")" = 200 ] || fail "the duplicate"
sleep 0.6
[ "$(psql -X -A -t "$DB" -c "select count(*) from events")" = 2 ] || fail "a duplicate was stored"
if grep -q "$NCS_SECRET" "$T"/ma.log "$T"/mb.log; then fail "the NCS secret in a log"; fi
grep -q "kind=events_error\|kind=store_error" "$T"/ma.log "$T"/mb.log && fail "an error in a log"
# a graceful stop: each member exits 0, with nothing from a sanitizer
for p in "${PIDS[@]}"; do kill -TERM "$p"; done
for p in "${PIDS[@]}"; do wait "$p" || fail "a member exited $?"; done
PIDS=()
if grep -q "Sanitizer" "$T"/ma.log "$T"/mb.log; then fail "a sanitizer report"; fi
echo "pg_fleet_events ok"
