# CLI: --version/--help, usage errors exit 2 with one line saying what to do, `check`
# reports file:line, a failing main task exits 1 naming file:line while other tasks finish,
# rec.exit's code, JSON logs, and secrets never printed.
set -u
: "${RECWATCH:?}"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_status() { [ "$1" = "$2" ] || fail "$3: exit status $1, expected $2"; }

"$RECWATCH" --version | grep -q '^recwatch [0-9]' || fail "--version"
"$RECWATCH" --help | grep -q 'run \[--sim\]' || fail "--help"

"$RECWATCH" bogus 2>"$T/e"; expect_status $? 2 "unknown command"
grep -q "unknown command 'bogus'" "$T/e" && grep -q "Try 'recwatch --help'" "$T/e" || fail "unknown command message"
"$RECWATCH" run 2>"$T/e"; expect_status $? 2 "run without script"
"$RECWATCH" --log-level loud run x.lua 2>"$T/e"; expect_status $? 2 "bad log level"
grep -q "unknown log level 'loud'" "$T/e" || fail "log level message"
"$RECWATCH" run "$T/missing.lua" 2>"$T/e"; expect_status $? 2 "missing script"
grep -q "cannot open" "$T/e" || fail "missing script message: $(cat "$T/e")"

printf 'local x = 1\nlocal y = = 2\n' > "$T/syntax.lua"
"$RECWATCH" check "$T/syntax.lua" 2>"$T/e"; expect_status $? 1 "check syntax error"
grep -q "syntax.lua:2:" "$T/e" || fail "check names file:line: $(cat "$T/e")"
printf 'print("fine")\n' > "$T/ok.lua"
"$RECWATCH" check "$T/ok.lua" >/dev/null; expect_status $? 0 "check ok"
"$RECWATCH" run "$T/syntax.lua" 2>"$T/e"; expect_status $? 2 "run syntax error"

cat > "$T/fail.lua" <<'LUA'
local other = rec.spawn(function() rec.sleep(0.2) print("other finished") end)
rec.sleep(0.05)
error("main failed on purpose")
LUA
"$RECWATCH" run "$T/fail.lua" >"$T/o" 2>"$T/e"; expect_status $? 1 "failing main task"
grep -q "fail.lua:3: main failed on purpose" "$T/e" || fail "traceback names file:line: $(cat "$T/e")"
grep -q "other finished" "$T/o" || fail "the other task finished"

printf 'print(arg[0], arg[1], select("#", ...), ...)\nrec.exit(7)\nprint("not reached")\n' > "$T/args.lua"
"$RECWATCH" run "$T/args.lua" a b >"$T/o"; expect_status $? 7 "rec.exit code"
grep -q "args.lua	a	2	a	b" "$T/o" || fail "arg table and ...: $(cat "$T/o")"
grep -q "not reached" "$T/o" && fail "rec.exit returned"

printf 'rec.log.info("hello %%s", "json")\nrec.log.debug("hidden")\n' > "$T/log.lua"
"$RECWATCH" --log-format json run "$T/log.lua" 2>"$T/e"; expect_status $? 0 "json log"
python3 - "$T/e" <<'PY' || fail "json log lines"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 1, lines
assert lines[0]["level"] == "info" and lines[0]["msg"] == "hello json" and lines[0]["task"] == 1, lines
assert "time" in lines[0]
PY

# secrets: configured secrets never reach logs or error messages, even at debug level
cat > "$T/secret.lua" <<'LUA'
rec.configure{ agora = { customer_id = "cust", customer_secret = "TOPSECRETVALUE42",
                         base_url = "http://127.0.0.1:1", retries = 0 } }
rec.log.info("the secret is TOPSECRETVALUE42")
local r, err = rec.http{ url = "http://127.0.0.1:1/x", headers = { Authorization = "Basic TOPSECRETVALUE42" } }
rec.log.warn("error: %s", tostring(err))
local q, qerr = rec.query_agora{ appid = "a", resourceid = "r", sid = "s" }
rec.log.warn("query error: %s", tostring(qerr))
assert(qerr.kind == "network")
LUA
"$RECWATCH" --log-level debug run "$T/secret.lua" >"$T/o" 2>"$T/e"; expect_status $? 0 "secret script"
grep -q "TOPSECRETVALUE42" "$T/o" "$T/e" && fail "secret printed: $(cat "$T/e")"
grep -q "\[REDACTED\]" "$T/e" || fail "redaction marker missing"
echo "engine_cli ok"

# a configuration error is exit status 2, with the message naming the setting
printf 'rec.configure{ agora = { rate = "fast" } }\n' > "$T/badcfg.lua"
"$RECWATCH" run "$T/badcfg.lua" 2>"$T/e"; expect_status $? 2 "configuration error"
grep -q "rec.configure: agora.rate must be a number" "$T/e" || fail "config message: $(cat "$T/e")"
echo "engine_cli config ok"

# rec.exit where Lua cannot yield (a sort comparator, a plain coroutine) still stops there;
# the first rec.exit decides the status
cat > "$T/exit_sort.lua" <<'LUA'
table.sort({3, 1, 2}, function(a, b) rec.exit(4) return a < b end)
print("after rec.exit: still running")
rec.exit(5)
LUA
"$RECWATCH" run "$T/exit_sort.lua" >"$T/o" 2>"$T/e"; expect_status $? 4 "rec.exit in a comparator"
grep -q "still running" "$T/o" && fail "code after rec.exit ran"
grep -q "task failed" "$T/e" && fail "rec.exit logged as a failure: $(cat "$T/e")"

# tasks that can never be woken (an event nobody sets) end the run with status 1 and a message
printf 'rec.event():wait()\n' > "$T/deadlock.lua"
"$RECWATCH" run "$T/deadlock.lua" 2>"$T/e"; expect_status $? 1 "deadlock"
grep -q "deadlock" "$T/e" || fail "deadlock message: $(cat "$T/e")"
echo "engine_cli exit ok"
