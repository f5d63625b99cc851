# SIGTERM while a watcher's callback waits (a lookup before it alerts): the transition is not
# recorded, since the callback never queued its alert; the next run sees the transition again,
# runs the callback to its end, and the alert is queued once. Before the fix the state was
# committed without the alert, and the alert was lost for good with exit status 0.
set -u
T=$(mktemp -d)
RW=
trap 'kill $RW 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/log1" "$T/log2" 2>/dev/null; exit 1; }

cat >"$T/w.lua" <<'LUA'
local watch, notify = require "rec.watch", require "rec.notify"
local out = notify.outbox{ to = notify.log{ name = "log" } }
rec.query_qingcloud = function() return { recinfos = { { id = 1, status = 52 } }, total_count = 1 } end
watch.qingcloud{ app_id = "a", channel = "c", every = 0.2, outbox = out, on_change = function(t, old)
  rec.log.info("on_change BEGIN %s -> %s", tostring(old), tostring(t.status))
  local ok = rec.sleep(tonumber(arg[1]))             -- a lookup before alerting
  if ok then out:alert("task %s failed", tostring(t.id)) end
end }
LUA
"$RECWATCH" run --state "$T/st.db" "$T/w.lua" 30 2>"$T/log1" &
RW=$!
for _ in $(seq 200); do grep -q "on_change BEGIN" "$T/log1" && break; sleep 0.05; done
grep -q "on_change BEGIN" "$T/log1" || fail "the callback never ran"
kill -TERM $RW; wait $RW; st=$?; RW=
[ $st = 0 ] || fail "SIGTERM: exit status $st"
# the next run: the callback runs again (the transition was not recorded) and alerts once
timeout 20 "$RECWATCH" run --state "$T/st.db" "$T/w.lua" 0.01 2>"$T/log2" &
RW=$!
for _ in $(seq 200); do grep -q "ALERT delivered" "$T/log2" && break; sleep 0.05; done
kill -TERM $RW 2>/dev/null; wait $RW; RW=
grep -q "on_change BEGIN nil -> 52" "$T/log2" || fail "the interrupted transition was recorded: the callback did not run again"
[ "$(grep -c 'ALERT delivered.*task 1 failed' "$T/log2")" = 1 ] || fail "the alert was not delivered exactly once"
echo "watch_cancel_callback ok"
