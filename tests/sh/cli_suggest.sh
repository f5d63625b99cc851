# The command line suggests (issue 20, item 16): a misspelt command, `run` option or `query`
# flag gets "did you mean", as script flags and rec.configure keys do; exit status 2 (a usage
# error). QingCloud spells the app id --app-id and Agora --appid: both work for both.
set -u
: "${RECWATCH:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/suggest.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# says ARGS... -- TEXT: recwatch ARGS exits 2 and its stderr's first line holds TEXT
says() {
  local args=() st
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  shift
  "$RECWATCH" "${args[@]}" >/dev/null 2>"$T/e"; st=$?
  [ $st = 2 ] || fail "recwatch ${args[*]}: exit status $st, not 2: $(cat "$T/e")"
  head -1 "$T/e" | grep -qF -- "$1" || fail "recwatch ${args[*]}: expected '$1', got: $(head -1 "$T/e")"
}
says querry qingcloud -- "unknown command 'querry' (did you mean 'query'?)"
says chek x.lua -- "unknown command 'chek' (did you mean 'check'?)"
says help querry -- "no help for unknown command 'querry' (did you mean 'query'?)"
says --log-levle debug run x.lua -- "unknown command '--log-levle' (did you mean '--log-level'?)"
says run --sim --virtual-time --untill 3 x.lua -- "unknown option '--untill' for run (did you mean '--until'?)"
says run --lisen 9464 x.lua -- "unknown option '--lisen' for run (did you mean '--listen'?)"
says query qingcloud --app-id app --chanel ch --sim -- "unknown option '--chanel' for qingcloud (did you mean '--channel'?)"
says query agora --appid a --resorceid r --sid s --sim -- "unknown option '--resorceid' for agora (did you mean '--resourceid'?)"
says query qingcloud --app-id a --channel c --scenaro f --sim -- "unknown option '--scenaro' for qingcloud (did you mean '--scenario'?)"
says query qingcluod --app-id a -- "unknown provider 'qingcluod': it must be qingcloud or agora (did you mean 'qingcloud'?)"
# nothing close: no suggestion, still the error
says zzzzzz -- "unknown command 'zzzzzz'"
grep -q "did you mean" "$T/e" && fail "a suggestion for a name close to nothing: $(head -1 "$T/e")"

# both spellings of the app id, for both providers (the simulator answers)
"$RECWATCH" query qingcloud --appid app --channel ch --sim >"$T/o" 2>"$T/e" \
  || fail "query qingcloud --appid: $(cat "$T/e")"
grep -q '"recinfos"' "$T/o" || fail "query qingcloud --appid: no result: $(cat "$T/o")"
"$RECWATCH" query qingcloud --app-id app --channel ch --sim >"$T/o" 2>"$T/e" \
  || fail "query qingcloud --app-id: $(cat "$T/e")"
"$RECWATCH" query agora --app-id sim-agora-app --resourceid sim-resource-healthy --sid sid-healthy --mode mix --sim >"$T/o" 2>"$T/e" \
  || fail "query agora --app-id: $(cat "$T/e")"
grep -q '"serverResponse"' "$T/o" || fail "query agora --app-id: no result: $(cat "$T/o")"
"$RECWATCH" query agora --appid sim-agora-app --resourceid sim-resource-healthy --sid sid-healthy --mode mix --sim >"$T/o" 2>"$T/e" \
  || fail "query agora --appid: $(cat "$T/e")"
echo "cli_suggest ok"
