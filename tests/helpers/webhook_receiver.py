#!/usr/bin/env python3
"""webhook_receiver: a local webhook endpoint for the workflow tests.

Binds 127.0.0.1 on an ephemeral port, prints "PORT <n>" on stdout (flushed), and appends one
JSON line per POST to --out:
  {"path": "/hook", "alert_id": <X-Alert-Id header or null>, "status": <HTTP status answered>,
   "body": <the parsed JSON body, or the raw text>, "sign_ok": <true/false/null>}

It answers like the platform named by the first path segment:
  /dingtalk  {"errcode":0,"errmsg":"ok"}   (with --dingtalk-secret: checks timestamp/sign query
                                          parameters; a bad signature gets errcode 310000)
  /feishu    {"code":0,"msg":"success"}   (with --feishu-secret: checks timestamp/sign in the body;
                                          a bad one gets code 19021)
  /wecom     {"errcode":0,"errmsg":"ok"}
  /slack     ok   (text/plain)
  anything else: {"ok":true}
While the file --down-file exists, or for the first --fail-first POSTs, it is "down": it answers
500 (or, with --down-mode errcode, a 200 whose errcode/code is non-zero). --delay S waits S
seconds after recording a POST before answering (to kill a client mid-delivery).
Signatures are checked with Python's hmac/hashlib/base64, independently of recwatch.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = None
lock = threading.Lock()
count = {"n": 0}


def dingtalk_sign(secret, ts):
    mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def feishu_sign(secret, ts):
    mac = hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):  # quiet
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("utf-8", "replace")
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        url = urllib.parse.urlsplit(self.path)
        kind = url.path.strip("/").split("/")[0]
        with lock:
            count["n"] += 1
            nth = count["n"]
        down = (args.down_file and os.path.exists(args.down_file)) or nth <= args.fail_first
        sign_ok = None
        if kind == "dingtalk" and args.dingtalk_secret:
            q = urllib.parse.parse_qs(url.query)
            ts, sign = q.get("timestamp", [""])[0], q.get("sign", [""])[0]
            sign_ok = bool(ts) and sign == dingtalk_sign(args.dingtalk_secret, ts) and \
                abs(int(ts) / 1000 - time.time()) < 3600
        if kind == "feishu" and args.feishu_secret and isinstance(body, dict):
            ts, sign = str(body.get("timestamp", "")), body.get("sign", "")
            sign_ok = bool(ts) and sign == feishu_sign(args.feishu_secret, ts) and \
                abs(int(ts) - time.time()) < 3600
        status, ctype = 200, "application/json"
        if kind == "dingtalk":
            reply = {"errcode": 0, "errmsg": "ok"}
            if sign_ok is False:
                reply = {"errcode": 310000, "errmsg": "sign not match"}
        elif kind == "feishu":
            reply = {"code": 0, "msg": "success"}
            if sign_ok is False:
                reply = {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}
        elif kind == "wecom":
            reply = {"errcode": 0, "errmsg": "ok"}
        elif kind == "slack":
            reply, ctype = "ok", "text/plain"
        else:
            reply = {"ok": True}
        if down:
            if args.down_mode == "errcode" and kind in ("dingtalk", "wecom"):
                reply = {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
            elif args.down_mode == "errcode" and kind == "feishu":
                reply = {"code": 9499, "msg": "Bad Request"}
            else:
                status, reply, ctype = 500, "<html>500 Internal Server Error</html>", "text/html"
        rec = {"path": url.path, "alert_id": self.headers.get("X-Alert-Id"), "status": status,
               "down": bool(down), "body": body, "sign_ok": sign_ok, "t": time.time()}
        with lock:
            with open(args.out, "a") as f:
                f.write(json.dumps(rec) + "\n")
        if args.delay > 0:
            time.sleep(args.delay)
        data = (reply if isinstance(reply, str) else json.dumps(reply)).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client died mid-delivery (the kill -9 test does that on purpose)


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--down-file")
    p.add_argument("--down-mode", choices=["500", "errcode"], default="500")
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--dingtalk-secret")
    p.add_argument("--feishu-secret")
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
