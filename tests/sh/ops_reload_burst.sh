# A burst of SIGHUPs (issue 20, item 13): a SIGHUP that comes while a reload is under way is
# queued, not a failed reload. 2,000 harmless signals count no reloads_total{result="failed"}
# (which fires RecwatchReloadFailed), the process lives on, and the script that runs in the
# end is the file as it was at the last SIGHUP.
. "${HELPERS:?}/ops_lib.sh"

version() {
  cat <<LUA
local watch = require "rec.watch"
rec.configure{ max_busy = 5 }
rec.spawn(function() rec.sleep(0.05) end)  -- a task that is still waiting when a reload comes
rec.every(0.05, function() print("tick $1") io.stdout:flush() end)
rec.sleep(600)
LUA
}
version v1 >"$T/w.lua"
rw_start run --listen 127.0.0.1:0 "$T/w.lua"
wait_for 5 grep -q "^tick v1" "$T/rw.out" || fail "v1 did not start"
for i in $(seq 1000); do kill -HUP "$RW_PID" 2>/dev/null || { wait "$RW_PID"; st=$?; RW_PID=; fail "the process ended during the burst (status $st, signal $i)"; }; done
version v2 >"$T/w.new" && mv "$T/w.new" "$T/w.lua"  # in place at once, as operations.md advises
for i in $(seq 1000); do kill -HUP "$RW_PID" 2>/dev/null || { wait "$RW_PID"; st=$?; RW_PID=; fail "the process ended during the burst (status $st, signal $i)"; }; done
wait_for 10 grep -q "^tick v2" "$T/rw.out" || fail "the last version never ran"
# let whatever is queued finish: no reload line for a while, then count
settled() {
  local a b
  a=$(grep -c "reload" "$T/rw.err"); sleep 0.5; b=$(grep -c "reload" "$T/rw.err")
  [ "$a" = "$b" ]
}
wait_for 20 settled || fail "reloads never settled"
kill -0 "$RW_PID" || fail "the process ended"
code /metrics >/dev/null
grep -q '^recwatch_reloads_total{result="failed"} 0$' "$T/body" \
  || fail "SIGHUPs during a reload counted as failed: $(grep 'reloads_total{' "$T/body")"
ok=$(sed -n 's/^recwatch_reloads_total{result="ok"} //p' "$T/body")
[ "${ok:-0}" -ge 2 ] || fail "expected at least 2 reloads, got ${ok:-none}"
grep -q "reload failed" "$T/rw.err" && fail "a reload failed: $(grep 'reload failed' "$T/rw.err" | head -3)"
grep -q '"level":"error"\| error ' "$T/rw.err" && fail "errors in the log: $(grep ' error ' "$T/rw.err" | head -3)"
lines=$(grep -c "SIGHUP during a reload: queued" "$T/rw.err")
[ "$lines" -le "$ok" ] || fail "one log line per queued SIGHUP ($lines lines for $ok reloads)"
tail -1 "$T/rw.out" | grep -q "^tick v2" || fail "the last version is not the one running"
kill -TERM "$RW_PID"; wait "$RW_PID"; st=$?; RW_PID=
[ $st = 0 ] || fail "exit status $st after SIGTERM"
echo "ops_reload_burst ok (reloads: $ok ok)"
