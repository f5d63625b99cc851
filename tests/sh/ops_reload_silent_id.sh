# A reload while a watcher is silent keeps its alert's id (issue 23, the gaps): the watcher's
# "silent" alert goes out, SIGHUP reloads the script while QingCloud still fails, and when it
# answers again the new script's "polling again" is the resolve of the same id, not a plain
# alert under a new one. The open silent episode's id is kept in the state store
# (rec/watcher_silent/<watcher>). The outage lasts 20 s: time enough for the reload on a
# loaded machine; the order (reload done before the resolve is queued) is checked, not assumed.
. "${HELPERS:?}/ops_lib.sh"

cat > "$T/scenario.lua" <<'LUA'
return { qingcloud_tasks = { { app_id = "demo-app", channel = "demo-channel", id = 39, timeline = { {0, 2} } } },
         faults = { { provider = "qingcloud", kind = "500_html", after = 0, seconds = 20 } } }
LUA
cat > "$T/w.lua" <<'LUA'
local watch = require "rec.watch"
local notify = require "rec.notify"
rec.configure{ qingcloud = { retries = 0 } }
-- group = false: one message per watcher, at once (the default groups them for 30 s)
local out = notify.outbox{ to = notify.from_env{ group = false }, every = 0.2 }
watch.qingcloud{ app_id = "demo-app", channel = "demo-channel", every = 0.5, stale_after = 2,
                 outbox = out, fail_polls = 1 }
rec.sleep(600)
LUA
rw_start run --sim --scenario "$T/scenario.lua" --state "$T/state.db" --listen 127.0.0.1:0 "$T/w.lua"
silent_sent() { grep -q 'sim: webhook received: .*is silent' "$T/rw.err"; }
wait_for 15 silent_sent || fail "no silent alert"
kill -HUP "$RW_PID"
wait_for 15 grep -q 'reload done' "$T/rw.err" || fail "no reload"
again_sent() { grep -q 'sim: webhook received: .*polling again' "$T/rw.err"; }
wait_for 40 again_sent || fail "no polling-again message"
python3 - "$T/rw.err" <<'PY' || fail "the resolve after the reload"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
reload_at = next(i for i, l in enumerate(lines) if "reload done" in l)
queued_at = next(i for i, l in enumerate(lines) if "queued: recwatch: watcher" in l and "polling again" in l)
assert reload_at < queued_at, "QingCloud answered again before the reload was done: the test proves nothing"
# what the sink took: the deliverer's "ALERT delivered" lines (the sink logs cut bodies)
sent = [re.search(r"ALERT delivered to alerts \[([^\]]+)\]( resolved)?: (.*)", l) for l in lines]
sent = [m for m in sent if m]
silent = [m for m in sent if "is silent" in m.group(3)]
again = [m for m in sent if "polling again" in m.group(3)]
assert len(silent) == 1 and len(again) == 1, [m.group(0) for m in sent]
assert again[0].group(2) == " resolved", again[0].group(0)
assert again[0].group(1) == silent[0].group(1), (silent[0].group(0), again[0].group(0))
assert re.match(r"^watcher/qingcloud/demo-app/demo-channel/silent@\d+$", silent[0].group(1)), silent[0].group(0)
PY
kill "$RW_PID"; wait "$RW_PID"; st=$?; RW_PID=
[ $st = 0 ] || fail "exit status $st"
echo "ops_reload_silent_id ok"
