#!/usr/bin/env python3
"""Raw HTTP client for simulator tests: sends the bytes of stdin (or the file given) to
HOST PORT in one write, reads until the server closes or --timeout seconds pass, prints
what came back. Exit status 0. Used for pipelining, garbage input and size caps.

usage: sim_raw.py HOST PORT [--timeout S] [--close-after N] < request-bytes
  --close-after N: close the socket after reading N bytes (client gone mid-reply)
  --trickle: send one byte at a time (requests split across many reads)"""
import socket
import time
import sys


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    timeout, close_after, trickle = 5.0, None, False
    args = sys.argv[3:]
    while args:
        if args[0] == "--timeout":
            timeout = float(args[1]); args = args[2:]
        elif args[0] == "--trickle":
            trickle = True; args = args[1:]
        elif args[0] == "--close-after":
            close_after = int(args[1]); args = args[2:]
        else:
            raise SystemExit("bad option " + args[0])
    data = sys.stdin.buffer.read()
    s = socket.create_connection((host, port), timeout=timeout)
    if trickle:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
            time.sleep(0.0005)
    else:
        s.sendall(data)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
            if close_after is not None and len(got) >= close_after:
                break
    except socket.timeout:
        pass
    s.close()
    sys.stdout.buffer.write(got)


if __name__ == "__main__":
    main()
