# A real Alertmanager (Debian's prometheus-alertmanager) on loopback receives recwatch's
# alerts through notify.alertmanager (API v2, through the outbox):
# - the QingCloud failure of task 39 arrives with the right labels (alertname, provider, app,
#   channel, task, severity, alert_id, the destination's team label) and generatorURL;
# - two recwatch processes with separate state files watch the same channel and both alert:
#   Alertmanager holds ONE alert (same stable id, same labels);
# - firing posts end at now + k*interval and are re-posted: the alert stays active past k*interval;
# - a script alert (key=) resolves: gone from the active alerts after its resolve;
# - an Alertmanager silence on task="41" suppresses that failure (state suppressed).
# The route configuration docs/workflows.md shows passes amtool check-config.
# Every wait polls the API against a deadline.
. "${HELPERS:?}/ops_lib.sh"
. "$HELPERS/alertmanager_lib.sh"
need_alertmanager
command -v curl >/dev/null || fail "curl is needed"
# the route configuration docs/workflows.md gives passes amtool check-config
python3 - "$SRC/docs/workflows.md" >"$T/route.yml" <<'PY' || fail "no route block in docs/workflows.md"
import re, sys
m = re.search(r"```yaml\n(route:.*?)```", open(sys.argv[1]).read(), re.S)
sys.exit("no block") if not m else print(m.group(1))
PY
amtool check-config "$T/route.yml" >"$T/check.out" 2>&1 || fail "amtool check-config: $(cat "$T/check.out")"
am_start

# the silence first: task 41 fails at t=3 s (tests/scenarios/qc_fail_fast.lua)
amtool --alertmanager.url="$AM" silence add task=41 --duration=1h --author=test \
  --comment="maintenance of task 41" >"$T/silence.id" 2>"$T/amtool.err" ||
  fail "amtool silence add: $(cat "$T/amtool.err")"

"$RECWATCH" sim --listen 127.0.0.1:0 --scenario "$SRC/tests/scenarios/qc_fail_fast.lua" >"$T/env" 2>"$T/sim.err" &
EXTRA_PIDS="$EXTRA_PIDS $!"
wait_for 10 grep -q RECWATCH_SIM_PORT "$T/env" || fail "the simulator printed no port"
. "$T/env"

cat >"$T/watch.lua" <<'LUA'
local watch = require "rec.watch"
local notify = require "rec.notify"
local am = notify.alertmanager{ url = os.getenv("AM"), labels = { team = "rtc" }, interval = 1, k = 2 }
local out = notify.outbox{ to = am, every = 0.2 }
local h = watch.qingcloud{ app_id = "demo-app", channel = "demo-channel", every = 0.3,
  on_failed = function(t, old)
    out:alert{ text = ("task %s failed (%s -> %s)"):format(t.id, tostring(old), t.status), task_id = t.id }
  end }
if os.getenv("RESOLVER") then
  out:alert{ key = "maint-window", text = "maintenance check", labels = { check = "maint" } }
  rec.sleep(tonumber(os.getenv("RESOLVE_AFTER")))
  out:alert{ key = "maint-window", status = "resolved", text = "maintenance over" }
end
-- runs until the test says stop (a file), at most 60 s
local stop = os.getenv("STOP")
for _ = 1, 300 do
  local f = io.open(stop)
  if f then f:close() break end
  rec.sleep(0.2)
end
h:stop()
out:flush(5)
out:stop()
print("done")
LUA
AM="$AM" RESOLVER=1 RESOLVE_AFTER=3 STOP="$T/stop" "$RECWATCH" run --listen 127.0.0.1:0 --state "$T/a.db" "$T/watch.lua" >"$T/a.out" 2>"$T/rw.err" &
PA=$!
EXTRA_PIDS="$EXTRA_PIDS $PA"
AM="$AM" STOP="$T/stop" "$RECWATCH" run --listen 127.0.0.1:0 --state "$T/b.db" "$T/watch.lua" >"$T/b.out" 2>"$T/b.err" &
PB=$!
EXTRA_PIDS="$EXTRA_PIDS $PB"

