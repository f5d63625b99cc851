# pg_fleet_restart (issue 24, the restart policy in a fleet): two members on one PostgreSQL
# store run watch.fleet with restart= over one `recwatch sim`. The account's one recording
# exits abnormally at t=6; its owner writes the intent (uid 1001) under its token, acquires,
# and sends the start, whose answer the simulator holds (the recorder runs). The owner is
# killed (-9) before it learns the sid. The other member takes the unit over, finds the
# intent, acquires again with the SAME uid, and the start answers 53: no second recorder;
# "runs unseen" is alerted. One start took effect in all; the survivor started none.
source "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"
source "$SRC/tests/sh/pg_lib.sh"
: "${RECWATCH:?}" "${SRC:?}"
T=$SIM_TMP
PIDS=()
test_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  sim_cleanup
}

cat >"$T/scn.lua" <<'LUA'
return {
  agora = { rate_limit = 0 },
  agora_recordings = {
    { appid = "app", resourceid = "r-fail", sid = "sid-fail", channel = "class-1",
      timeline = { {0, 5}, {6, 20} } },
  },
  -- the restart's start takes effect at once; its answer waits 6 s, within the request timeout (the owner dies meanwhile)
  faults = { { provider = "agora", kind = "hold", ms = 6000, match = "/start", times = 1 } },
}
LUA
cat >"$T/member.lua" <<'LUA'
local watch = require "rec.watch"
local notify = require "rec.notify"
rec.configure{ agora = { accounts = { { customer_id = os.getenv("AGORA_CUSTOMER_ID"),
                                        customer_secret = os.getenv("AGORA_CUSTOMER_SECRET") } } } }
local out = notify.outbox{ to = { notify.log{ name = "log" } }, every = 0.5 }
local fl = watch.fleet{ provider = "agora", outbox = out, every = 1, first_after = 0.5,
  restart = { cname = "class-1", uids = { "1001", "1002" }, settle = 0.5,
    client_request = { storageConfig = { vendor = 1, region = 0, bucket = "b", accessKey = "k",
                                         secretKey = "s" }, recordingConfig = { channelType = 0 } },
    on_restarted = function(r) rec.log.info("RESTARTED %s as %s uid %s", r.from_sid, r.sid, r.uid) end } }
fl:wait()
LUA
sim_start --scenario "$T/scn.lua"
pg_start
DB=$(pg_db fleet)
export RECWATCH_FLEET_RENEW=0.2 RECWATCH_FLEET_LEASE=1.5 RECWATCH_FLEET_ACT=0.4
UNIT="agora:$AGORA_CUSTOMER_ID"
q() { PGURL=$DB pg_sql "$1"; }   # a query on the fleet's database
"$RECWATCH" sessions add --state "$DB" agora --account "$AGORA_CUSTOMER_ID" --appid app \
  --resourceid r-fail --sid sid-fail >/dev/null || fail "add"
declare -A PID
for m in m1 m2; do
  RECWATCH_MEMBER=$m "$RECWATCH" run --state "$DB" "$T/member.lua" >"$T/$m.log" 2>&1 &
  PID[$m]=$!
  PIDS+=($!)
done
wait_for() { local i; for i in $(seq 600); do "$@" && return 0; sleep 0.1; done; return 1; }
logs() { tail -n 5 "$T/m1.log" "$T/m2.log"; }
RKEY="$UNIT/rec/restart/app/class-1"
state() { q "SELECT value FROM kv WHERE key = '$RKEY'" 2>/dev/null; }
# the intent with its resource id and no sid: the start was sent, its answer held
intent_sent() { state | python3 -c '
import json, sys
v = sys.stdin.read().strip()
i = json.loads(v).get("intent") if v else None
sys.exit(0 if i and i.get("rid") and not i.get("sid") and i.get("uid") == "1001" else 1)'; }
wait_for intent_sent || fail "no intent with a resource id: $(state) $(logs)"
OWNER=$(q "SELECT owner FROM leases WHERE unit = '$UNIT'")
case "$OWNER" in m1) OTHER=m2 ;; m2) OTHER=m1 ;; *) fail "owner of $UNIT: '$OWNER'" ;; esac
grep -q "kind=restart_started" "$T/$OWNER.log" && fail "the owner saw the start's answer already"
KILLED=$(date -u +%s.%N)
kill -9 "${PID[$OWNER]}"
wait "${PID[$OWNER]}" 2>/dev/null

# the survivor takes the unit over, resumes the intent with the same uid, meets 53
wait_for grep -q "runs unseen" "$T/$OTHER.log" || fail "the survivor did not resume into 'runs unseen': $(logs)"
grep -q "kind=restart_resume.*uid 1001" "$T/$OTHER.log" || fail "not resumed with uid 1001: $(logs)"
# measured: from the kill to the survivor's resume and to its "runs unseen" (log times)
since_kill() { python3 -c '
import sys, datetime
line = next(l for l in open(sys.argv[1]) if sys.argv[2] in l)
t = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
print("%.1f" % (t.timestamp() - float(sys.argv[3])))' "$T/$OTHER.log" "$1" "$KILLED"; }
echo "MEASURE kill -9 -> resumed $(since_kill kind=restart_resume) s, -> runs unseen alerted $(since_kill 'runs unseen') s"
[ "$(q "SELECT owner FROM leases WHERE unit = '$UNIT'")" = "$OTHER" ] || fail "the unit did not move"
grep -q "kind=restart_started" "$T/$OTHER.log" && fail "the survivor started a second recorder"
grep -q "kind=restart_failed" "$T/$OTHER.log" && fail "the survivor counted a failure: $(logs)"
# the simulator: one task started (billed) and running in all, the held one; the survivor's
# start was refused (400, 53)
billed() { curl -s "$BASE/_sim/billed" | python3 -c 'import json,sys; b=json.load(sys.stdin); print(b["agora"], b["agora_running"])'; }
[ "$(billed)" = "1 1" ] || fail "billed, running: expected 1 1, got $(billed)"
theirs=$(curl -s "$BASE/_sim/requests" | python3 -c '
import json, sys
print(" ".join("%s:%s" % (r.get("member"), r.get("status")) for r in json.load(sys.stdin) if r["path"].endswith("/start")))')
[ "$theirs" = "$OTHER:400" ] || fail "the survivor's starts: expected $OTHER:400, got $theirs"
sleep 2   # nothing more: no further start
[ "$(billed)" = "1 1" ] || fail "billed, running after 2 s: $(billed)"
echo "pg_fleet_restart ok"
