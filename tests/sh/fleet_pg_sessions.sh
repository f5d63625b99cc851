# fleet_pg_sessions (issue 24, the Lua fleet layer on PostgreSQL): two members run
# examples/fleet.lua on one PostgreSQL store against one `recwatch sim` with two customers.
# `recwatch sessions` edits the set while they run: every session is polled, each account by
# one member only (the simulator's request log, by the member in User-Agent); a session added
# is polled within seconds, a removed one no longer; the recording that fails is alerted once.
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
  agora = { rate_limit = 0, customers = { { customer_id = "cust-b", customer_secret = "cust-b-secret-000111", rate_limit = 0 } } },
  agora_recordings = {
    { appid = "app", resourceid = "r-fail", sid = "sid-fail", timeline = { {0, 5}, {6, 20} } },
    { appid = "app", resourceid = "r-ok", sid = "sid-ok", timeline = { {0, 5} } },
    { appid = "app", resourceid = "r-b", sid = "sid-b", timeline = { {0, 5} } },
    { appid = "app", resourceid = "r-late", sid = "sid-late", timeline = { {0, 5} } },
  },
}
LUA
sim_start --scenario "$T/scn.lua"
python3 "$HELPERS/webhook_receiver.py" --out "$T/got.jsonl" >"$T/port" &
PIDS+=($!)
for _ in $(seq 100); do grep -q PORT "$T/port" && break; sleep 0.1; done
HOOK=http://127.0.0.1:$(awk '/PORT/{print $2}' "$T/port")/hook
pg_start
DB=$(pg_db fleet)
export RECWATCH_FLEET_RENEW=0.2 RECWATCH_FLEET_LEASE=1.5 RECWATCH_FLEET_ACT=0.4
A="agora --account $AGORA_CUSTOMER_ID --appid app"
B="agora --account cust-b --appid app"
"$RECWATCH" sessions add --state "$DB" $A --resourceid r-fail --sid sid-fail >/dev/null || fail "add fail"
"$RECWATCH" sessions add --state "$DB" $A --resourceid r-ok --sid sid-ok >/dev/null || fail "add ok"
"$RECWATCH" sessions add --state "$DB" $B --resourceid r-b --sid sid-b >/dev/null || fail "add b"
n=$("$RECWATCH" sessions list --state "$DB" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 3 ] || fail "3 sessions in PostgreSQL, got $n"

for m in m1 m2; do
  RECWATCH_MEMBER=$m "$RECWATCH" run --state "$DB" "$SRC/examples/fleet.lua" --every 1 --first-after 0.5 \
    --webhook "$HOOK" >"$T/$m.log" 2>&1 &
  PIDS+=($!)
done

# polls of sid per member since sim time T0 (the request log's members)
polls() {  # polls SID SINCE -> "member count" lines
  curl -s "$BASE/_sim/requests" | python3 -c '
import json, sys, collections
sid, since = sys.argv[1], float(sys.argv[2])
c = collections.Counter(r.get("member") or "?" for r in json.load(sys.stdin)
                        if "/sid/" + sid + "/" in r["path"] and r["t"] >= since)
for m, n in sorted(c.items()): print(m, n)' "$1" "$2"
}
simnow() { curl -s "$BASE/_sim/requests" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(max([x["t"] for x in r] or [0]))'; }

# waits up to 60 s for a condition (an ASan build on a loaded machine starts slowly)
wait_for() { local i; for i in $(seq 600); do "$@" && return 0; sleep 0.1; done; return 1; }
polled() { [ -n "$(polls "$1" "${2:-0}")" ]; }
polled_n() { [ "$(polls "$1" "$2" | awk '{s += $2} END {print s + 0}')" -ge "$3" ]; }
logs() { tail -n 3 "$T/m1.log" "$T/m2.log"; }

for s in sid-fail sid-ok sid-b; do
  wait_for polled $s || fail "$s not polled: $(logs)"
done
# after the start (leases settled): one member per account, over three polls of each
T0=$(simnow)
for s in sid-ok sid-b; do
  wait_for polled_n $s "$T0" 3 || fail "$s: not polled 3 times since $T0"
  n=$(polls $s "$T0" | wc -l)
  [ "$n" = 1 ] || fail "$s polled by $n members: $(polls $s "$T0")"
done

# added while they run: polled within a rescan
"$RECWATCH" sessions add --state "$DB" $A --resourceid r-late --sid sid-late >/dev/null || fail "add late"
wait_for polled sid-late || fail "the added session is not polled: $(logs)"
# removed while they run: its watcher stops, then it is no longer polled
"$RECWATCH" sessions remove --state "$DB" agora --account cust-b sid-b >/dev/null || fail "remove b"
wait_for grep -q "session/sid-b: no longer watched here (session removed)" "$T/m1.log" "$T/m2.log" \
  || fail "sid-b's watcher did not stop: $(logs)"
T1=$(simnow)
wait_for polled_n sid-ok "$T1" 3 || fail "the others stopped"
[ -z "$(polls sid-b "$T1")" ] || fail "the removed session is still polled: $(polls sid-b "$T1")"

# the failure (t=6): one alert, with its stable id
wait_for test -s "$T/got.jsonl" || fail "no alert"
n=$(python3 -c '
import json, sys
ids = [json.loads(l)["alert_id"] for l in open(sys.argv[1])]
print(len(ids), len(set(ids)))' "$T/got.jsonl")
[ "$n" = "1 1" ] || fail "one alert expected, got (sent, distinct) $n: $(cat "$T/got.jsonl")"
grep -q "agora:$AGORA_CUSTOMER_ID/agora/app/r-fail/sid-fail/change@" "$T/got.jsonl" || fail "its id: $(cat "$T/got.jsonl")"
echo "fleet_pg_sessions ok"
