# Unknown options are errors with a suggestion, raised at the caller's line: rec.watch,
# rec.notify (senders, outbox, heartbeat), rec.args flags, rec.configure, scenario files.
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/log" 2>/dev/null; exit 1; }

# expect SCRIPT_BODY EXIT_STATUS TEXT...: the script's output has every TEXT
expect() {
  local body=$1 want=$2 rc
  shift 2
  printf '%s\n' "$body" >"$T/s.lua"
  "$RECWATCH" run "$T/s.lua" --evry 3 2>"$T/log"
  rc=$?
  [ "$rc" = "$want" ] || fail "exit $rc, expected $want for: $body"
  for t in "$@"; do grep -qF -- "$t" "$T/log" || fail "no '$t' for: $body"; done
}

expect 'local watch = require "rec.watch"
watch.qingcloud{ app_id = "a", channel = "c", evry = 5, on_stauts = {} }' 1 \
  "s.lua:2: watch.qingcloud: unknown option '" "(did you mean '"
expect 'local watch = require "rec.watch"

watch.agora{ appid = "a", resourceid = "r", sid = "s", start_timout = 5 }' 1 \
  "s.lua:3: watch.agora: unknown option 'start_timout' (did you mean 'start_timeout'?)"
expect 'local notify = require "rec.notify"
notify.feishu{ url = "http://127.0.0.1:1/x", secert = "s" }' 1 \
  "s.lua:2: notify.feishu: unknown option 'secert' (did you mean 'secret'?)"
expect 'local notify = require "rec.notify"
notify.outbox{ retry_bse = 1 }' 1 "s.lua:2: notify.outbox: unknown option 'retry_bse' (did you mean 'retry_base'?)"
expect 'require("rec.notify").heartbeat{ url = "http://127.0.0.1:1/", evry = 5 }' 1 \
  "s.lua:1: notify.heartbeat: unknown option 'evry' (did you mean 'every'?)"
expect 'local opt = require("rec.args").parse(arg, { every = 1 })' 1 \
  "s.lua:1: unknown flag '--evry' (did you mean '--every'?)"
expect 'local opt = require("rec.args").parse(arg, { evry = 1 })
assert(opt.evry == 3)' 0
expect 'rec.configure{ qingcloud = { retires = 2 } }' 2 \
  "unknown setting 'retires' in qingcloud (did you mean 'retries'?)"
expect 'local watch = require "rec.watch"
watch.qingcloud{ app_id = "a", channel = "c", every = "5" }' 1 "'every' must be a number"

printf 'return { agora = { rate_limt = 1 } }\n' >"$T/sc.lua"
"$RECWATCH" sim --listen 127.0.0.1:0 --scenario "$T/sc.lua" >"$T/out" 2>"$T/log" &
pid=$!
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill "$pid" 2>/dev/null && fail "the sim started with a bad scenario"
wait "$pid"
grep -qF "unknown field 'rate_limt' (did you mean 'rate_limit'?)" "$T/log" || fail "scenario: no suggestion"
echo ok
