# provider_faults: every simulator fault kind through rec.query_agora / rec.query_qingcloud
# (tests/scenarios/provider_faults.lua, one Agora sid per fault), checked both on the error
# values (kind, status, attempts, message) and in the sim's --log-requests (how many requests
# were made and what they got); 404 failed to find worker and 404 no Route; and a 429 with a
# Retry-After header (from a small Python server) honoured over a shorter retry delay.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

sim_start --scenario "$SRC/tests/scenarios/provider_faults.lua" --log-requests "$SIM_TMP/req.log"

cat >"$SIM_TMP/faults.lua" <<'LUA'
local RETRIES = 2
rec.configure{ agora = { retries = RETRIES, retry_delays = { 0.05, 0.1 } },
               qingcloud = { retries = RETRIES, retry_delays = { 0.05, 0.1 } } }
local function ag(sid, extra)
  local p = { appid = "pf-app", resourceid = "pf-rid", sid = sid }
  for k, v in pairs(extra or {}) do p[k] = v end
  return rec.query_agora(p)
end
local function ok(sid)
  local res, err = ag(sid)
  assert(res, sid .. ": " .. tostring(err))
  assert(res.status == 5 and res.sid == sid, sid)
end
local function failed(what, res, err, kind, status, attempts, retryable)
  assert(res == nil and err, what .. ": expected an error")
  assert(err.kind == kind, what .. ": kind " .. err.kind .. " (" .. err.message .. ")")
  assert(err.status == status, what .. ": status " .. tostring(err.status))
  assert(err.attempts == attempts, what .. ": attempts " .. err.attempts .. ", want " .. attempts)
  assert(err.retryable == retryable, what .. ": retryable " .. tostring(err.retryable))
  return err
end
local function has(err, text)
  assert(err.message:find(text, 1, true), "message lacks '" .. text .. "': " .. err.message)
end

ok("ok")
-- 500 html: retried, then a server error with an HTML excerpt
local e = failed("html500", nil, select(2, ag("html500")), "server", 500, RETRIES + 1, true)
has(e, "<html>"); has(e, "500 Internal Server Error"); has(e, "HTTP 500")
-- 206/65 and 504/62 once: retried, the call succeeds
ok("once206"); ok("once504")
e = failed("always504", nil, select(2, ag("always504")), "server", 504, RETRIES + 1, true)
assert(e.code == 62, tostring(e.code)); has(e, "request timeout")
-- dropped connection: network, retried
e = failed("drop", nil, select(2, ag("drop")), "network", nil, RETRIES + 1, true)
ok("once-drop")
-- malformed JSON: protocol, not retried, with a body excerpt
e = failed("malformed", nil, select(2, ag("malformed")), "protocol", 200, 1, false)
has(e, "not JSON"); has(e, '"serverResponse"')
-- truncated: protocol; a cut-off reply is treated as transient and retried
e = failed("truncated", nil, select(2, ag("truncated")), "protocol", nil, RETRIES + 1, true)
has(e, "malformed reply")
-- huge (20 MiB > the 8 MiB default cap): protocol, not retried
e = failed("huge", nil, select(2, ag("huge")), "protocol", nil, 1, false)
has(e, "larger than 8388608 bytes")
-- a delay longer than the timeout: timeout (per-call timeout and retries)
local t0 = rec.now()
e = failed("slow", nil, select(2, ag("slow", { timeout = 0.4, retries = 1 })), "timeout", nil, 2, true)
has(e, "timed out after 0.4 s")
assert(rec.now() - t0 < 1.4, "per-call timeout not applied: " .. (rec.now() - t0))
-- 429 once: rate_limited, retried, succeeds
ok("once429")
-- 404 failed to find worker: not_found, NOT retried
e = failed("gone", nil, select(2, ag("no-such-sid")), "not_found", 404, 1, false)
assert(e.code == 404); has(e, "failed to find worker")
-- retries = 0 per call: one attempt only
failed("html500 retries=0", nil, select(2, ag("html500", { retries = 0 })), "server", 500, 1, true)

-- QingCloud (faults by request number): 1-3 500 html, 4 malformed, 5 a 429, 6 truncated
local q = { app_id = "pf-app", channel = "pf-channel" }
e = failed("qc 500", nil, select(2, rec.query_qingcloud(q)), "server", 500, RETRIES + 1, true)
has(e, "<html>")
e = failed("qc malformed", nil, select(2, rec.query_qingcloud(q)), "protocol", 200, 1, false)
has(e, "not JSON"); has(e, '"recinfos"')
local res, err = rec.query_qingcloud(q)       -- 429, truncated, then the answer
assert(res and res.total_count == 1 and res.recinfos[1].id == 7, tostring(err))

