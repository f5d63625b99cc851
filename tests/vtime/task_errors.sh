# RECWATCH_EXPECT_TASK_ERRORS (issue 20, item 21, "Lua tests"): a failed assert inside a task,
# a rec.every tick or a watcher callback fails a `recwatch run` that would end 0 (the
# project's tests/lua/ run with it); N errors on purpose pass only when there are exactly N;
# without the variable a run's status is what it always was.
set -eu
D="$SRC/tests/vtime/task_errors"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
status() {  # status EXPECT SCRIPT: the exit status of `run --sim --virtual-time` on it
  local rc=0
  if [ "$1" = unset ]; then
    timeout 60 env -u RECWATCH_EXPECT_TASK_ERRORS "$RECWATCH" run --sim --virtual-time --until 60 \
      "$D/$2" >"$T/out" 2>"$T/err" || rc=$?
  else
    timeout 60 env RECWATCH_EXPECT_TASK_ERRORS="$1" "$RECWATCH" run --sim --virtual-time \
      --until 60 "$D/$2" >"$T/out" 2>"$T/err" || rc=$?
  fi
  test $rc != 124 || { echo "FAIL: $2 hung"; exit 1; }
  echo $rc
}
want() {  # want STATUS EXPECT SCRIPT
  local got
  got=$(status "$2" "$3")
  if [ "$got" != "$1" ]; then
    echo "FAIL: $3 with RECWATCH_EXPECT_TASK_ERRORS=$2: exit status $got, want $1"
    cat "$T/err"
    exit 1
  fi
}
for s in in_task.lua in_tick.lua in_callback.lua then_exit.lua then_os_exit.lua; do
  want 1 0 $s
  grep -q 'kind=task_errors 1 task(s) or callback(s) failed, 0 expected' "$T/err" ||
    { echo "FAIL: $s: no kind=task_errors line"; cat "$T/err"; exit 1; }
  want 0 1 $s          # one error on purpose, declared
  want 1 2 $s          # declared, but not there
  want 0 unset $s      # without the variable: as before
done
want 0 0 clean.lua
grep -q 'main task done' "$T/out"
want 1 1 clean.lua
want 1 x clean.lua
grep -q 'RECWATCH_EXPECT_TASK_ERRORS=x: not a count' "$T/err"
echo ok
