# The listener: /metrics passes promtool and carries the query counters; /status lists the
# watcher; /healthz turns 503 (naming the stale watcher) while the API fails longer than
# stale_after, and back to 200 when polls succeed again; it reports a stuck main loop from
# its own thread (and /status then serves the last document with its age); SIGUSR1 writes the
# status to the log; unknown paths 404, POST 405.
. "${HELPERS:?}/ops_lib.sh"
command -v curl >/dev/null || fail "curl is needed"

cat > "$T/scenario.lua" <<'LUA'
-- every QingCloud request fails with a 500 from 3 s to 7 s of sim time
return { faults = { { provider = "qingcloud", kind = "500_html", after = 3, before = 7 } } }
LUA
cat > "$T/watch.lua" <<'LUA'
local watch = require "rec.watch"
rec.configure{ qingcloud = { retries = 0 } }
watch.qingcloud{ app_id = "demo-app", channel = "demo-channel", every = 0.3, stale_after = 1.5 }
rec.sleep(14)
rec.exit(0)
LUA
rw_start run --sim --scenario "$T/scenario.lua" --listen 127.0.0.1:0 "$T/watch.lua"

healthy() { [ "$(code /healthz)" = 200 ] && grep -qx ok "$T/body"; }
stale() { [ "$(code /healthz)" = 503 ] && grep -q "watcher qingcloud/demo-app/demo-channel is stale" "$T/body"; }
wait_for 3 healthy || fail "/healthz not 200 at first: $(cat "$T/body")"

# /metrics: the format promtool accepts, the counters moved
[ "$(code /metrics)" = 200 ] || fail "/metrics status"
if command -v promtool >/dev/null; then
  promtool check metrics <"$T/body" || fail "promtool check metrics: $(promtool check metrics <"$T/body" 2>&1)"
elif [ "${CI:-}" = true ]; then
  fail "promtool missing (Debian package prometheus, .ci/deps)"
fi
grep -q '^recwatch_provider_requests_total{provider="qingcloud",outcome="ok"} [1-9]' "$T/body" || fail "ok counter"
for m in recwatch_provider_request_duration_seconds_bucket recwatch_pacing_wait_seconds_count \
         recwatch_outbox_pending recwatch_watchers recwatch_tasks recwatch_lua_memory_bytes \
         'recwatch_build_info{version=' process_cpu_seconds_total process_resident_memory_bytes \
         process_start_time_seconds process_open_fds 'recwatch_alerts_total{state="queued"}'; do
  grep -q "^$m" "$T/body" || fail "/metrics lacks $m"
done

# /status (published by the main loop every second): the watcher with its fields
has_watcher() { [ "$(code /status)" = 200 ] && grep -q '"key":"qingcloud/demo-app/demo-channel"' "$T/body"; }
wait_for 3 has_watcher || fail "/status has no watcher: $(cat "$T/body")"
python3 - "$T/body" <<'PY' || fail "/status document: $(cat "$T/body")"
import json, sys
d = json.load(open(sys.argv[1]))
w = [x for x in d["watchers"] if x["key"] == "qingcloud/demo-app/demo-channel"]
assert w, d
w = w[0]
assert w["provider"] == "qingcloud" and w["state"] == "ok", w
assert w["last_good_poll"] > 1e9 and w["next_poll"] > 1e9, w
for k in ("uptime_seconds", "outbox", "pacing", "tasks", "healthy"):
    assert k in d, k
assert d["pacing"]["qingcloud"]["queue"] >= 0
assert 0 <= d["snapshot_age_seconds"] < 0.9, d["snapshot_age_seconds"]  # built for this request
PY

# the API fails from 3 s: stale after 1.5 s more; healthy again once it answers (7 s)
wait_for 8 stale || fail "/healthz never said the watcher is stale: $(cat "$T/body")"
grep -q "last error: server" "$T/body" || fail "reason lacks the last error: $(cat "$T/body")"
code /metrics >/dev/null
grep -q '^recwatch_watchers{state="stale"} 1' "$T/body" || fail "stale gauge"
grep -q '^recwatch_provider_requests_total{provider="qingcloud",outcome="server"} [1-9]' "$T/body" || fail "server counter"
wait_for 6 healthy || fail "/healthz not back to 200: $(cat "$T/body")"
# the watcher's warning carries its keys as key=value fields (text logs)
grep -q 'kind=watcher_error watcher=qingcloud/demo-app/demo-channel error=server .* app=demo-app channel=demo-channel provider=qingcloud$' "$T/rw.err" \
  || fail "no structured fields on the watcher's warning: $(grep watcher_error "$T/rw.err" | head -2)"

kill -USR1 "$RW_PID"
wait_for 3 grep -q '"watchers":\[{"key":"qingcloud/demo-app/demo-channel"' "$T/rw.err" || fail "SIGUSR1 status in the log"
kill -0 "$RW_PID" || fail "SIGUSR1 killed recwatch"
[ "$(code /nope)" = 404 ] || fail "404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/metrics")" = 405 ] || fail "405"
kill "$RW_PID"; wait "$RW_PID"; st=$?; RW_PID=
[ $st = 0 ] || fail "exit status $st after SIGTERM (the listener thread, sanitizers)"

# a main loop busy for 8 s is reported stuck by the listener thread, then healthy again
cat > "$T/busy.lua" <<'LUA'
rec.configure{ stuck_after = 1 }
rec.sleep(1.5)
print("busy loop")
io.stdout:flush()
local t = rec.now()
while rec.now() - t < 8 do end
t = rec.now()
while rec.now() - t < 3 do rec.sleep(0.2) end  -- (one rec.sleep(3) right after a busy loop ends early)
LUA
rw_start run --listen 127.0.0.1:0 "$T/busy.lua"
wait_for 3 healthy || fail "busy: not healthy at first"
[ "$(code /status)" = 200 ] || fail "busy: /status at first"
stuck() { [ "$(code /healthz)" = 503 ] && grep -q "main loop stuck" "$T/body"; }
# only once the loop is busy: a slow start on a loaded machine can look stuck for a moment
wait_for 10 grep -q "busy loop" "$T/rw.out" || fail "the busy loop did not start"
wait_for 5 stuck || fail "busy loop not reported stuck: $(cat "$T/body")"
# /status from a stuck loop: the last document, within its 1 s wait, saying how old it is
[ "$(curl -s -o "$T/st" -w '%{http_code}' --max-time 3 "$URL/status")" = 200 ] || fail "/status while stuck"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["snapshot_age_seconds"] > 1 and "watchers" in d else 1)' "$T/st" \
  || fail "/status while stuck is not the old document with its age: $(cat "$T/st")"
# /healthz does not wait behind /status
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$URL/healthz")" = 503 ] || fail "/healthz while stuck"
wait_for 8 healthy || fail "not healthy after the busy loop: $(cat "$T/body")"
echo "ops_health ok"
