# SIGHUP reloads the script in a fresh Lua state on the same state file and outbox:
# a watcher mid-transition (its callback still waiting when the reload comes) records nothing,
# since its callback may not have queued its alert yet; the new script sees that transition
# again and runs its callbacks with the same alert ids, and misses nothing after it; each
# alert reaches the webhook once. A new script that does not compile leaves the old one
# running; one that fails at start-up after its first side effect (which the validation
# before a reload cannot see past, see ops_reload_validate.sh) is reported as a failed
# reload and ends the run with status 1. SIGTERM while a reload waits for the old tasks stops the process.
. "${HELPERS:?}/ops_lib.sh"

cat > "$T/scenario.lua" <<'LUA'
return {
  qingcloud_tasks = {
    { app_id = "app", channel = "ch", id = 7, timeline = { {0, 1}, {1.5, 52} } },
    { app_id = "app", channel = "ch", id = 8, timeline = { {0, 1}, {6, 52} } },
  },
}
LUA
script() {  # script VERSION: the watcher script, saying which version handled what
  cat <<LUA
local watch, notify = require "rec.watch", require "rec.notify"
local out = notify.outbox{ to = notify.webhook_sender{ url = rec.sim.webhook_url }, every = 0.2 }
watch.qingcloud{ app_id = "app", channel = "ch", every = 0.3, on_status = { [52] = function(t)
  print("$1 handling " .. t.id)
  io.stdout:flush()
  local ok, err = rec.sleep(t.id == 7 and 5 or 0)   -- a slow callback: the reload comes now
  out:alert{ text = ("task %d failed ($1)"):format(t.id), task_id = t.id, channel = "ch" }
end } }
rec.every(0.2, function() print("tick $1") io.stdout:flush() end)
rec.sleep(120)
LUA
}
script v1 >"$T/w.lua"
rw_start --log-format json run --sim --scenario "$T/scenario.lua" --state "$T/state.db" \
  --listen 127.0.0.1:0 "$T/w.lua"
wait_for 8 grep -q "v1 handling 7" "$T/rw.out" || fail "v1 never saw task 7 fail"

script v2 >"$T/w.lua"
kill -HUP "$RW_PID"
wait_for 8 grep -q '"msg":"reload done"' "$T/rw.err" || fail "no reload"
wait_for 10 grep -q "v2 handling 8" "$T/rw.out" || fail "v2 never saw task 8 fail (lost transition)"
wait_for 5 grep -q 'task 8 failed (v2)' "$T/rw.err" || fail "task 8 alert not delivered"
wait_for 5 grep -q 'webhook received.*task 7 failed (v2)' "$T/rw.err" || fail "task 7 alert not delivered (lost with the reload)"
grep -q 'webhook received.*task 7 failed (v1)' "$T/rw.err" && fail "v1's interrupted callback got its alert out"
grep -q "v2 handling 7" "$T/rw.out" || fail "v2 did not run the interrupted transition of task 7 again"
[ "$(grep -c 'webhook received.*task 7 failed' "$T/rw.err")" = 1 ] || fail "task 7 alert not delivered exactly once"
[ "$(grep -c 'webhook received.*task 8 failed' "$T/rw.err")" = 1 ] || fail "task 8 alert not delivered exactly once"
grep -E '"level":"error"' "$T/rw.err" && fail "errors in the log"
# structured fields of the outbox's log lines
grep '"msg":"ALERT delivered' "$T/rw.err" | grep -q '"alert_id":"[^"]*".*"kind":"webhook".*"task_id":7' \
  || fail "delivery log lacks its fields: $(grep 'ALERT delivered' "$T/rw.err")"

