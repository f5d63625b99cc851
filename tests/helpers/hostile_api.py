#!/usr/bin/env python3
"""hostile_api: a QingCloud RTC / Agora stand-in that answers with the raw bodies of a plan,
for tests of what a watcher does with replies that are valid JSON of the wrong types.

usage: hostile_api.py PLAN.json  -> prints "PORT <n>" (flushed), serves until killed
PLAN: {"qingcloud": [body, ...], "agora": [body, ...]}; each body is a string sent as is with
status 200 and Content-Type application/json. Requests to /v1/cloudRecord take the next
qingcloud body, requests to /v1/apps/.../query the next agora body; the last body of a list is
repeated. Every request is appended to PLAN.log as "<kind> <n>". Credentials and signatures
are not checked."""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

plan = json.load(open(sys.argv[1]))
log = open(sys.argv[1] + ".log", "a")
lock = threading.Lock()
served = {"qingcloud": 0, "agora": 0}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        kind = "qingcloud" if self.path.startswith("/v1/cloudRecord") else "agora"
        with lock:
            bodies = plan.get(kind) or ["{}"]
            n = served[kind]
            served[kind] = n + 1
            body = bodies[min(n, len(bodies) - 1)].encode()
            log.write("%s %d\n" % (kind, n + 1))
            log.flush()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print("PORT", srv.server_address[1], flush=True)
srv.serve_forever()
