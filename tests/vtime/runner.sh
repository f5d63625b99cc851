# `recwatch test` never passes a failing suite, and never hangs (issue 20, item 7): a case
# that calls os.exit is a failed result and the runner goes on; os.exit in a started script
# is that script's exit status (p:exited()); a runaway case (an endless __gc, a script that
# lifted max_busy) fails on its bound and the runner goes on; a failed task or callback
# fails its case unless declared (item 21). Every run sits under an outer
# `timeout`, so a hang fails this test instead of hanging ctest.
set -eu
D="$SRC/tests/vtime/runner"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
run() {  # run NAME ARGS...: TAP in $T/NAME.tap, exit status in $T/NAME.rc
  local name=$1 rc=0
  shift
  timeout 100 "$RECWATCH" test "$@" >"$T/$name.tap" 2>"$T/$name.err" || rc=$?
  echo $rc >"$T/$name.rc"
  cat "$T/$name.tap"
  test $rc != 124 || { echo "FAIL: recwatch test $* hung"; exit 1; }
}
expect() {  # expect NAME LINE...: every LINE is a whole line of $T/NAME.tap
  local name=$1 line
  shift
  for line in "$@"; do
    grep -qxF -- "$line" "$T/$name.tap" || { echo "FAIL: $name: no line '$line'"; exit 1; }
  done
}

# 1. os.exit(0) in the first of 3 cases: 3 results, exit status 1
run exit "$D/exit_test.lua"
test "$(cat "$T/exit.rc")" = 1 || { echo "FAIL: exit status $(cat "$T/exit.rc"), want 1"; exit 1; }
expect exit '1..3' 'not ok 1 - os.exit(0) in a case' 'ok 2 - a case after it runs' \
  'not ok 3 - a failing case after it is reported'
grep -q '^#   the case called os.exit(0)' "$T/exit.tap"
grep -q '^# 3 case(s), 2 failed' "$T/exit.tap"
test "$(grep -c '^\(not \)\?ok ' "$T/exit.tap")" = 3

# 2. os.exit in started scripts: their statuses, and every case runs
run started "$D/started_exit_test.lua"
test "$(cat "$T/started.rc")" = 0 || { echo "FAIL: exit status $(cat "$T/started.rc"), want 0"; exit 1; }
expect started '1..3' 'ok 1 - os.exit in a started script is its exit status' \
  'ok 2 - the case goes on after the scripts exit' 'ok 3 - a third case runs'

# 3. runaways fail on their bound, and the runner goes on
run runaway --timeout 3 "$D/runaway_test.lua"
test "$(cat "$T/runaway.rc")" = 1 || { echo "FAIL: exit status $(cat "$T/runaway.rc"), want 1"; exit 1; }
expect runaway '1..6' \
  'not ok 1 - an endless __gc the collector finds during the case' \
  'ok 2 - a case after the endless __gc runs' \
  'not ok 3 - an endless __gc still reachable when the case ends' \
  'not ok 4 - an endless __gc in a started script' \
  'not ok 5 - a started script with max_busy = 0 that never waits' \
  'ok 6 - the last case runs'

# 4. a failed task or watcher callback fails its case, unless declared (as tests/lua/ do)
run errors "$D/task_errors_test.lua"
test "$(cat "$T/errors.rc")" = 1 || { echo "FAIL: exit status $(cat "$T/errors.rc"), want 1"; exit 1; }
expect errors '1..7' \
  'not ok 1 - a task of a started script fails' \
  'ok 2 - declared: one task error on purpose' \
  'not ok 3 - declared one, but there are two' \
  'ok 4 - a script whose main task fails shows it in p:exited()' \
  'not ok 5 - a task of the case itself fails' \
  'ok 6 - declared in the case' \
  'ok 7 - killed after its error: still counted, and declared'
grep -q '^#   task_error.lua: 1 task(s) or callback(s) failed, 0 expected' "$T/errors.tap"
echo ok
