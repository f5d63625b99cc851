# Script callbacks that never return, where no task's max_busy reaches: an error object's
# __tostring, a __gc, a loop that runs while SIGTERM arrives (with max_busy off), a loop
# inside a C boundary or a failed task's __close handler, a finalizer that hangs the
# teardown. Each one ends, with a message:
# the callback is bounded, the first signal interrupts, the watchdog ends the teardown, and
# a second signal always exits at once.
set -u
: "${RECWATCH:?}"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $* ($(date +%T.%N))" >&2; [ -f "$T/e" ] && cat "$T/e" >&2; exit 1; }
# starts "$RECWATCH run FILE" in the background with fresh output files; sets pid
start() {
  rm -f "$T/o" "$T/e"  # a stale "ready" from the previous run must not be read
  "$RECWATCH" run "$1" >"$T/o" 2>"$T/e" &
  pid=$!
}

# waits up to $2 tenths of a second for pid $1 to end; fails (and kills it) otherwise
wait_end() {
  local i
  for i in $(seq "$2"); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$1" 2>/dev/null; then
    ps -o pid,stat,etime,cmd -p "$1" >&2
    kill -9 "$1"; wait "$1" 2>/dev/null; fail "$3: still running after $(($2 / 10)) s"
  fi
  wait "$1"
}
wait_ready() {
  local i
  for i in $(seq 100); do grep -q ready "$T/o" 2>/dev/null && return; sleep 0.05; done
  fail "$1: never ready"
}

# 1. an error object whose __tostring never returns: the task's failure is still reported
cat >"$T/tostring.lua" <<'LUA'
rec.spawn(function() rec.sleep(0.2); print("other task ran") end)
error(setmetatable({}, { __tostring = function() while true do end end }))
LUA
start "$T/tostring.lua"
wait_end $pid 100 "__tostring"
status=$?
[ $status -eq 1 ] || fail "__tostring: exit status $status"
grep -q "did not finish within 1 s" "$T/e" || fail "__tostring: no message"
grep -q "other task ran" "$T/o" || fail "__tostring: the other task was frozen"

# 2. a finalizer that loops for ever: ended by max_busy, every other task goes on
cat >"$T/gc.lua" <<'LUA'
rec.configure{ max_busy = 0.3 }
do setmetatable({}, { __gc = function() while true do end end }) end
collectgarbage()
collectgarbage()
local ok = rec.sleep(0.5)
print("after the finalizer: " .. tostring(ok))
LUA
start "$T/gc.lua"
wait_end $pid 100 "__gc"
status=$?
[ $status -eq 0 ] || fail "__gc: exit status $status"
grep -q "after the finalizer: true" "$T/o" || fail "__gc: the script was frozen"
grep -q "finalizer (__gc) failed.*ran for more than 0.3 s" "$T/e" || fail "__gc: no message"

# 3. SIGTERM while a task loops without waiting and max_busy is off: it stops
cat >"$T/loop.lua" <<'LUA'
rec.configure{ max_busy = 0 }
print("ready")
io.stdout:flush()
local n = 0
while true do n = n + 1 end
LUA
start "$T/loop.lua"
wait_ready "loop"
kill -TERM $pid
wait_end $pid 80 "SIGTERM in a loop"
grep -q "stopping (SIGTERM)" "$T/e" || fail "loop: the signal was not seen"
grep -q "still running 1 s after the stop request" "$T/e" || fail "loop: no message"

# 4. a loop inside a C boundary (a sort comparator): interrupted by the first signal
cat >"$T/sort.lua" <<'LUA'
rec.configure{ max_busy = 0 }
print("ready")
io.stdout:flush()
table.sort({ 3, 2, 1 }, function(a, b) while true do end end)
LUA
start "$T/sort.lua"
wait_ready "sort"
kill -TERM $pid
wait_end $pid 80 "SIGTERM in a comparator"
grep -q "interrupted by SIGTERM" "$T/e" || fail "sort: no message"

# 4b. a failed task's __close handler that never returns, max_busy off: SIGTERM interrupts
#     it like any task code (its thread was unguarded while the task was torn down)
cat >"$T/close.lua" <<'LUA'
rec.configure{ max_busy = 0 }
print("ready")
io.stdout:flush()
local c <close> = setmetatable({}, { __close = function() while true do end end })
error("boom")
LUA
start "$T/close.lua"
wait_ready "close"
sleep 0.2
kill -TERM $pid
wait_end $pid 60 "SIGTERM in a __close handler"
grep -q "stopping (SIGTERM)" "$T/e" || fail "close: the signal was not seen"
grep -q "still running 8 s" "$T/e" && fail "close: only the watchdog ended it"

# 5. a finalizer that hangs the teardown (Lua runs it with hooks off): a second SIGTERM
#    exits at once; without signals the watchdog ends it
cat >"$T/teardown.lua" <<'LUA'
keep = setmetatable({}, { __gc = function() while true do end end })
print("ready")
io.stdout:flush()
LUA
start "$T/teardown.lua"
wait_ready "teardown"
sleep 0.3
kill -TERM $pid 2>/dev/null
sleep 0.2
kill -TERM $pid 2>/dev/null
wait_end $pid 30 "two SIGTERMs"
status=$?
[ $status -eq 143 ] || fail "two SIGTERMs: exit status $status"
grep -q "second signal: exiting now" "$T/e" || fail "two SIGTERMs: no message"

start "$T/teardown.lua"
wait_end $pid 200 "the watchdog"
status=$?
[ $status -eq 1 ] || fail "watchdog: exit status $status"
grep -q "still running 8 s after the end of the script" "$T/e" || fail "watchdog: no message"
echo "engine_hangs ok"
