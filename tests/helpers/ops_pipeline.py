#!/usr/bin/env python3
"""The pipelining attack on the ops listener (tests/sh/ops_pipeline.sh, issue 20 item 6).

usage: ops_pipeline.py HOST PORT PID CONNS SECONDS [PATH]

Opens CONNS connections to HOST:PORT; each pipelines `GET PATH` (default /metrics) as fast as the socket
takes it and never reads a byte of the replies. For SECONDS it samples the VmRSS of PID
(/proc/PID/status) and, every 0.5 s, asks GET /healthz on a fresh connection (5 s timeout).
Then it closes the attack and samples RSS once more after 2 s. Prints one line:
  base_kb=.. peak_kb=.. after_kb=.. healthz_ok=.. healthz_tries=.. sent_requests=..
"""
import socket
import sys
import time


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def healthz(host, port):
    try:
        s = socket.create_connection((host, port), timeout=5)
        s.settimeout(5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        return data.startswith(b"HTTP/1.1 ")
    except OSError:
        return False


def main():
    host, port, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    nconns, seconds = int(sys.argv[4]), float(sys.argv[5])
    path = sys.argv[6] if len(sys.argv) > 6 else "/metrics"
    req = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode()
    block = req * 2000
    base = rss_kb(pid)
    conns = []
    for _ in range(nconns):
        s = socket.create_connection((host, port), timeout=5)
        s.setblocking(False)
        conns.append([s, 0])
    sent = 0
    peak = base
    ok = tries = 0
    start = time.monotonic()
    next_health = start + 0.5
    while time.monotonic() - start < seconds:
        progress = False
        for c in conns:
            try:
                n = c[0].send(block[c[1]:])
                c[1] = (c[1] + n) % len(block)
                sent += n
                progress = True
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                pass  # the server closed it: that is its right
        peak = max(peak, rss_kb(pid))
        if time.monotonic() >= next_health:
            tries += 1
            ok += healthz(host, port)
            peak = max(peak, rss_kb(pid))
            next_health = time.monotonic() + 0.5
        if not progress:
            time.sleep(0.01)
    for c in conns:
        c[0].close()
    time.sleep(2)
    after = rss_kb(pid)
    tries += 1
    ok += healthz(host, port)
    print("base_kb=%d peak_kb=%d after_kb=%d healthz_ok=%d healthz_tries=%d sent_requests=%d"
          % (base, peak, after, ok, tries, sent // len(req)))


main()
