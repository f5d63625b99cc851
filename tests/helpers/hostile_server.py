#!/usr/bin/env python3
"""hostile_server: a provider and webhook endpoint that answers with what a hostile or
broken server would, for the injection and secret-leak tests.

Binds 127.0.0.1 on an ephemeral port and prints "PORT <n>" (flushed). Every request is
appended to --out as one JSON line {"method","path","headers":[[name, value]...],"raw": the
request head as text}.
  GET /v1/cloudRecord...   200 with the QingCloud reply of --qc-first (a file) the first
                           time, of --qc-reply afterwards
  GET /v1/apps/...         401 whose body echoes the whole request (Authorization included)
  anything else (webhooks) 500 whose body echoes the whole request, URL and body included
"""
import argparse
import json
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def record(self, body):
        raw = self.requestline + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
        with lock, open(self.server.out, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "headers": list(self.headers.items()), "raw": raw}) + "\n")
        return raw + "\r\n" + body.decode("utf-8", "replace")

    def answer(self, status, body, ctype="application/json"):
        b = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        echo = self.record(b"")
        if self.path.startswith("/v1/cloudRecord"):
            with lock:
                name = self.server.qc_first or self.server.qc_reply
                self.server.qc_first = None
            with open(name, "rb") as f:
                self.answer(200, f.read())
        elif self.path.startswith("/v1/apps/"):
            self.answer(401, json.dumps({"message": "Invalid authentication credentials",
                                         "request": echo}))
        else:
            self.answer(500, "server error; you sent:\n" + echo, "text/plain")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        echo = self.record(body)
        self.answer(500, "server error; you sent:\n" + echo, "text/plain")


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--qc-reply", required=True)
    ap.add_argument("--qc-first")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.out, srv.qc_reply, srv.qc_first = a.out, a.qc_reply, a.qc_first
    print("PORT", srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
