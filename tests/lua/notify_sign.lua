-- notify signing against values computed independently with Python (hmac, hashlib, base64,
-- urllib.parse.quote(safe='')):
--   s = 'SEC' + '0'*61; ts = 1700000000000
--   base64(hmac.new(s, f'{ts}\n{s}', sha256))          -> fxCcCkNASwhG5DWDR43x6Q1DFZ1BV5ebbgru5/a9TmY=
--   fs = 'feishu-secret-abc'; t = 1700000000
--   base64(hmac.new(f'{t}\n{fs}', b'', sha256))        -> BNrkOVH4bA8eR8idZQa7kA3h/NvtShFdUuNud4zr1mw=
-- plus the bodies each platform expects.
local notify = require "rec.notify"

local secret = "SEC" .. ("0"):rep(61)
local url, sign = notify.dingtalk_sign("https://oapi.dingtalk.com/robot/send?access_token=T", secret,
                                       1700000000000)
assert(sign == "fxCcCkNASwhG5DWDR43x6Q1DFZ1BV5ebbgru5/a9TmY=", sign)
assert(url == "https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1700000000000"
              .. "&sign=fxCcCkNASwhG5DWDR43x6Q1DFZ1BV5ebbgru5%2Fa9TmY%3D", url)
-- a URL without a query string gets '?'
assert(notify.dingtalk_sign("http://x/send", secret, 1700000000000):find("^http://x/send%?timestamp="))

local fsign, fts = notify.feishu_sign("feishu-secret-abc", 1700000000)
assert(fsign == "BNrkOVH4bA8eR8idZQa7kA3h/NvtShFdUuNud4zr1mw=", fsign)
assert(fts == "1700000000")
-- the key is the string to sign and the message is empty: swapping them must differ
assert(fsign ~= rec.crypto.base64(rec.crypto.hmac_sha256("feishu-secret-abc", "1700000000\nfeishu-secret-abc")))

local function same(a, b) return rec.json.encode(a) == rec.json.encode(b) end
assert(same(notify.dingtalk_body("hi"), { msgtype = "text", text = { content = "hi" } }))
assert(same(notify.wecom_body("hi"), { msgtype = "text", text = { content = "hi" } }))
assert(same(notify.feishu_body("hi"), { msg_type = "text", content = { text = "hi" } }))
assert(same(notify.slack_body("hi"), { text = "hi" }))

-- senders need a URL; the logging sender does not, and never fails
assert(not pcall(notify.dingtalk, {}))
assert(notify.from_env{ url = "" }.kind == "log")
assert(notify.log():send{ text = "test alert", alert_id = "x" } == true)
assert(notify.sender_from{ url = "http://127.0.0.1:1/x", kind = "feishu" }.kind == "feishu")
assert(not pcall(notify.sender_from, { url = "http://x", kind = "carrier-pigeon" }))
print("notify_sign ok")
