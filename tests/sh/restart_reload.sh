# A restart during a reload (SIGHUP), on the real clock against a served simulator: the
# restart's start is in flight (the simulator's `hold` fault: it took effect, its answer is
# held 8 s) when the reload comes. The old script's calls are cancelled, its intent (uid 1001,
# no sid) stays in the state file; the new script acquires again with the same uid, gets 53
# and alerts that a recorder runs unseen instead of starting a second one. One billed start.
. "${HELPERS:?}/ops_lib.sh"

cat > "$T/scenario.lua" <<'LUA'
return {
  agora_recordings = { { appid = "sim-agora-app", resourceid = "sim-resource-abnormal", sid = "sid-abnormal",
    mode = "mix", timeline = { {0, 1}, {1, 2}, {2, 4}, {3, 5}, {6, 20} } } },
  faults = { { provider = "agora", kind = "hold", ms = 8000, match = "/start", times = 1 } },
}
LUA
"$RECWATCH" sim --listen 127.0.0.1:0 --scenario "$T/scenario.lua" >"$T/env" 2>"$T/simlog" &
EXTRA_PIDS=$!
wait_for 10 grep -q RECWATCH_SIM_PORT "$T/env" || fail "no simulator"
. "$T/env"
cp "$SRC/examples/agora_restart.lua" "$T/restart.lua"
rw_start run --state "$T/state.db" --listen 127.0.0.1:0 "$T/restart.lua" --every 1 --settle 1 --for 0
wait_for 60 grep -q "kind=restart_needed" "$T/rw.err" || fail "the failure was not seen"
sleep 3   # the acquire after settle (1 s), then the start: held by the simulator for 8 s
grep -q "kind=restart_started" "$T/rw.err" && fail "the start answered before the reload"
kill -HUP "$RW_PID"
wait_for 20 grep -q "reload done" "$T/rw.err" || fail "no reload"
wait_for 30 grep -q "kind=agora_running_unseen\|runs unseen in channel" "$T/rw.err" || fail "no 'runs unseen' after the reload"
sleep 2
grep -q "kind=restart_resume .*(uid 1001)" "$T/rw.err" || fail "not resumed with the same uid"
grep -q "RESTART FAILED" "$T/rw.err" && fail "a cancelled start was counted as a failed restart"
BILLED=$(curl -s -u "$AGORA_CUSTOMER_ID:$AGORA_CUSTOMER_SECRET" "$AGORA_API_BASE/_sim/billed")
echo "billed: $BILLED"
echo "$BILLED" | python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["agora"] == 1, b' || fail "billed: $BILLED"
grep -q '"restart/sim-agora-app/class-1"' <(curl -s "$URL/status") || fail "no restart entry in /status"
echo ok
