# /healthz staleness follows the monotonic clock (issue 20, item 14): a forward step of the
# wall clock by an hour (an LD_PRELOAD shim moves gettimeofday/clock_gettime(REALTIME), as an
# NTP step or a resumed VM does) between two polls of a watcher (every 30 s) leaves /healthz at 200, and no
# watcher stale; /status's wall times do move (so the shim works and the test can fail).
. "${HELPERS:?}/ops_lib.sh"
command -v curl >/dev/null || fail "curl is needed"
CC=${CC:-cc}
command -v "$CC" >/dev/null || fail "a C compiler is needed to build the wall-clock shim"
"$CC" -shared -fPIC -o "$T/wallstep.so" "$HELPERS/wallstep.c" -ldl || fail "cannot build the shim"

cat > "$T/watch.lua" <<'LUA'
local watch = require "rec.watch"
watch.qingcloud{ app_id = "demo-app", channel = "healthy-channel", every = 30, stale_after = 60 }
rec.sleep(600)
LUA
: >"$T/step"
export WALLSTEP_FILE="$T/step"
# an ASan build wants its runtime first; the shim only wraps libc's clocks
LD_PRELOAD="$T/wallstep.so" ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
  rw_start run --sim --listen 127.0.0.1:0 "$T/watch.lua"
healthy() { [ "$(code /healthz)" = 200 ] && grep -qx ok "$T/body"; }
wall() { code /status >/dev/null && python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["time"]))' "$T/body"; }
good() { code /status >/dev/null && grep -q '"state":"ok"' "$T/body"; }
wait_for 10 good || fail "the watcher never polled well: $(cat "$T/body")"
healthy || fail "not healthy at first: $(cat "$T/body")"
before=$(wall)
echo 3600 >"$T/step"   # the wall clock jumps an hour ahead
moved() { [ "$(wall)" -ge $(( before + 3000 )) ]; }
wait_for 5 moved || fail "the shim did not move the wall clock: $(cat "$T/body")"
sleep 2.5   # more than two beats (/healthz is published every second), long before the next poll
for i in 1 2 3 4 5; do
  healthy || fail "a forward wall-clock step made /healthz fail: $(cat "$T/body")"
  sleep 0.3
done
code /metrics >/dev/null
grep -q '^recwatch_watchers{state="stale"} 0' "$T/body" || fail "stale gauge after the step: $(grep recwatch_watchers "$T/body")"
grep -q 'kind=watcher_stale' "$T/rw.err" && fail "a watcher_stale line after the step"
kill "$RW_PID"; wait "$RW_PID"; st=$?; RW_PID=
[ $st = 0 ] || fail "exit status $st"
echo "ops_wall_step ok"
