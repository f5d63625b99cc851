# provider_contract: replies that break the documented types reach no script: through the
# bindings, each of issue 9's examples is a protocol error quoting the field and the type it
# had (a QingCloud task that breaks them is unreadable on its own, issue 20 item 4); an Agora 404 JSON object with any reason is not_found, while the route miss, an HTML
# 404 and an empty 404 are protocol. A tiny Python server plays the bodies.
set -u
T=$(mktemp -d)
fail() { echo "FAIL: $*" >&2; exit 1; }
cat >"$T/srv.py" <<'PY'
import http.server, json, sys
from urllib.parse import urlparse, parse_qs
QC = {
  "arr": '{"code":"success","total_count":4,"recinfos":[1,2,null,true]}',
  "abc": '{"code":"success","total_count":"abc","recinfos":[]}',
  "idobj": '{"code":"success","total_count":1,"recinfos":[{"id":{},"status":2}]}',
  "idcrlf": '{"code":"success","total_count":1,"recinfos":[{"id":"1\\r\\nX: y","status":2}]}',
  "stobj": '{"code":"success","total_count":1,"recinfos":[{"id":1,"status":{}}]}',
  "stname": '{"code":"success","total_count":1,"recinfos":[{"id":1,"status":"PushToQingstorFailed"}]}',
  "fine": '{"code":"success","total_count":1,"recinfos":[{"id":"7","status":"52","created":"2021-11-18 14:56:43"}]}',
  "failed": '{"code":"InternalError","message":"try again"}',
}
AG = {
  "srstatus": (200, '{"resourceId":"r","sid":"s","serverResponse":{"status":"five"}}'),
  "srarr": (200, '{"serverResponse":[1,2]}'),
  "gone": (404, '{"code":404,"reason":"failed to find worker"}'),
  "other": (404, '{"code":435,"reason":"session expired"}'),
  "route": (404, '{"message":"no Route matched with those values"}'),
  "html": (404, '<html><body>404 Not Found</body></html>'),
  "empty": (404, ''),
}
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        u = urlparse(self.path)
        if u.path == "/v1/cloudRecord":
            st, body = 200, QC[parse_qs(u.query)["channel"][0]]
        else:
            st, body = AG[u.path.split("/")[8]]
        b = body.encode()
        self.send_response(st)
        self.send_header("Content-Type", "text/html" if body.startswith("<") else "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$T/srv.py" >"$T/port" &
SP=$!
trap 'kill $SP 2>/dev/null; wait $SP 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
PORT=$(cat "$T/port")
[ -n "$PORT" ] || fail "no server"
export QINGCLOUD_RTC_API_BASE=http://127.0.0.1:$PORT AGORA_API_BASE=http://127.0.0.1:$PORT
export QINGCLOUD_ACCESS_KEY_ID=k QINGCLOUD_SECRET_ACCESS_KEY=s AGORA_CUSTOMER_ID=c AGORA_CUSTOMER_SECRET=s
"$RECWATCH" run /dev/stdin <<'LUA' || fail "contract script"
local function qc(ch, kind, quote)
  local res, err = rec.query_qingcloud{ app_id = "a", channel = ch, retries = 0 }
  assert(not res, ch .. ": accepted")
  assert(err.kind == kind, ch .. ": " .. tostring(err))
  assert(err.message:find(quote, 1, true), ch .. ": " .. err.message)
  return err
end
-- issue 20 item 4: a task that breaks the table is unreadable on its own (the field left
-- out, the reason in t.unreadable); the page is still read
local function unreadable(ch, i, field, quote)
  local res = assert(rec.query_qingcloud{ app_id = "a", channel = ch, retries = 0 })
  local t = res.recinfos[i]
  assert(type(t) == "table" and type(t.unreadable) == "string", ch .. ": not marked unreadable")
  assert(t.unreadable:find(quote, 1, true), ch .. ": " .. t.unreadable)
  assert(field == nil or t[field] == nil, ch .. ": " .. tostring(field) .. " kept")
  return t.unreadable
end
unreadable("arr", 1, nil, "the entry is a number (1), the documented type is an object")
qc("abc", "protocol", 'total_count is a string ("abc"), the documented type is an integer')
unreadable("idobj", 1, "id", "id is an object")
local u = unreadable("idcrlf", 1, "id", "id is a string")
assert(not u:find("\r", 1, true) and not u:find("\n", 1, true), "raw CR/LF in the reason")
unreadable("stobj", 1, "status", "status is an object")
unreadable("stname", 1, "status", 'status is a string ("PushToQingstorFailed")')
local e = qc("failed", "server", 'code "InternalError"')
assert(e.code == "InternalError" and e.status == 200 and not e.retryable and e.attempts == 1)
local res = assert(rec.query_qingcloud{ app_id = "a", channel = "fine" })
assert(res.recinfos[1].id == 7 and res.recinfos[1].status == 52)
assert(res.recinfos[1].status_name == "PushToQingstorFailed" and rec.qingcloud.failed[res.recinfos[1].status])
local function ag(sid, kind, quote)
  local r, err = rec.query_agora{ appid = "a", resourceid = "r", sid = sid, retries = 0 }
  assert(not r, sid .. ": accepted")
  assert(err.kind == kind, sid .. ": " .. tostring(err))
  assert(err.message:find(quote, 1, true), sid .. ": " .. err.message)
end
ag("srstatus", "protocol", 'serverResponse.status is a string ("five"), the documented type is an integer')
ag("srarr", "protocol", "serverResponse")
ag("gone", "not_found", "failed to find worker")
ag("other", "not_found", "session expired")
ag("route", "protocol", "no Route matched")
ag("html", "protocol", "check base_url")
ag("empty", "protocol", "check base_url")
print("contract ok")
LUA
echo "provider_contract ok"
