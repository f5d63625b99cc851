# fleet_sessions_cli (issue 24): `recwatch sessions add|remove|list` edits watch.fleet's set in
# a SQLite state file; bad input is refused with exit status 2 and stores nothing; a file held
# by a running recwatch is refused (2), not waited on; examples/fleet.lua then watches the
# sessions added (and not the one removed) and alerts the failure once.
set -u
: "${RECWATCH:?}" "${SRC:?}"
T=$(mktemp -d)
RUN_PID=
trap '[ -n "$RUN_PID" ] && kill "$RUN_PID" 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
DB=$T/fleet.db
S() { "$RECWATCH" sessions "$@"; }
A="agora --account sim-agora-customer --appid sim-agora-app"

S add --state "$DB" $A --resourceid sim-resource-abnormal --sid sid-abnormal >"$T/o" || fail "add"
grep -qx "agora:sim-agora-customer/session/sid-abnormal" "$T/o" || fail "add prints the key: $(cat "$T/o")"
S add --state "$DB" $A --resourceid sim-resource-healthy --sid sid-healthy --id healthy >/dev/null || fail "add 2"
S add --state "$DB" qingcloud --account QKEY --app-id demo-app --channel demo-channel >/dev/null || fail "add qc"
n=$(S list --state "$DB" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 3 ] || fail "3 sessions listed, got $n"
n=$(S list --state "$DB" agora --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 2 ] || fail "2 agora sessions, got $n"
S list --state "$DB" qingcloud --account QKEY | grep -q "qingcloud:QKEY .*demo-channel" || fail "list qingcloud"

# bad input: status 2, a message, nothing stored
bad() {
  local why=$1; shift
  local rc=0
  "$RECWATCH" sessions "$@" >"$T/o" 2>"$T/e" || rc=$?
  [ "$rc" = 2 ] || fail "$why: exit $rc (want 2): $(cat "$T/e")"
  [ -s "$T/e" ] || fail "$why: no message"
}
bad "no --state" add $A --resourceid r --sid s
bad "unknown provider" add --state "$DB" zoom --account x
bad "no sid" add --state "$DB" $A --resourceid r
bad "account with /" add --state "$DB" agora --account a/b --appid a --resourceid r --sid s
bad "bad mode" add --state "$DB" $A --resourceid r --sid s --mode audio
bad "id with /" add --state "$DB" $A --resourceid r --sid s --id a/b
bad "unknown flag" add --state "$DB" $A --resourceid r --sid s --sidd x
grep -q "did you mean '--sid'" "$T/e" || fail "no suggestion: $(cat "$T/e")"
bad "unknown command" lst --state "$DB"
printf '[{"provider":"agora","account":"c1","appid":"a","resourceid":"r","sid":"s1"},{"provider":"agora","account":"c1","appid":"a","sid":"s2"}]' >"$T/bad.json"
bad "a bad entry in --file" add --state "$DB" --file "$T/bad.json"
grep -q "entry 2" "$T/e" || fail "names the entry: $(cat "$T/e")"
printf 'not json' >"$T/nj.json"
bad "--file not JSON" add --state "$DB" --file "$T/nj.json"
n=$(S list --state "$DB" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 3 ] || fail "bad input stored something: $n sessions"
rc=0; S remove --state "$DB" agora --account sim-agora-customer nope 2>"$T/e" || rc=$?
[ "$rc" = 4 ] || fail "remove of an unknown session: exit $rc, want 4"

# --file: several in one transaction
printf '[{"provider":"agora","account":"c1","appid":"a","resourceid":"r1","sid":"s1"},{"provider":"qingcloud","account":"K2","id":"ch","app_id":"a","channel":"c/h"}]' >"$T/ok.json"
S add --state "$DB" --file "$T/ok.json" | grep -q "2 session(s) stored" || fail "--file"
S list --state "$DB" qingcloud --account K2 | grep -q '"channel":"c/h"' || fail "the file's qingcloud session"
S remove --state "$DB" agora --account c1 s1 >/dev/null || fail "remove s1"
S remove --state "$DB" qingcloud --account K2 ch >/dev/null || fail "remove ch"
S remove --state "$DB" qingcloud --account QKEY demo-channel >/dev/null || fail "remove qc"

# a file held by a running recwatch: refused at once, with the reason
cat >"$T/hold.lua" <<'LUA'
require("rec.store").open()
local f = io.open(arg[1], "w") f:write("up") f:close()
rec.sleep(60)
LUA
"$RECWATCH" run --state "$DB" "$T/hold.lua" "$T/up" >/dev/null 2>&1 &
RUN_PID=$!
for _ in $(seq 100); do [ -f "$T/up" ] && break; sleep 0.1; done
[ -f "$T/up" ] || fail "the holder did not start"
bad "a file in use" add --state "$DB" $A --resourceid r --sid s
grep -qi "in use\|locked" "$T/e" || fail "says why: $(cat "$T/e")"
kill "$RUN_PID"; wait "$RUN_PID" 2>/dev/null; RUN_PID=

# the example watches what was added: the failure alerted once; healthy polled too
"$RECWATCH" run --sim --virtual-time --until 40 --state "$DB" "$SRC/examples/fleet.lua" >"$T/run" 2>&1 \
  || fail "run: $(tail -5 "$T/run")"
n=$(grep -c "kind=fleet_session_watched" "$T/run")
[ "$n" = 2 ] || fail "2 sessions watched, got $n"
n=$(grep -c "sim: webhook received:.*sid-abnormal exited abnormally" "$T/run")
[ "$n" = 1 ] || fail "one alert for sid-abnormal, got $n"
grep -q 'alert_id":"agora:sim-agora-customer/agora/sim-agora-app/sim-resource-abnormal/sid-abnormal/change@' "$T/run" \
  || fail "the alert's stable id names the unit"

# removed while stopped: the next run does not watch it
S remove --state "$DB" agora --account sim-agora-customer healthy >/dev/null || fail "remove healthy"
"$RECWATCH" run --sim --virtual-time --until 20 --state "$DB" "$SRC/examples/fleet.lua" >"$T/run2" 2>&1 \
  || fail "run 2: $(tail -5 "$T/run2")"
grep -q "session/healthy watched" "$T/run2" && fail "the removed session is watched"
grep -q "session/sid-abnormal watched" "$T/run2" || fail "the other one is not"
grep -q "sim: webhook received" "$T/run2" && fail "alerted again after the restart"
echo "fleet_sessions_cli ok"
