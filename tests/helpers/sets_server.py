"""A watch set's URL for tests/sh/sets_url.sh: serves DIR/list.json on /list with an ETag
(sha1 of the body) and 304 on a matching If-None-Match; a body that starts with "STATUS nnn"
is answered with that status instead. /stats gives the count of 200s and 304s. Prints its
port on stdout, then serves until killed."""
import hashlib, http.server, json, os, sys

DIR = sys.argv[1]
stats = {"ok": 0, "not_modified": 0, "other": 0}


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/stats":
            return self.send(200, json.dumps(stats).encode())
        if path != "/list":
            return self.send(404, b"no")
        with open(os.path.join(DIR, "list.json"), "rb") as f:
            body = f.read()
        if body.startswith(b"STATUS "):
            stats["other"] += 1
            return self.send(int(body[7:10]), b"oops")
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        if self.headers.get("If-None-Match") == etag:
            stats["not_modified"] += 1
            return self.send(304, b"", [("ETag", etag)])
        stats["ok"] += 1
        self.send(200, body, [("ETag", etag), ("Content-Type", "application/json")])


srv = http.server.HTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