# the script's alert arrives, then resolves
wait_for 10 am_count 1 'alertname="RecwatchAlert"' 'check="maint"' || fail "the script alert never arrived: $(am_alerts)"
# both processes queue task 39's failure (t=2 s); one alert in Alertmanager
wait_for 15 am_count 1 'alertname="RecordingFailed"' 'task="39"' || fail "task 39: not one alert: $(am_alerts)"
wait_for 10 grep -q "ALERT delivered to alertmanager.*task 39" "$T/b.err" || fail "process B did not deliver task 39: $(tail "$T/b.err")"
wait_for 10 grep -q "ALERT delivered to alertmanager.*task 39" "$T/rw.err" || fail "process A did not deliver task 39"
am_alerts 'task="39"' >"$T/a39.json"
python3 - "$T/a39.json" "$T/rw.err" "$T/b.err" <<'PY' || fail "task 39's alert: $(cat "$T/a39.json")"
import json, re, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 1, a
l = a[0]["labels"]
want = {"alertname": "RecordingFailed", "provider": "qingcloud", "app": "demo-app",
        "channel": "demo-channel", "task": "39", "severity": "critical", "team": "rtc"}
for k, v in want.items():
    assert l.get(k) == v, (k, l)
assert re.match(r"^qingcloud/demo-app/demo-channel/39/52@[0-9a-f]{16}\.1$", l["alert_id"]), l
ids = [set(re.findall(r"ALERT delivered to alertmanager \[([^\]]*)\]: task 39", open(p).read())) for p in sys.argv[2:]]
assert ids[0] == ids[1] == {l["alert_id"]}, ids      # the same id from both processes
assert a[0]["status"]["state"] == "active", a
assert a[0]["generatorURL"].startswith("http://127.0.0.1:") and a[0]["generatorURL"].endswith("/status"), a
assert a[0]["annotations"]["summary"].startswith("task 39 failed"), a
print("task 39 ok:", l["alert_id"])
PY
# silenced by Alertmanager: task 41 (t=3 s) arrives suppressed
wait_for 10 am_count 1 'task="41"' || fail "task 41 never arrived: $(am_alerts)"
suppressed() { am_alerts 'task="41"' | python3 -c 'import json,sys; a=json.load(sys.stdin); sys.exit(0 if a and a[0]["status"]["state"]=="suppressed" and a[0]["status"]["silencedBy"] else 1)'; }
wait_for 10 suppressed || fail "task 41 is not suppressed: $(am_alerts 'task="41"')"
# resolved: the script's alert leaves the active alerts (a resolve posts endsAt in the past)
wait_for 10 am_count 0 'check="maint"' || fail "the script alert did not resolve: $(am_alerts 'check="maint"')"
grep -q 'ALERT delivered to alertmanager \[maint-window\] resolved: maintenance over' "$T/rw.err" || fail "no resolve delivered"
# re-posted: firing posts end at now + 2 s; 5 s after task 39 arrived it is still active
sleep_until() { python3 -c "import sys,time; sys.exit(0 if time.time() >= float(sys.argv[1]) else 1)" "$1"; }
T39=$(date +%s.%N)
wait_for 10 sleep_until "$(python3 -c "print($T39 + 5)")"
am_count 1 'task="39"' || fail "task 39 expired: the firing alert was not re-posted"
touch "$T/stop"
wait "$PA" || fail "process A failed"
wait "$PB" || fail "process B failed"
# re-posts are no outbox rows: 4 rows (script alert, its resolve, tasks 39 and 41)
python3 -c "import sqlite3,sys; n=sqlite3.connect(sys.argv[1]).execute('select count(*) from outbox').fetchone()[0]; sys.exit(0 if n == 4 else 'outbox rows: %d' % n)" "$T/a.db" ||
  fail "re-posts made outbox rows"
grep -q "re-posting.*failed" "$T/rw.err" "$T/b.err" && fail "a re-post failed"
echo "notify_alertmanager ok"
