#!/usr/bin/env python3
"""receiver.py: the fleet stories' webhook receiver (tests/sh/fleet_*.sh).

Binds 127.0.0.1 on an ephemeral port, prints "PORT <n>" (flushed) and appends one JSON line
per POST to --out: {"t": wall time, "member": the last path segment (member.lua appends its
member name to the URL), "alert_id": X-Alert-Id or the body's alert_id, "body": the JSON body,
"attempt": the n-th POST of this alert id, "answer": "ok" | "fail" | "hang"}.

--plan fail,hang,ok (default: ok): what the n-th POST of one alert id gets, the last entry
repeating: "ok" answers 200 {"ok":true} after --delay seconds, "fail" answers 500 at once,
"hang" holds the request --hang seconds (longer than the sender's timeout) and then closes
it without an answer. Each line is written when the POST arrives, before it is answered.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = None
lock = threading.Lock()
attempts = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("utf-8", "replace")
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        aid = self.headers.get("X-Alert-Id") or (body.get("alert_id") if isinstance(body, dict) else None)
        with lock:
            k = attempts.get(aid, 0) + 1
            attempts[aid] = k
            plan = args.plan.split(",")
            answer = plan[min(k, len(plan)) - 1]
            rec = {"t": time.time(), "member": self.path.rstrip("/").rsplit("/", 1)[-1],
                   "alert_id": aid, "body": body, "attempt": k, "answer": answer}
            with open(args.out, "a") as f:
                f.write(json.dumps(rec) + "\n")
        try:
            if answer == "hang":
                time.sleep(args.hang)
                self.close_connection = True
                return
            if answer == "fail":
                status, data = 500, b"<html>500 Internal Server Error</html>"
            else:
                if args.delay > 0:
                    time.sleep(args.delay)
                status, data = 200, b'{"ok":true}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the member died mid-delivery (on purpose)


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--plan", default="ok")
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--hang", type=float, default=3)
    args = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(f"PORT {srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
