#!/usr/bin/env python3
"""sim_flood: loopback-only connection flood for the simulator's transport limits.

usage: sim_flood.py PORT MODE [N_IDLE N_SLOW]
  reach:   opens N_IDLE idle connections and N_SLOW slowloris ones (each sent half a request
           head), then asks for an Agora query with a fresh connection; prints
           "opened I S" and "status <code> in <seconds>"; exit 0 when the answer came.
  timeouts: checks that an idle connection and one whose head trickles in (a byte every
           0.2 s) are both closed by the server; prints "idle closed after <s>" and
           "slow closed after <s>".
Only ever connects to 127.0.0.1; raises its own descriptor limit to the hard limit."""
import base64
import resource
import socket
import sys
import time

HOST = "127.0.0.1"
AUTH = base64.b64encode(b"sim-agora-customer:sim-agora-secret-0123456789")  # the default story's
QUERY = (b"GET /v1/apps/sim-agora-app/cloud_recording/resourceid/sim-resource-healthy/sid/"
         b"sid-healthy/mode/mix/query HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + AUTH +
         b"\r\nConnection: close\r\n\r\n")


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def connect(port, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((HOST, port))
    return s


def status_of(port):
    t0 = time.time()
    s = connect(port, 20)
    s.sendall(QUERY)
    data = b""
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    return line.split(" ")[1] if line.startswith("HTTP/") else "none", time.time() - t0


def reach(port, n_idle, n_slow):
    conns = []
    for i in range(n_idle):
        conns.append(connect(port))
    for i in range(n_slow):
        s = connect(port)
        s.sendall(b"GET /v1/apps/x/cloud_recording HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        conns.append(s)
    print("opened", n_idle, n_slow, flush=True)
    code, took = status_of(port)
    print("status %s in %.2f" % (code, took), flush=True)
    for s in conns:
        s.close()
    return 0 if code == "200" else 1


def closed_after(s, trickle):
    t0 = time.time()
    s.settimeout(0.2)
    while time.time() - t0 < 30:
        try:
            if trickle:
                s.send(b"a")
            if s.recv(4096) == b"":
                return time.time() - t0
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.time() - t0
    return None


def timeouts(port):
    idle = connect(port)
    a = closed_after(idle, False)
    slow = connect(port)
    slow.sendall(b"GET / HTTP/1.1\r\nX-Slow: ")
    b = closed_after(slow, True)
    print("idle closed after", a, flush=True)
    print("slow closed after", b, flush=True)
    return 0 if a is not None and b is not None else 1


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    hard = raise_nofile()
    if mode == "reach":
        n_idle, n_slow = int(sys.argv[3]), int(sys.argv[4])
        room = hard - 64
        if n_idle + n_slow > room:  # a smaller machine: as many as the client may open
            scale = room / (n_idle + n_slow)
            n_idle, n_slow = int(n_idle * scale), int(n_slow * scale)
        return reach(port, n_idle, n_slow)
    return timeouts(port)


if __name__ == "__main__":
    sys.exit(main())
