# Discovery's resource_lookup as an http URL (issue 22): asked with ?sid=&cname=&uid=, a 200
# with the id as text makes the discovered session polled; a URL that does not answer keeps
# it watched by notifications only, said in the log without the URL (it may hold a token).
set -u
T=$(mktemp -d)
SPID=
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; tail -30 "$T/log" 2>/dev/null; exit 1; }
command -v python3 >/dev/null || { echo "no python3: skipped"; exit 77; }

mkdir -p "$T/www"
printf 'sim-resource-healthy\n' >"$T/www/rid"
python3 - "$T/www" "$T/port" "$T/requests" <<'PY' &
import http.server, sys, os
root, portfile, reqs = sys.argv[1:4]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(reqs, "a") as f: f.write(self.path + "\n")
        p = os.path.join(root, self.path.split("?")[0].lstrip("/"))
        if not os.path.isfile(p):
            self.send_response(404); self.end_headers(); return
        body = open(p, "rb").read()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(portfile + ".tmp", "w").write(str(s.server_address[1])); os.rename(portfile + ".tmp", portfile)
s.serve_forever()
PY
SPID=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
PORT=$(cat "$T/port") || fail "no server"

EV='[{"at":10,"notice_id":"n1","event_type":40,"cname":"c &x","uid":"7","sid":"sid-healthy","sequence":1,"sendts":1}]'
"$RECWATCH" run --sim --virtual-time --until 100 "$SRC/tests/vtime/events/watch_events.lua" --discover \
  --lookup-file "http://127.0.0.1:$PORT/rid?token=SECRET-TOKEN-1" --events "$EV" --for 60 2>"$T/log" \
  || fail "run exited $?"
grep -q 'kind=agora_session_polled' "$T/log" || fail "not polled from the URL's answer"
grep -q 'change nil -> 5' "$T/log" || fail "no query result"
grep -qF '/rid?token=SECRET-TOKEN-1&sid=sid-healthy&cname=c%20%26x&uid=7' "$T/requests" || fail "lookup request: $(cat "$T/requests")"

# a URL that does not answer: notifications only, said, and the token never logged
"$RECWATCH" run --sim --virtual-time --until 100 "$SRC/tests/vtime/events/watch_events.lua" --discover \
  --lookup-file "http://127.0.0.1:1/rid?token=SECRET-TOKEN-2" --events "$EV" --for 60 --report 50 2>"$T/log" \
  || fail "run (down) exited $?"
grep -q 'kind=resource_lookup_failed' "$T/log" || fail "the failing lookup is not said"
grep -q 'kind=agora_session_polled' "$T/log" && fail "polled without a resource id"
grep -q '"mode":"notifications_only"' "$T/log" || fail "not shown as notifications only"
grep -q 'SECRET-TOKEN' "$T/log" && fail "the lookup URL's token reached the log"
echo ok
