# A server that answers valid JSON of the wrong types, over real HTTP: recinfos [1, 2, null,
# true], total_count "abc", ids that are objects or "1\r\nX: y", status as an object, an Agora
# serverResponse that is not an object or a status that is not a number. Whatever the layers
# below make of these (a protocol error, or a reply the watcher must reject), the watchers stay
# alive, log the errors (kind=watcher_error), record nothing from them, and once the server
# answers well the 2 -> 52 and 5 -> 20 alerts arrive.
set -eu
T=$(mktemp -d)
HPID=
cleanup() { [ -n "$HPID" ] && kill "$HPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

python3 - "$T/plan.json" <<'PY'
import json, sys
def qc(recinfos, total):
    return json.dumps({"code": "success", "offset": 0, "limit": 100, "recinfos": recinfos, "total_count": total})
def task(id, status):
    return {"id": id, "app_id": "h", "channel": "c", "status": status}
def ag(sr):
    return json.dumps({"resourceId": "r", "sid": "s", "serverResponse": sr})
plan = {
  "qingcloud": [
    qc([1, 2, None, True], "abc"),
    qc([task({"x": 1}, 2)], 1),
    qc([task("1\r\nX: y", 2)], 1),
    qc([task(39, {"code": 2})], 1),
    qc("nope", {}),
    '{"code": "success", "recinfos": [',
    qc([task(39, 2)], 1), qc([task(39, 2)], 1), qc([task(39, 2)], 1),
    qc([task(39, 52)], 1),
  ],
  "agora": [
    ag(5), ag({"status": {"x": 1}}), ag({"status": "abc"}), ag([1, 2]), json.dumps([]),
    ag({"status": 5, "fileList": []}), ag({"status": 5}), ag({"status": 5}),
    ag({"status": 20}),
  ],
}
json.dump(plan, open(sys.argv[1], "w"))
PY
python3 "$HELPERS/hostile_api.py" "$T/plan.json" >"$T/port" &
HPID=$!
for _ in $(seq 100); do grep -q PORT "$T/port" 2>/dev/null && break; sleep 0.05; done
PORT=$(awk '/PORT/{print $2}' "$T/port")

cat >"$T/w.lua" <<'LUA'
local ok, err = xpcall(function()
local watch = require "rec.watch"
local notify = require "rec.notify"
local got = {}
local sink = notify.log{ name = "t" }
sink._send = function(_, a) got[#got + 1] = a.text return true end
local out = notify.outbox{ to = sink, every = 0.1 }
rec.configure{ qingcloud = { retries = 0 }, agora = { retries = 0 } }
local q = watch.qingcloud{ app_id = "h", channel = "c", every = 0.2,
  on_status = { [52] = function(t, old) out:alert("qc %s: %s -> %s", t.id, tostring(old), t.status) end } }
local a = watch.agora{ appid = "h", resourceid = "r", sid = "s", every = 0.2, start_every = 0.2,
  first_after = 0, start_timeout = 60,
  on_change = function(res, old) if res.status == 20 then out:alert("agora %s -> %s", tostring(old), res.status) end end }
local deadline = rec.now() + 20
while rec.now() < deadline and #got < 2 do rec.sleep(0.1) end
out:flush(2)
table.sort(got)
rec.log.info("GOT %s", table.concat(got, " | "))
for k in pairs(require("rec.store").open():keys("qingcloud/h/c/")) do
  assert(k == "qingcloud/h/c/39", "a key from a hostile reply: " .. k)
end
assert(got[1] == "agora 5 -> 20" and got[2] == "qc 39: 2 -> 52", table.concat(got, " | "))
local qi, ai = q:info()[1], a:info()[1]
rec.log.info("ERRORS qc=%d agora=%d", qi.errors, ai.errors)
assert(qi.errors >= 4 and ai.errors >= 3, "the hostile replies were errors")
q:stop() a:stop() out:stop()
end, debug.traceback)
if not ok then rec.log.error("%s", err) rec.exit(1) end
LUA
QINGCLOUD_RTC_API_BASE="http://127.0.0.1:$PORT" AGORA_API_BASE="http://127.0.0.1:$PORT" \
QINGCLOUD_ACCESS_KEY_ID=ak QINGCLOUD_SECRET_ACCESS_KEY=sk AGORA_CUSTOMER_ID=c AGORA_CUSTOMER_SECRET=s \
  "$RECWATCH" run "$T/w.lua" 2>"$T/log" || { rc=$?; cat "$T/log"; echo "FAIL: recwatch exited $rc"; exit 1; }
grep -E "GOT|ERRORS|kind=" "$T/log" | cut -c1-200
grep -q "kind=watcher_error" "$T/log"
echo ok
