# A reload validates the new script before the old one stops (issue 20, item 9): a bad
# rec.configure, an error raised before the first side effect, or a listen address the
# process cannot take leave the old script running; such a reload is counted as failed and
# logged with file:line. `recwatch check` runs the same validation. The validation runs
# the top level only up to its first side effect, so what the new script prints, writes or
# starts happens once, in the real run.
. "${HELPERS:?}/ops_lib.sh"

cat > "$T/v1.lua" <<'LUA'
rec.configure{ max_busy = 5 }
print("v1 up") io.stdout:flush()
rec.every(0.1, function() print("tick v1") io.stdout:flush() end)
rec.sleep(120)
LUA
cp "$T/v1.lua" "$T/w.lua"
rw_start run --listen 127.0.0.1:0 "$T/w.lua"
wait_for 5 grep -q "^tick v1" "$T/rw.out" || fail "v1 did not start"

more_than() {  # more_than N PATTERN FILE: more than N lines of FILE match PATTERN
  [ "$(grep -c -- "$2" "$3")" -gt "$1" ]
}
ticks_go_on() {  # the old script still ticks
  wait_for 5 more_than "$(grep -c "tick v1" "$T/rw.out")" "tick v1" "$T/rw.out"
}
refused() {  # refused PATTERN WHAT [nocheck]: the reload of w.lua is refused with PATTERN in the log
  local n
  n=$(grep -c 'reload failed, the running script goes on' "$T/rw.err")
  kill -HUP "$RW_PID"
  wait_for 5 more_than "$n" 'reload failed, the running script goes on' "$T/rw.err" \
    || fail "$2: no refusal in the log"
  grep 'reload failed, the running script goes on' "$T/rw.err" | tail -1 | grep -q -- "$1" \
    || fail "$2: the refusal does not say '$1': $(grep 'reload failed' "$T/rw.err" | tail -1)"
  kill -0 "$RW_PID" 2>/dev/null || fail "$2: the process ended"
  ticks_go_on || fail "$2: the old script stopped"
  grep -q "stopping (reload)" "$T/rw.err" && fail "$2: the old script was stopped"
  [ "${3:-}" = nocheck ] && return 0  # only the running process listens
  "$RECWATCH" check "$T/w.lua" >/dev/null 2>"$T/check.err" && fail "$2: recwatch check passes it"
  grep -q -- "$1" "$T/check.err" || fail "$2: recwatch check does not say '$1': $(cat "$T/check.err")"
}

# 1. an unknown rec.configure key (it used to pass `check` and end the process)
printf 'print("v2 up")\nrec.configure{ bogus_key = 1 }\nrec.sleep(60)\n' >"$T/w.lua"
refused "w.lua:2: rec.configure: unknown setting 'bogus_key'" "bogus_key"
# 2. a bad value in a provider section, after a require and some computation
printf 'local watch = require "rec.watch"\nlocal n = 0 for i = 1, 1000 do n = n + i end\nrec.configure{ agora = { rate = -n } }\nwatch.agora{}\n' >"$T/w.lua"
refused "w.lua:3: rec.configure: agora.rate must be >= 0" "agora.rate"
# 3. an error before the first side effect: a missing configuration file
printf 'local c = dofile("%s/missing.lua")\nrec.configure(c)\n' "$T" >"$T/w.lua"
refused "w.lua:1: cannot open .*missing.lua" "missing file"
# 4. another listen address than the one the process listens on
printf 'rec.configure{ listen = "127.0.0.1:1" }\nrec.sleep(60)\n' >"$T/w.lua"
refused "already listening on" "listen" nocheck
# 5. a script flag the script does not take (rec.args)
printf 'local opt = require("rec.args").parse({ "--evry", "3" }, { every = 5 })\nrec.sleep(60)\n' >"$T/w.lua"
refused "unknown flag '--evry' (did you mean '--every'?)" "rec.args"
# 6. a watcher's misspelt option (checked before its task starts)
printf 'local watch = require "rec.watch"\nwatch.qingcloud{ app_id = "a", channel = "c", evry = 5 }\n' >"$T/w.lua"
refused "w.lua:2: watch.qingcloud: unknown option 'evry' (did you mean 'every'?)" "watch option"
: >"$T/w.lua"  # 7. an empty file (one caught while being written): valid Lua that would end the run
refused "w.lua is empty" "empty file" nocheck
grep -q "v2 up" "$T/rw.out" && fail "the validation's print reached stdout"

code /metrics >/dev/null
grep -q '^recwatch_reloads_total{result="failed"} 7$' "$T/body" || fail "refused reloads not counted as failed: $(grep reloads_total "$T/body")"

# a good script: validated, then run once (what its top level prints comes once)
cat > "$T/w.lua" <<'LUA'
local watch = require "rec.watch"
rec.configure{ max_busy = 5, listen = "127.0.0.1:0" }
print("v3 top") io.stdout:flush()
rec.every(0.1, function() print("tick v3") io.stdout:flush() end)
rec.sleep(120)
LUA
"$RECWATCH" check "$T/w.lua" >"$T/check.out" 2>&1 || fail "check refuses a good script: $(cat "$T/check.out")"
grep -q "v3 top" "$T/check.out" && fail "check printed what the script's top level prints"
kill -HUP "$RW_PID"
wait_for 8 grep -q "^tick v3" "$T/rw.out" || fail "the good script did not run after the refusals"
grep -q "reload done" "$T/rw.err" || fail "no 'reload done'"
[ "$(grep -c "v3 top" "$T/rw.out")" = 1 ] || fail "the top level's print came $(grep -c "v3 top" "$T/rw.out") times"
kill -TERM "$RW_PID"; wait "$RW_PID"; st=$?; RW_PID=
[ $st = 0 ] || fail "exit status $st after SIGTERM"

# check: side effects are not carried out; a runaway top level fails; os.exit is a side effect
printf 'local f = io.open("%s/written", "w")\n' "$T" >"$T/io.lua"
"$RECWATCH" check "$T/io.lua" >/dev/null 2>&1 || fail "check refuses a script that writes a file"
[ -e "$T/written" ] && fail "check wrote the script's file"
printf 'os.exit(3)\n' >"$T/exit.lua"
"$RECWATCH" check "$T/exit.lua" >/dev/null 2>&1; st=$?
[ $st = 0 ] || fail "check on os.exit(3): status $st"
printf 'local n = 0\nwhile true do n = n + 1 end\n' >"$T/loop.lua"
"$RECWATCH" check "$T/loop.lua" >/dev/null 2>"$T/check.err" && fail "check passes an endless top level"
grep -q "endless loop" "$T/check.err" || fail "runaway not explained: $(cat "$T/check.err")"
for f in "$SRC"/examples/*.lua; do
  case "$f" in *_test.lua) continue ;; esac
  "$RECWATCH" check --sim "$f" >/dev/null 2>"$T/check.err" || fail "check refuses $f: $(cat "$T/check.err")"
done
echo "ops_reload_validate ok"
