# admin_silence (issue 23): silences made through a running `recwatch run` with `recwatch
# silence`, over the listener's admin route. A watcher against the simulator fails two
# recordings of demo-channel while a silence on that channel holds: both alerts are counted
# (recwatch_alerts_held, recwatch_alert_results_total{result="silenced"}) and not sent; expiring the
# silence sends them. A wrong token is refused and changes nothing; no token configured, or
# a script without rec.notify, is refused with the reason; the token is never printed.
source "$HELPERS/ops_lib.sh"
: "${SRC:?}"

TOKEN=tok-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$T/token"
printf 'wrong-token-%s\n' "$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$T/wrong"
chmod 600 "$T/token" "$T/wrong"

python3 "$HELPERS/webhook_receiver.py" --out "$T/got.jsonl" >"$T/port" &
EXTRA_PIDS=$!
wait_for 10 grep -q PORT "$T/port" || fail "no webhook receiver"
HOOK=http://127.0.0.1:$(awk '/PORT/{print $2}' "$T/port")/hook

cat >"$T/svc.lua" <<'LUA'
local watch = require "rec.watch"
local notify = require "rec.notify"
local go, hook = arg[1], arg[2]
local out = notify.outbox{ to = notify.webhook_sender{ url = hook }, every = 0.2 }
while not io.open(go) do rec.sleep(0.05) end   -- the test adds its silence first
watch.qingcloud{ app_id = "demo-app", channels = { "demo-channel" }, every = 0.3,
  on_failed = function(task)
    out:alert{ text = ("task %d failed"):format(task.id), task_id = task.id,
               channel = task.channel, status = task.status }
  end }
LUA

rw_start run --sim --scenario "$SRC/tests/scenarios/qc_fail_fast.lua" --listen 127.0.0.1:0 \
  --admin-token-file "$T/token" --state "$T/state.db" "$T/svc.lua" "$T/go" "$HOOK"
