# workflow_qingcloud_odd_fields (issue 20 item 4): one odd QingCloud field must not hide a
# whole channel. A page holds a task whose size is "1.5M" and pid "" (the document types them
# as String: they pass through), a task whose status is a word (unreadable: reported with its
# id and field, as a log line and the watcher's error), and a status-52 task: the 52 is alerted.
# The watcher polls once (every = 60); the script waits for the events, not for the clock.
set -eu
T=$(mktemp -d "${TMPDIR:-/tmp}/oddfields.XXXXXX"); SRV=
trap 'kill $SRV 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; cat "$T/err" >&2 2>/dev/null || true; exit 1; }

cat >"$T/page.json" <<'JSON'
{"code":"success","offset":0,"limit":100,"total_count":3,"recinfos":[
 {"id":80,"app_id":"app","channel":"room","status":2,"pid":"","size":"1.5M","is_mix":"1"},
 {"id":81,"app_id":"app","channel":"room","status":"Recording","pid":7,"size":0},
 {"id":82,"app_id":"app","channel":"room","status":52,"pid":"","size":"3.2G"}]}
JSON
python3 "$HELPERS/hostile_server.py" --out "$T/requests.jsonl" --qc-reply "$T/page.json" >"$T/port" &
SRV=$!
for _ in $(seq 100); do grep -q PORT "$T/port" 2>/dev/null && break; sleep 0.05; done
PORT=$(awk '/PORT/{print $2}' "$T/port")
[ -n "$PORT" ] || fail "server did not start"

cat >"$T/script.lua" <<LUA
local watch = require "rec.watch"
local store = require "rec.store"
rec.configure{ qingcloud = { base_url = "http://127.0.0.1:$PORT", access_key_id = "QCODDKEY01",
                             secret_access_key = "qc-odd-secret-0123", retries = 0 } }
local got52, err, sizes = nil, nil, {}
local h = watch.qingcloud{ app_id = "app", channel = "room", every = 60,
  db = store.open(os.getenv("STATE")),
  on_change = function(t) sizes[t.id] = t.size end,
  on_status = { [52] = function(t) got52 = t end },
  on_error = function(e) err = e end }
for _ = 1, 2000 do
  if got52 and err then break end
  rec.sleep(0.01)
end
h:stop()
assert(got52, "the status-52 task was not alerted")
assert(err, "the unreadable task did not reach on_error")
print("alerted", got52.id, got52.status, got52.size, got52.pid == "" and "pid-empty" or tostring(got52.pid))
print("sizes", tostring(sizes[80]), tostring(sizes[81]), tostring(sizes[82]))
print("error", err.kind, tostring(err))
LUA

STATE="$T/state.db" "$RECWATCH" run "$T/script.lua" >"$T/out" 2>"$T/err" || fail "script failed"
cat "$T/out"
grep -qx 'alerted	82	52	3.2G	pid-empty' "$T/out" || fail "status 52 not alerted with its fields as sent"
grep -qx 'sizes	1.5M	nil	3.2G' "$T/out" || fail "task 80 (size \"1.5M\") or 82 not read"
grep -q '^error	protocol	.*task 81 cannot be read: status is a string ("Recording")' "$T/out" ||
  fail "the watcher's error does not name task 81 and its field"
grep -q 'kind=task_unreadable provider=qingcloud task=81 field=status' "$T/err" ||
  fail "no task_unreadable log line for task 81"
grep -q 'kind=watcher_error .*task 81 cannot be read' "$T/err" || fail "no watcher_error line"
if grep -q 'task_unreadable.*task=8[02]' "$T/err"; then fail "a readable task was reported unreadable"; fi

# The same page, polled every 0.5 s for 5 s with stale_after 2: the rest of the page is read,
# so every poll is good and the watcher never goes stale (the old code failed every poll and
# went stale after 2 s); on_error hears of task 81 once, not on every poll. Only a machine
# too slow to poll 3 times in 5 s could fail this, and it would say so (polls=).
cat >"$T/steady.lua" <<LUA
local watch = require "rec.watch"
rec.configure{ qingcloud = { base_url = "http://127.0.0.1:$PORT", access_key_id = "QCODDKEY01",
                             secret_access_key = "qc-odd-secret-0123", retries = 0 } }
local errs, stale = 0, 0
local h = watch.qingcloud{ app_id = "app", channel = "room", every = 0.5, stale_after = 2,
  on_error = function() errs = errs + 1 end, on_stale = function() stale = stale + 1 end }
rec.sleep(5)
local i = h:info()[1]
h:stop()
print("steady", errs, stale, i.state, i.polls >= 3 and "polled" or ("polls=" .. tostring(i.polls)),
      i.good_polls == i.polls and "all-good" or ("good=" .. tostring(i.good_polls)))
LUA
"$RECWATCH" run "$T/steady.lua" >"$T/out2" 2>"$T/err" || fail "steady script failed"
cat "$T/out2"
grep -qx 'steady	1	0	ok	polled	all-good' "$T/out2" ||
  fail "one unreadable task made the watcher fail its polls, go stale or call on_error more than once"
if grep -q 'kind=watcher_stale' "$T/err"; then fail "watcher_stale for a channel that is read"; fi

# A task known as status 5 (state file), then unreadable on the next run's page: it is still
# on the page, so it is not missing (no on_missing, no kind=task_missing).
cp "$T/page.json" "$T/page_unread.json"
sed 's/"status":"Recording"/"status":5/' "$T/page_unread.json" >"$T/page.json"
cat >"$T/known.lua" <<LUA
local watch = require "rec.watch"
local store = require "rec.store"
rec.configure{ qingcloud = { base_url = "http://127.0.0.1:$PORT", access_key_id = "QCODDKEY01",
                             secret_access_key = "qc-odd-secret-0123", retries = 0 } }
local missing = 0
local h = watch.qingcloud{ app_id = "app", channel = "room", every = 0.5,
  db = store.open(os.getenv("STATE2")), on_missing = function() missing = missing + 1 end }
rec.sleep(tonumber(arg[1]))
local i = h:info()[1]
h:stop()
print("known", missing, i.good_polls >= 1 and "polled" or "no-poll")
LUA
STATE2="$T/state2.db" "$RECWATCH" run "$T/known.lua" 1 >"$T/out3" 2>"$T/err" || fail "known script (1) failed"
grep -qx 'known	0	polled' "$T/out3" || fail "task 81 at status 5 was not polled: $(cat "$T/out3")"
cp "$T/page_unread.json" "$T/page.json"
STATE2="$T/state2.db" "$RECWATCH" run "$T/known.lua" 2 >"$T/out3" 2>"$T/err" || fail "known script (2) failed"
grep -qx 'known	0	polled' "$T/out3" || fail "an unreadable task still on the page was called missing: $(cat "$T/out3")"
if grep -q 'kind=task_missing' "$T/err"; then fail "kind=task_missing for a task still on the page"; fi
echo ok
