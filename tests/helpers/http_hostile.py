#!/usr/bin/env python3
"""A deliberately broken HTTP server for rec.http tests (tests/sh/http_hostile.sh). Listens on
127.0.0.1:0, prints "PORT n" and serves, one thread per connection, by path:
  /nonhttp    a line that is not HTTP, then close
  /badchunk   200 with a malformed chunked body
  /bighdr     200 with a 300 KB header line
  /echo       200, body = the request's header block (keep-alive)
  /count      200 "n" where n counts requests seen on any path (keep-alive)
  /drop       200 when it is the first request on its connection, else close without a
              reply (a keep-alive connection the server dropped)
Anything else: 404 (keep-alive)."""
import socket
import sys
import threading

count = 0
lock = threading.Lock()


def reply(conn, status, body, extra=b""):
    conn.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n" % (status, len(body), extra) + body)


def serve(conn):
    global count
    buf = b""
    nreq = 0
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            path = lines[0].split(b" ")[1] if len(lines[0].split(b" ")) > 1 else b"/"
            clen = 0
            for l in lines[1:]:
                if l.lower().startswith(b"content-length:"):
                    clen = int(l.split(b":", 1)[1])
            while len(buf) < clen:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            buf = buf[clen:]
            with lock:
                count += 1
            nreq += 1
            if path == b"/drop":
                if nreq > 1:
                    return
                reply(conn, 200, b"first")
                continue
            if path == b"/nonhttp":
                conn.sendall(b"SSH-2.0-OpenSSH_9.2 not http at all\r\n")
                return
            if path == b"/badchunk":
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nhello\r\n0\r\n\r\n")
                return
            if path == b"/bighdr":
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 300000 + b"\r\nContent-Length: 2\r\n\r\nok")
                return
            if path == b"/echo":
                reply(conn, 200, head + b"\r\n")
            elif path == b"/count":
                reply(conn, 200, str(count).encode())
            else:
                reply(conn, 404, b"no")
    except OSError:
        pass
    finally:
        conn.close()


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    print("PORT", s.getsockname()[1], flush=True)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