ADDR=${URL#http://}
sil() { "$RECWATCH" silence "$@" --listen "$ADDR"; }
metric() { curl -s --max-time 5 "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
req() {  # req METHOD PATH TOKENFILE [BODY]: the status; the body in $T/body
  local auth=()
  [ -n "$3" ] && auth=(-H "Authorization: Bearer $(head -1 "$3")")
  curl -s -o "$T/body" -w '%{http_code}' --max-time 15 -X "$1" "${auth[@]}" \
    ${4:+--data-binary "$4"} "$URL$2"
}

# refused: no Authorization, a wrong token (through curl and the CLI), an oversized body
[ "$(req GET /admin/silences "")" = 401 ] || fail "no token: $(cat "$T/body")"
grep -q "Authorization: Bearer" "$T/body" || fail "401 says nothing: $(cat "$T/body")"
[ "$(req GET /admin/silences "$T/wrong")" = 403 ] || fail "wrong token: $(cat "$T/body")"
grep -q "wrong admin token" "$T/body" || fail "403 says nothing: $(cat "$T/body")"
sil add --match channel=demo-channel --for 1h --comment x --token-file "$T/wrong" >"$T/c.out" 2>"$T/c.err"
[ $? = 3 ] || fail "CLI with a wrong token: exit $? $(cat "$T/c.err")"
grep -q "refused (403): wrong admin token" "$T/c.err" || fail "CLI wrong token: $(cat "$T/c.err")"
big=$(head -c 9000 /dev/zero | tr '\0' a)
[ "$(req POST /admin/silences "$T/token" "$big")" = 413 ] || fail "9000-byte body: $(cat "$T/body")"
[ "$(req GET /admin/nothing "$T/token")" = 404 ] || fail "unknown admin route: $(cat "$T/body")"
[ "$(req POST /admin/silences "$T/token" '{"matchers":["channel=~(x"],"for":60}')" = 400 ] ||
  fail "bad matcher through the route: $(cat "$T/body")"
# (a proxy in the environment is not used: it would be handed the token)
http_proxy=http://127.0.0.1:1 HTTP_PROXY=http://127.0.0.1:1 all_proxy=http://127.0.0.1:1 \
  sil list --token-file "$T/token" >"$T/c.out" 2>"$T/c.err" || fail "list: $(cat "$T/c.err")"
grep -q "^no silences" "$T/c.out" || fail "refused requests made a silence: $(cat "$T/c.out")"

# the CLI's own checks, before any request
sil add --match channel --for 1h --comment x --token-file "$T/token" 2>"$T/c.err"
[ $? = 2 ] && grep -q "bad matcher" "$T/c.err" || fail "bad matcher: $(cat "$T/c.err")"
sil add --match channel=x --for 2y --comment x --token-file "$T/token" 2>"$T/c.err"
[ $? = 2 ] && grep -q "bad duration '2y'" "$T/c.err" || fail "bad duration: $(cat "$T/c.err")"

# add, list
sil add --match channel=demo-channel --for 2h --comment "maintenance of demo" --author ops \
  --token-file "$T/token" >"$T/id" 2>"$T/c.err" || fail "add: $(cat "$T/c.err")"
ID=$(cat "$T/id")
case "$ID" in s-*) ;; *) fail "add printed no id: $ID" ;; esac
sil list --token-file "$T/token" >"$T/c.out" 2>"$T/c.err" || fail "list: $(cat "$T/c.err")"
grep -q "^$ID  *active .*channel=demo-channel  ops: maintenance of demo" "$T/c.out" ||
  fail "list: $(cat "$T/c.out")"

# the watcher starts: two failed recordings, both held by the silence, none sent
touch "$T/go"
wait_for 20 sh -c "[ \"\$(curl -s --max-time 5 $URL/metrics | awk '\$1 == \"recwatch_alerts_held\" {print \$2}')\" = 2 ]" ||
  fail "the two alerts are not held: held=$(metric recwatch_alerts_held)"
curl -s "$URL/metrics" | grep -Eq '^recwatch_alert_results_total\{destination="[^"]+",result="silenced"\} 2$' ||
  fail "not counted as silenced: $(curl -s "$URL/metrics" | grep recwatch_alert_results_total)"
[ "$(metric recwatch_silences_active)" = 1 ] || fail "silences_active: $(metric recwatch_silences_active)"
[ "$(code /status)" = 200 ] && grep -q '"alerts":{"silences_active":1,"held":2}' "$T/body" ||
  fail "/status: $(cat "$T/body")"
sleep 0.5   # a few more delivery passes (every 0.2 s): still nothing sent
[ ! -s "$T/got.jsonl" ] || fail "a silenced alert was sent: $(cat "$T/got.jsonl")"

# a wrong token cannot expire it
[ "$(req DELETE "/admin/silences/$ID" "$T/wrong")" = 403 ] || fail "wrong-token expire: $(cat "$T/body")"
sil list --token-file "$T/token" >"$T/c.out" 2>&1 || fail "list: $(cat "$T/c.out")"
grep -q "^$ID  *active" "$T/c.out" || fail "a refused expire changed it: $(cat "$T/c.out")"
[ ! -s "$T/got.jsonl" ] || fail "sent after a refused expire: $(cat "$T/got.jsonl")"

# expire: the alerts go out now, the failure still holds
sil expire "$ID" --token-file "$T/token" >"$T/c.out" 2>"$T/c.err" || fail "expire: $(cat "$T/c.err")"
grep -q "silence $ID expired" "$T/c.out" || fail "expire said: $(cat "$T/c.out")"
wait_for 20 sh -c "[ \$(wc -l <'$T/got.jsonl' 2>/dev/null || echo 0) -ge 2 ]" ||
  fail "the alerts were not sent after the expire: $(cat "$T/got.jsonl" 2>/dev/null)"
python3 - "$T/got.jsonl" <<'PY' || fail "sent: $(cat "$T/got.jsonl")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
tasks = sorted(r["body"].get("task_id") for r in rows)
assert tasks == [39, 41], tasks
PY
sil list --token-file "$T/token" >"$T/c.out" 2>&1 || fail "list: $(cat "$T/c.out")"
grep -q "^$ID  *expired" "$T/c.out" || fail "not expired: $(cat "$T/c.out")"
sil expire "$ID" --token-file "$T/token" 2>"$T/c.err"
[ $? = 2 ] && grep -q "refused (409): silence $ID is over already" "$T/c.err" ||
  fail "expire twice: $(cat "$T/c.err")"
sil expire s-nosuchthing --token-file "$T/token" 2>"$T/c.err"
[ $? = 4 ] && grep -q "no silence s-nosuchthing" "$T/c.err" || fail "unknown id: $(cat "$T/c.err")"

# the token is in no log line, no output, no error
for f in "$T/rw.err" "$T/rw.out" "$T/c.out" "$T/c.err" "$T/body"; do
  if grep -q "$TOKEN" "$f" || grep -q "$(cat "$T/wrong")" "$f"; then fail "a token in $f"; fi
done
kill "$RW_PID"; wait "$RW_PID" 2>/dev/null; RW_PID=

# a script without rec.notify: 503 with the reason
echo 'rec.sleep(1e6)' >"$T/plain.lua"
rw_start run --listen 127.0.0.1:0 --admin-token-file "$T/token" "$T/plain.lua"
ADDR=${URL#http://}
sil list --token-file "$T/token" >"$T/c.out" 2>"$T/c.err"
[ $? = 8 ] && grep -q "no admin handler" "$T/c.err" || fail "no handler: $(cat "$T/c.err")"
kill "$RW_PID"; wait "$RW_PID" 2>/dev/null; RW_PID=

# no token configured: the admin routes are off, and say how to turn them on
echo 'require "rec.notify"; rec.sleep(1e6)' >"$T/notoken.lua"
rw_start run --listen 127.0.0.1:0 "$T/notoken.lua"
[ "$(req GET /admin/silences "$T/token")" = 403 ] && grep -q "admin-token-file" "$T/body" ||
  fail "no token configured: $(cat "$T/body")"
kill "$RW_PID"; wait "$RW_PID" 2>/dev/null; RW_PID=

# a token file that holds no token: recwatch run refuses to start, naming the file only
: >"$T/empty"
"$RECWATCH" run --admin-token-file "$T/empty" "$T/plain.lua" 2>"$T/c.err"
[ $? = 2 ] && grep -q "admin token file .*empty" "$T/c.err" || fail "empty token file: $(cat "$T/c.err")"
# cannot connect
sil list --listen 127.0.0.1:1 --token-file "$T/token" 2>"$T/c.err"
[ $? = 7 ] && grep -q "cannot reach recwatch" "$T/c.err" || fail "no service: $(cat "$T/c.err")"
echo "ok: silences through the admin route"
