# workflow_qingcloud_key_echo (issue 20 item 18): a QingCloud server that echoes the signed
# request URL in its error replies (400 and a 500 that is retried). The access key id is a
# credential: it must be in no log line (debug level, text and JSON) and not in /status's
# last_error, while the rest of the echoed URL stays readable (the test sees its subject).
source "$HELPERS/ops_lib.sh"
cat >"$T/echo.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    n = 0
    def log_message(self, *a): pass
    def do_GET(self):
        H.n += 1
        status = 500 if H.n % 2 else 400
        b = json.dumps({"code": "InvalidParameter", "ret_code": 1100,
                        "message": "bad request GET " + self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
s = HTTPServer(("127.0.0.1", 0), H)
print("PORT", s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$T/echo.py" >"$T/port" &
EXTRA_PIDS=$!
wait_for 10 grep -q PORT "$T/port" || fail "echo server did not start"
PORT=$(awk '/PORT/{print $2}' "$T/port")

cat >"$T/script.lua" <<LUA
local watch = require "rec.watch"
rec.configure{ qingcloud = { base_url = "http://127.0.0.1:$PORT", access_key_id = "QCECHOKEYID0042",
                             secret_access_key = "qc-echo-secret-0123", retries = 1,
                             retry_delays = { 0.05 } } }
local seen
watch.qingcloud{ app_id = "app", channel = "room", every = 60, on_error = function(e) seen = e end }
for _ = 1, 6000 do
  if seen then rec.log.warn("watcher error: %s", tostring(seen)) seen = false end
  if io.open(os.getenv("DONE") or "", "r") then break end
  rec.sleep(0.01)
end
os.exit(0)
LUA

for fmt in text json; do
  rm -f "$T/done"
  DONE="$T/done" rw_start --log-level debug --log-format $fmt run --listen 127.0.0.1:0 "$T/script.lua"
  has_error() { code /status >/dev/null && grep -q 'InvalidParameter' "$T/body"; }
  wait_for 30 has_error || fail "no last_error in /status ($fmt): $(cat "$T/body")"
  cp "$T/body" "$T/status.$fmt"
  touch "$T/done"
  wait "$RW_PID" || fail "recwatch failed ($fmt)"
  RW_PID=
  cp "$T/rw.err" "$T/err.$fmt"
  if grep -n 'QCECHOKEYID0042' "$T/err.$fmt" "$T/rw.out" "$T/status.$fmt"; then
    fail "the access key id is visible ($fmt)"
  fi
  grep -q 'app_id=app&channel=room' "$T/status.$fmt" || fail "the echo is not in last_error ($fmt): $(cat "$T/status.$fmt")"
  grep -Eq 'access_key_id=(\*|\[REDACTED\])' "$T/err.$fmt" || fail "no redacted access_key_id in the log ($fmt)"
  n=$(grep -c 'access_key_id=\*' "$T/err.$fmt")
  echo "$fmt: $n log lines carried the redacted access key id"
done
echo ok
