#!/usr/bin/env python3
"""agora_ctl_api: a stand-in for Agora's control calls that answers from a plan, for tests of
rec.agora.* over real HTTP (tests/sh/agora_control.sh).

usage: agora_ctl_api.py PLAN.json  -> prints "PORT <n>" (flushed), serves on 127.0.0.1 until
killed. PLAN: {"<key>": [[status, body], ...], ...}; <key> is the call's last path segment
(acquire, start, query, update, updateLayout, stop), optionally followed by "@<cname>" to
give one channel its own story (the request body's cname; query has none). The next pair of
the list answers; the last one repeats. Every request is appended to PLAN.log as one JSON
line: {"t": monotonic seconds, "method", "path", "body", "auth": Authorization given}."""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

plan = json.load(open(sys.argv[1]))
log = open(sys.argv[1] + ".log", "a")
lock = threading.Lock()
served = {}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, body_in):
        verb = self.path.rstrip("/").rsplit("/", 1)[-1]
        cname = None
        try:
            cname = json.loads(body_in or "{}").get("cname")
        except Exception:
            pass
        key = verb + "@" + cname if cname and (verb + "@" + cname) in plan else verb
        with lock:
            pairs = plan.get(key) or [[404, '{"message":"no Route matched with those values"}']]
            n = served.get(key, 0)
            served[key] = n + 1
            status, body = pairs[min(n, len(pairs) - 1)]
            log.write(json.dumps({"t": time.monotonic(), "method": self.command, "path": self.path,
                                  "body": body_in, "auth": bool(self.headers.get("Authorization"))}) + "\n")
            log.flush()
        body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer("")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.answer(self.rfile.read(n).decode("utf-8", "replace"))


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print("PORT %d" % srv.server_address[1], flush=True)
srv.serve_forever()