-- 404 no Route: a base_url with an extra path prefix is a bug, not an ended recording
rec.configure{ agora = { base_url = os.getenv("AGORA_API_BASE") .. "/extra" } }
e = failed("no route", nil, select(2, ag("ok")), "protocol", 404, 1, false)
has(e, "no Route matched")
print("faults ok")
LUA
(cd "$SIM_TMP" && "$RECWATCH" run faults.lua) >"$SIM_TMP/out" 2>&1 \
  || { cat "$SIM_TMP/out" >&2; fail "faults.lua"; }
grep -q "faults ok" "$SIM_TMP/out" || fail "no ok line"
sleep 1.3  # the delayed replies are logged when the sim sends them

python3 - "$SIM_TMP/req.log" <<'PY' || fail "request log does not match"
import json, sys, re
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    m = re.search(r"/sid/([^/]+)/", r["path"])
    key = m.group(1) if m else r["path"]
    if r["path"].startswith("/extra/"):
        key = "extra"
    by.setdefault(key, []).append((r["status"], r["fault"]))
def want(key, expect):
    got = by.get(key, [])
    assert got == expect, f"{key}: {got} != {expect}"
want("ok", [(200, None)])
want("html500", [(500, "500_html")] * 4)            # 3 attempts, then 1 with retries=0
want("once206", [(206, "agora_206"), (200, None)])
want("once504", [(504, "agora_504"), (200, None)])
want("always504", [(504, "agora_504")] * 3)
# 3 attempts; libcurl itself resends once on a fresh connection when a reused keep-alive
# connection closes without a reply, so one attempt may show as two requests here
assert set(by["drop"]) == {(0, "drop")} and 3 <= len(by["drop"]) <= 6, by["drop"]
want("once-drop", [(0, "drop"), (200, None)])
want("malformed", [(200, "malformed_json")])
want("truncated", [(200, "truncated")] * 3)
want("huge", [(200, "huge")])
assert [f for _, f in by["slow"]] == ["delay", "delay"], by["slow"]
want("once429", [(429, "429"), (200, None)])
want("no-such-sid", [(404, None)])
want("extra", [(404, None)])
qc = [(r["status"], r["fault"]) for r in rows if r["provider"] == "qingcloud"]
assert qc == [(500, "500_html")] * 3 + [(200, "malformed_json"), (429, "429"),
              (200, "truncated"), (200, None)], qc
assert all(r["auth"] for r in rows if r["provider"] is not None), "bad credentials somewhere"
print("log ok:", len(rows), "requests")
PY
sim_stop

# Retry-After: a server answering 429 with "Retry-After: 1" once; the retry waits >= 1 s even
# though retry_delays says 0.05 s
cat >"$SIM_TMP/ra.py" <<'PY'
import http.server, json, sys, time
hits = []
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        hits.append(time.monotonic())
        if len(hits) == 1:
            body, code, extra = b'{"message":"API rate limit exceeded"}', 429, [("Retry-After", "1")]
        else:
            body, code, extra = json.dumps({"resourceId": "r", "sid": "s", "serverResponse":
                                            {"status": 5, "fileList": "s.m3u8"}}).encode(), 200, []
        # logged before the reply: the client may exit, and the test kill this server, as
        # soon as the reply arrives
        with open(sys.argv[1], "a") as f: f.write(json.dumps([code, hits[-1] - hits[0]]) + "\n")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra: self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("PORT", s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$SIM_TMP/ra.py" "$SIM_TMP/ra.log" >"$SIM_TMP/ra.port" &
RA_PID=$!
for _ in $(seq 100); do grep -q PORT "$SIM_TMP/ra.port" 2>/dev/null && break; sleep 0.05; done
RA_PORT=$(awk '/PORT/{print $2}' "$SIM_TMP/ra.port")
RA_BASE="http://127.0.0.1:$RA_PORT" "$RECWATCH" run /dev/stdin <<'LUA' >"$SIM_TMP/ra.out" 2>&1 || { kill $RA_PID; cat "$SIM_TMP/ra.out" >&2; fail "Retry-After script"; }
rec.configure{ agora = { base_url = os.getenv("RA_BASE"), customer_id = "c", customer_secret = "s",
                         retries = 2, retry_delays = { 0.05 } } }
local t0 = rec.now()
local res, err = rec.query_agora{ appid = "a", resourceid = "r", sid = "s" }
local dt = rec.now() - t0
assert(res and res.status == 5 and res.serverResponse.fileList == "s.m3u8", tostring(err))
assert(dt >= 0.95 and dt < 5, "Retry-After not honoured: " .. dt)
print("retry-after ok", dt)
LUA
kill $RA_PID; wait $RA_PID 2>/dev/null
python3 - "$SIM_TMP/ra.log" <<'PY' || fail "Retry-After server log"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r[0] for r in rows] == [429, 200] and rows[1][1] >= 0.95, rows
PY
echo "provider_faults ok"
