# Every sender against a local receiver that answers like the platform and checks the DingTalk
# and Feishu signatures with Python's hmac (independent of recwatch's OpenSSL code): correct
# signatures are accepted, a wrong secret is refused and reported as a failed delivery, a 200
# with a non-zero errcode/code is a failure, Slack's reply must be "ok".
source "$HELPERS/receiver_lib.sh"
start_receiver --dingtalk-secret SECding --feishu-secret feishu-sec --fail-first 1

cat >"$T/send.lua" <<'LUA'
local notify = require "rec.notify"
local base = "http://127.0.0.1:" .. os.getenv("PORT")
-- the receiver answers 500 to its first request
local ok, err = notify.webhook(base .. "/hook", { text = "first" })
assert(ok == nil and err.kind == "server" and err.status == 500, tostring(err))
assert(notify.webhook(base .. "/hook", { text = "plain", n = 1 }) == true)

local a = { text = "hello", alert_id = "id-1" }
assert(notify.dingtalk{ url = base .. "/dingtalk/robot/send?access_token=tok", secret = "SECding" }:send(a))
assert(notify.feishu{ url = base .. "/feishu/open-apis/bot/v2/hook/x", secret = "feishu-sec" }:send(a))
assert(notify.wecom{ url = base .. "/wecom/cgi-bin/webhook/send?key=k" }:send(a))
assert(notify.slack{ url = base .. "/slack/services/T/B/X" }:send(a))
assert(notify.webhook_sender{ url = base .. "/hook2", headers = { ["X-Extra"] = "1" } }:send(a))

-- wrong secrets: the platform answers 200 with an error code, which is a failed delivery
local ok2, e2 = notify.dingtalk{ url = base .. "/dingtalk/robot/send?access_token=tok", secret = "wrong" }:send(a)
assert(ok2 == nil and e2.code == 310000, tostring(e2))
local ok3, e3 = notify.feishu{ url = base .. "/feishu/open-apis/bot/v2/hook/x", secret = "wrong" }:send(a)
assert(ok3 == nil and e3.code == 19021, tostring(e3))
-- Slack: anything but "ok" is a failure (the plain hook answers JSON)
local ok4 = notify.slack{ url = base .. "/hook3" }:send(a)
assert(ok4 == nil)
-- an unreachable receiver is a network error, as a value
local ok5, e5 = notify.webhook("http://127.0.0.1:1/x", { text = "x" }, { timeout = 2 })
assert(ok5 == nil and e5.kind ~= nil)
print("senders ok")
LUA
PORT=$PORT "$RECWATCH" run "$T/send.lua"

python3 - "$T/got.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["path"].split("/")[1], []).append(r)
d_ok, d_bad = by["dingtalk"]
assert d_ok["sign_ok"] is True and d_bad["sign_ok"] is False, by["dingtalk"]
assert d_ok["body"] == {"msgtype": "text", "text": {"content": "hello\n(alert id-1)"}}, d_ok
assert d_ok["alert_id"] == "id-1"
f_ok, f_bad = by["feishu"]
assert f_ok["sign_ok"] is True and f_bad["sign_ok"] is False, by["feishu"]
assert f_ok["body"]["msg_type"] == "text" and f_ok["body"]["content"]["text"].startswith("hello")
assert isinstance(f_ok["body"]["timestamp"], str) and f_ok["body"]["sign"]
assert by["wecom"][0]["body"]["text"]["content"].startswith("hello")
assert by["slack"][0]["body"] == {"text": "hello\n(alert id-1)"}
assert by["hook"][0]["status"] == 500 and by["hook"][1]["body"] == {"text": "plain", "n": 1}
assert by["hook2"][0]["body"]["alert_id"] == "id-1" and by["hook2"][0]["body"]["text"] == "hello"
print("ok")
PY
