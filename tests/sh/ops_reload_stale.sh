# A reload does not reset staleness (issue 20, item 1): a watcher that fails every poll,
# with stale_after = 4, reloaded every 3 s, still goes stale: /healthz says 503 naming it,
# a kind=watcher_stale line appears once (the new scripts say it is still stale instead of
# alerting again), /status keeps one entry for it, and SIGTERM gives exit status 3. The
# registry keeps the time of the last good poll over the reload, both in C (/healthz) and for
# the Lua side's `since`. A watcher the new script no longer has leaves /status and /healthz.
. "${HELPERS:?}/ops_lib.sh"
command -v curl >/dev/null || fail "curl is needed"

cat > "$T/scenario.lua" <<'LUA'
return { faults = { { provider = "qingcloud", kind = "500_html" } } }  -- every poll fails
LUA
cat > "$T/w.lua" <<'LUA'
local watch = require "rec.watch"
rec.configure{ qingcloud = { retries = 0 } }
watch.qingcloud{ app_id = "demo-app", channel = "demo-channel", every = 0.5, stale_after = 4 }
rec.sleep(600)
LUA
rw_start run --sim --scenario "$T/scenario.lua" --listen 127.0.0.1:0 "$T/w.lua"
reloads() { grep -c 'reload done' "$T/rw.err"; }
reloaded() { [ "$(reloads)" -ge "$1" ]; }
stale() { [ "$(code /healthz)" = 503 ] && grep -q "watcher qingcloud/demo-app/demo-channel is stale" "$T/body"; }
wait_for 10 grep -q 'kind=watcher_error' "$T/rw.err" || fail "the watcher never polled"
start=$(date +%s.%N)
for i in 1 2 3 4; do   # one SIGHUP every 3 s, each once the previous reload is done
  sleep 3
  kill -HUP "$RW_PID"
  wait_for 10 reloaded "$i" || fail "reload $i not done"
done
# every watcher of every generation has been failing for more than 4 s since the first start
python3 -c 'import sys, time; sys.exit(0 if time.time() - float(sys.argv[1]) > 9 else 1)' "$start" \
  || fail "the reloads came too fast"
wait_for 3 stale || fail "/healthz does not say stale after 4 reloads: $(code /healthz) $(cat "$T/body")"
[ "$(code /status)" = 200 ] || fail "/status"
python3 - "$T/body" <<'PY' || fail "/status after the reloads: $(cat "$T/body")"
import json, sys
d = json.load(open(sys.argv[1]))
w = [x for x in d["watchers"] if x["key"] == "qingcloud/demo-app/demo-channel"]
assert len(w) == 1 and len(d["watchers"]) == 1, d["watchers"]
assert w[0]["state"] == "stale" and w[0]["last_good_poll"] is None, w
assert d["healthy"] is False, d
PY
[ "$(grep -c 'kind=watcher_stale ' "$T/rw.err")" = 1 ] \
  || fail "watcher_stale lines: $(grep -c 'kind=watcher_stale ' "$T/rw.err") (want exactly 1)"
grep -q 'kind=watcher_still_stale watcher=qingcloud/demo-app/demo-channel' "$T/rw.err" \
  || fail "the reloaded script did not take over the stale state"
kill "$RW_PID"; wait "$RW_PID"; st=$?; RW_PID=
[ $st = 3 ] || fail "exit status $st after SIGTERM with a stale watcher (want 3)"

# a reload to a script without that watcher: it leaves /status and /healthz (not falsely loud)
rw_start run --sim --scenario "$T/scenario.lua" --listen 127.0.0.1:0 "$T/w.lua"
wait_for 10 grep -q 'kind=watcher_error' "$T/rw.err" || fail "phase 2: the watcher never polled"
printf 'rec.sleep(600)\n' > "$T/w.lua"
kill -HUP "$RW_PID"
wait_for 10 reloaded 1 || fail "phase 2: no reload"
sleep 5   # more than stale_after: the old watcher would be stale now
healthy() { [ "$(code /healthz)" = 200 ] && grep -qx ok "$T/body"; }
wait_for 3 healthy || fail "a watcher the new script dropped still counts: $(cat "$T/body")"
[ "$(code /status)" = 200 ] && grep -q '"watchers":\[\]' "$T/body" || fail "phase 2 /status: $(cat "$T/body")"
kill "$RW_PID"; wait "$RW_PID"; st=$?; RW_PID=
[ $st = 0 ] || fail "phase 2: exit status $st"
echo "ops_reload_stale ok"
