# watch.set{ file = } across a reload (SIGHUP) on the real clock: the old script's file watch
# is closed with its Lua state, the new script's set reads the file and sees later edits; a
# bad edit fails /healthz naming the set and its reason (503), a good one brings 200 back.
. "${HELPERS:?}/ops_lib.sh"
command -v curl >/dev/null || fail "curl is needed"

echo '[{"app_id": "demo-app", "channel": "demo-channel", "every": 1}]' >"$T/sessions.json"
cat >"$T/watch.lua" <<'LUA'
local watch = require "rec.watch"
watch.set{ provider = "qingcloud", file = arg[1], name = "sessions", settle = 0.05 }
LUA
rw_start run --sim --listen 127.0.0.1:0 "$T/watch.lua" "$T/sessions.json"
changed() { [ "$(grep -c 'kind=watch_set_changed set=sessions' "$T/rw.err")" -ge "$1" ]; }
wait_for 20 changed 1 || fail "no first read"
kill -HUP "$RW_PID"
wait_for 20 grep -q "reload" "$T/rw.err" || fail "no reload in the log"
wait_for 20 changed 2 || fail "the reloaded script did not read the file"
echo '[{"app_id": "demo-app", "channel": "healthy-channel", "every": 1}]' >"$T/sessions.json.new"
mv "$T/sessions.json.new" "$T/sessions.json"
wait_for 20 grep -q 'kind=watch_set_removed set=sessions session=demo-app/demo-channel' "$T/rw.err" \
  || fail "an edit after the reload was not seen"
echo 'oops' >"$T/sessions.json"
bad() { [ "$(code /healthz)" = 503 ] && grep -q 'watch set sessions refused (not_json)' "$T/body"; }
wait_for 20 bad || fail "/healthz after a bad edit: $(cat "$T/body")"
echo '[{"app_id": "demo-app", "channel": "healthy-channel", "every": 1}]' >"$T/sessions.json"
good() { [ "$(code /healthz)" = 200 ]; }
wait_for 20 good || fail "/healthz after the fix: $(cat "$T/body")"
kill -TERM "$RW_PID"
wait "$RW_PID"
rc=$?
RW_PID=
[ "$rc" = 0 ] || fail "exit status $rc"
echo ok
