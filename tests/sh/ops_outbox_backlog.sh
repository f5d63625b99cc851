# Issue 20 item 2: recwatch_outbox_pending and /status outbox.pending say how many alerts wait,
# and the RecwatchOutboxBacklog rule of docs/operations.md fires on them. A webhook that
# answers 500 leaves 3 alerts queued: the gauge and /status say 3 (they used to stay 0: every
# delivery pass reset the gauge), and promtool's rule test, fed with the very /metrics text
# this recwatch served, fires the documented rule after its 15 minutes. A restart on the
# same state file with no outbox at all still reports the backlog it finds there. Once the
# webhook is back, the alerts go out, the gauge falls to 0, and the rule stays quiet.
. "${HELPERS:?}/ops_lib.sh"
need_prometheus_tool promtool
command -v curl >/dev/null || fail "curl is needed"
doc_rules

touch "$T/down"
python3 "$HELPERS/webhook_receiver.py" --out "$T/got.jsonl" --down-file "$T/down" >"$T/port" &
EXTRA_PIDS=$!
for _ in $(seq 100); do grep -q PORT "$T/port" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/PORT/{print $2}' "$T/port")
[ -n "$PORT" ] || fail "the webhook receiver did not start"
export HOOK_URL="http://127.0.0.1:$PORT/hook"

cat >"$T/outbox.lua" <<'LUA'
local notify = require "rec.notify"
local hook = notify.sender_from{ url = os.getenv("HOOK_URL"), kind = "webhook", name = "hook" }
local out = notify.outbox{ to = { hook }, every = 0.2, retry_base = 0.2, retry_max = 0.5 }
if arg[1] == "queue" then
  out:alert("one") ; out:alert("two") ; out:alert("three")
end
rec.sleep(120)
LUA
printf 'require("rec.store").open()\nrec.sleep(120)\n' >"$T/store_only.lua"

metric() {   # metric LINE-PREFIX: the value of the first sample line that starts so
  curl -s --max-time 5 "$URL/metrics" | awk -v p="$1 " 'index($0, p) == 1 { print $2; exit }'
}
pending_is() { [ "$(metric recwatch_outbox_pending)" = "$1" ]; }
status_pending() {
  curl -s --max-time 5 "$URL/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["outbox"]["pending"])'
}
stop_rw() { kill "$RW_PID"; wait "$RW_PID" 2>/dev/null; RW_PID=; }

# promtool_test FILE EXPECT: feeds the samples of a /metrics scrape (FILE), held for 40
# minutes, to promtool's rule test; EXPECT is "fires" or "quiet" for RecwatchOutboxBacklog.
promtool_test() {
  python3 - "$1" "$2" "$T/rules.yml" >"$T/test.yml" <<'PY' || fail "cannot write the promtool test"
import math, re, sys
scrape, expect, rules = sys.argv[1], sys.argv[2], open(sys.argv[3]).read()
summary = re.search(r"alert: RecwatchOutboxBacklog\n.*?summary: \"(.*?)\"", rules, re.S).group(1)
extra = 'instance="recwatch:9464",job="recwatch"'
series = ["up{%s}" % extra + " 1"]
for line in open(scrape):
    if not line.strip() or line.startswith("#"):
        continue
    name, value = line.rsplit(" ", 1)
    if not math.isfinite(float(value)):
        continue
    name = name[:-1] + "," + extra + "}" if name.endswith("}") else name + "{" + extra + "}"
    series.append(name + " " + value.strip())
print("rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:")
for s in series:
    n, v = s.rsplit(" ", 1)
    print("      - series: '%s'\n        values: '%s+0x40'" % (n.replace("'", "''"), v))
print("    alert_rule_test:\n      - eval_time: 10m\n        alertname: RecwatchOutboxBacklog\n        exp_alerts: []")
print("      - eval_time: 20m\n        alertname: RecwatchOutboxBacklog")
if expect == "fires":
    print("        exp_alerts:\n          - exp_labels: { instance: \"recwatch:9464\", job: recwatch }")
    print("            exp_annotations: { summary: \"%s\" }" % summary)
else:
    print("        exp_alerts: []")
PY
  (cd "$T" && promtool test rules test.yml) >"$T/promtool.out" 2>&1 \
    || fail "promtool: RecwatchOutboxBacklog expected to be $2 on this scrape:
$(grep -E '^recwatch_(outbox|alerts)' "$1")
$(cat "$T/promtool.out")"
}

# 1. a backlog of 3
rw_start run --state "$T/state.db" --listen 127.0.0.1:0 "$T/outbox.lua" queue
failed_twice() { v=$(metric 'recwatch_alerts_total{state="failed"}'); [ -n "$v" ] && [ "${v%.*}" -ge 2 ]; }
wait_for 30 failed_twice || fail "the deliveries never failed"
wait_for 10 pending_is 3 || fail "recwatch_outbox_pending is '$(metric recwatch_outbox_pending)' with 3 alerts queued"
[ "$(status_pending)" = 3 ] || fail "/status outbox.pending is '$(status_pending)', expected 3"
curl -s --max-time 5 "$URL/metrics" >"$T/backlog.prom"
promtool_test "$T/backlog.prom" fires
echo "ok: a backlog of 3: the gauge and /status say 3, and RecwatchOutboxBacklog fires"
stop_rw

# 2. a restart with no outbox: the backlog in the file is reported from the start
rw_start run --state "$T/state.db" --listen 127.0.0.1:0 "$T/store_only.lua"
wait_for 10 pending_is 3 || fail "after a restart the gauge is '$(metric recwatch_outbox_pending)', expected 3"
echo "ok: a restart reports the backlog it finds"
stop_rw

# 3. the webhook is back: delivered, 0 pending, the rule stays quiet
rm -f "$T/down"
rw_start run --state "$T/state.db" --listen 127.0.0.1:0 "$T/outbox.lua"
delivered3() { [ "$(metric 'recwatch_alerts_total{state="delivered"}')" = 3 ]; }
wait_for 30 delivered3 || fail "the 3 alerts were not delivered"
wait_for 10 pending_is 0 || fail "the gauge is '$(metric recwatch_outbox_pending)' after delivery, expected 0"
[ "$(status_pending)" = 0 ] || fail "/status outbox.pending is '$(status_pending)' after delivery"
curl -s --max-time 5 "$URL/metrics" >"$T/drained.prom"
promtool_test "$T/drained.prom" quiet
echo "ops_outbox_backlog ok"
