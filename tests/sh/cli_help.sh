# `recwatch help`, `recwatch help CMD` and `recwatch CMD --help` print usage on stdout and
# exit 0 for every command; a usage error exits 2 and shows that command's usage.
set -u
: "${RECWATCH:?}"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$RECWATCH" help >"$T/o" 2>"$T/e" || fail "help: exit $?"
grep -q '^usage: recwatch' "$T/o" || fail "help prints no usage"
for cmd in run check query sim test; do
  "$RECWATCH" "$cmd" --help >"$T/o" 2>"$T/e" || fail "$cmd --help: exit $?: $(cat "$T/e")"
  grep -q "^usage: recwatch $cmd" "$T/o" || fail "$cmd --help: $(cat "$T/o")"
  "$RECWATCH" help "$cmd" >"$T/o2" 2>"$T/e" || fail "help $cmd: exit $?"
  cmp -s "$T/o" "$T/o2" || fail "help $cmd differs from $cmd --help"
done
"$RECWATCH" query agora --help >"$T/o" || fail "query agora --help"
grep -q "usage: recwatch query" "$T/o" || fail "query agora --help usage"
"$RECWATCH" run -h >/dev/null || fail "run -h"
"$RECWATCH" help bogus >/dev/null 2>&1; [ $? = 2 ] || fail "help bogus: not 2"

"$RECWATCH" run --bogus x.lua >/dev/null 2>"$T/e"; [ $? = 2 ] || fail "run --bogus: not 2"
grep -q "unknown option '--bogus'" "$T/e" && grep -q "^usage: recwatch run" "$T/e" || fail "run usage error: $(cat "$T/e")"
"$RECWATCH" run --listen >/dev/null 2>"$T/e"; [ $? = 2 ] || fail "run --listen without value"
"$RECWATCH" check >/dev/null 2>"$T/e"; [ $? = 2 ] || fail "check without script"
grep -q "^usage: recwatch check" "$T/e" || fail "check usage error"
"$RECWATCH" query >/dev/null 2>"$T/e"; [ $? = 2 ] || fail "query without provider"
grep -q "^usage: recwatch query" "$T/e" || fail "query usage error"
"$RECWATCH" sim --bogus >/dev/null 2>"$T/e"; [ $? = 2 ] || fail "sim --bogus"
grep -q "usage: recwatch sim" "$T/e" || fail "sim usage error"
printf 'rec.sleep(0.1)\n' >"$T/s.lua"
"$RECWATCH" run --listen nonsense:port "$T/s.lua" >/dev/null 2>"$T/e"; [ $? = 2 ] || fail "bad --listen: not 2"
grep -q "is not HOST:PORT" "$T/e" || fail "bad --listen message: $(cat "$T/e")"
printf 'rec.configure{ listen = "127.0.0.1:x" }\n' >"$T/c.lua"
"$RECWATCH" run "$T/c.lua" >/dev/null 2>"$T/e"; [ $? = 2 ] || fail "bad rec.configure listen: not 2"
echo "cli_help ok"
