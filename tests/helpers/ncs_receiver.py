#!/usr/bin/env python3
"""A small NCS receiver for tests/sh/sim_events.sh, written from Agora's documentation
(reference §3), independent of recwatch's C: it verifies Agora-Signature (hex HMAC-SHA1) and
Agora-Signature-V2 (hex HMAC-SHA256) of the raw body with the secret, records every POST as a
JSON line, and answers 500 to the first FAIL_FIRST deliveries of events of type FAIL_TYPE.
usage: ncs_receiver.py SECRET_FILE PORT_FILE LOG_FILE FAIL_TYPE FAIL_FIRST"""
import hashlib, hmac, json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

secret = open(sys.argv[1], "rb").read().splitlines()[0]
port_file, log_file = sys.argv[2], sys.argv[3]
fail_type, fail_first = int(sys.argv[4]), int(sys.argv[5])
lock = threading.Lock()
failed = 0


class H(BaseHTTPRequestHandler):
    def do_POST(self):
        global failed
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        v1 = hmac.new(secret, body, hashlib.sha1).hexdigest()
        v2 = hmac.new(secret, body, hashlib.sha256).hexdigest()
        try:
            ev = json.loads(body)
        except ValueError:
            ev = None
        status = 200
        with lock:
            if ev and ev.get("eventType") == fail_type and failed < fail_first:
                failed += 1
                status = 500
            rec = {"path": self.path, "ctype": self.headers.get("Content-Type"),
                   "v1_ok": hmac.compare_digest(v1, self.headers.get("Agora-Signature", "")),
                   "v2_ok": hmac.compare_digest(v2, self.headers.get("Agora-Signature-V2", "")),
                   "event": ev, "status": status}
            with open(log_file, "a") as f:
                f.write(json.dumps(rec) + "\n")
        out = b"{}" if status == 200 else b"oops"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