# a broken new script: logged, the running one goes on
printf 'local x = = 1\n' >"$T/w.lua"
before=$(grep -c "tick v2" "$T/rw.out")
kill -HUP "$RW_PID"
wait_for 5 grep -q 'reload failed, the running script goes on: .*w.lua:1:' "$T/rw.err" || fail "broken script not reported"
sleep 1
kill -0 "$RW_PID" || fail "recwatch died on a broken reload"
[ "$(grep -c "tick v2" "$T/rw.out")" -gt "$before" ] || fail "the old script stopped running"
grep -q "tick v1" "$T/rw.out" && [ "$(tail -1 "$T/rw.out")" = "tick v1" ] && fail "v1 came back"
# the reloads are counted; the listener and the counters outlived both
code /metrics >/dev/null
grep -q '^recwatch_reloads_total{result="ok"} 1$' "$T/body" || fail "ok reload not counted: $(grep reloads "$T/body")"
grep -q '^recwatch_reloads_total{result="failed"} 1$' "$T/body" || fail "failed reload not counted"
grep -q '^recwatch_provider_requests_total{provider="qingcloud",outcome="ok"} [1-9]' "$T/body" || fail "counters lost"
kill -TERM "$RW_PID"; wait "$RW_PID"; st=$?; RW_PID=
[ $st = 0 ] || fail "exit status $st after SIGTERM"

# a new script that compiles but raises at start-up: a failed reload, loudly, and exit 1
printf 'print("up") io.stdout:flush() rec.sleep(60)\n' >"$T/ok.lua"
rw_start run --listen 127.0.0.1:0 "$T/ok.lua"
wait_for 5 grep -q "^up" "$T/rw.out" || fail "ok.lua did not start"
printf 'rec.spawn(function() end)\nerror("broken configuration in the new version")\n' >"$T/ok.lua"
kill -HUP "$RW_PID"
wait "$RW_PID"; st=$?; RW_PID=
[ $st = 1 ] || fail "a reload whose script fails at start-up: exit status $st"
grep -q 'reload failed: the new script raised an error at start-up' "$T/rw.err" || fail "failed start-up not reported as a failed reload: $(cat "$T/rw.err")"
grep -q 'reload done' "$T/rw.err" && fail "a failed start-up was reported as 'reload done'"

# the same with a task the new script started before its error that would live on (as the
# outbox of every example does): the run still ends with 1, it does not go on watching
# nothing while /healthz says ok
printf 'print("up") io.stdout:flush() rec.sleep(60)\n' >"$T/ok.lua"
rw_start run --listen 127.0.0.1:0 "$T/ok.lua"
wait_for 5 grep -q "^up" "$T/rw.out" || fail "ok.lua did not start (2)"
printf 'rec.spawn(function() rec.sleep(3600) end)\nerror("broken after its first side effect")\n' >"$T/ok.lua"
kill -HUP "$RW_PID"
wait_for 10 sh -c "! kill -0 $RW_PID 2>/dev/null" || fail "a failed start-up with a live task left the process running"
wait "$RW_PID"; st=$?; RW_PID=
[ $st = 1 ] || fail "a failed start-up with a live task: exit status $st"

# SIGTERM while a reload waits for the old tasks: the stop wins, no new script starts
cat > "$T/slow.lua" <<'LUA'
rec.spawn(function()
  rec.sleep(60)                                  -- cancelled by the reload
  local t = rec.now() while rec.now() - t < 3 do end   -- then slow to finish
end)
print("slow up") io.stdout:flush()
rec.sleep(60)
LUA
rw_start run --state "$T/slow.db" "$T/slow.lua"
wait_for 5 grep -q "slow up" "$T/rw.out" || fail "slow.lua did not start"
kill -HUP "$RW_PID"
wait_for 5 grep -q "stopping (reload)" "$T/rw.err" || fail "no reload started"
kill -TERM "$RW_PID"; wait "$RW_PID"; st=$?; RW_PID=
[ $st = 0 ] || fail "SIGTERM during a reload: exit status $st"
grep -q "stopping (SIGTERM) instead of reloading" "$T/rw.err" || fail "the stop did not win: $(cat "$T/rw.err")"
grep -q "reload done" "$T/rw.err" && fail "a new script started after SIGTERM"
[ "$(grep -c "slow up" "$T/rw.out")" = 1 ] || fail "the script ran again"
echo "ops_reload ok"
