# engine_no_guard_thread: when the guard thread (busy monitor and shutdown watchdog) cannot
# start, pthread_create failing, max_busy still ends a task that never waits (tasks then keep
# a count hook), a plain coroutine's loop too, and the warning is said once.
set -u
: "${RECWATCH:?}"
[ -n "${NO_THREADS_SHIM:-}" ] || { echo "no shim in this build (sanitizers): skipped"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cat >"$T/spin.lua" <<'LUA'
rec.configure{ max_busy = 0.3 }
local t = rec.spawn(function() while true do end end)
local ok, err = t:wait()
assert(not ok and tostring(err):find("without waiting"), tostring(err))
rec.configure{ max_busy = 0.2 }
local c = rec.spawn(function() coroutine.wrap(function() while true do end end)() end)
assert(c:wait() == false, "the coroutine's loop was not ended")
print("spin ok")
LUA
LD_PRELOAD="$NO_THREADS_SHIM" timeout 20 "$RECWATCH" run "$T/spin.lua" >"$T/o" 2>"$T/e" ||
  fail "the script did not end by itself ($?): $(tail -3 "$T/e")"
grep -q "spin ok" "$T/o" || fail "no ok line"
[ "$(grep -c 'cannot start the guard thread' "$T/e")" = 1 ] || fail "the warning, once: $(cat "$T/e")"
echo "engine_no_guard_thread ok"
