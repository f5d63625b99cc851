#!/usr/bin/env python3
"""sqlite_lock: holds an exclusive SQLite lock on a state file, as another process would.

usage: sqlite_lock.py DB SECONDS [--when-key-contains TEXT] [--wait S]
Waits (up to --wait seconds, default 30) until DB exists and, with --when-key-contains, until
some kv value contains TEXT; then BEGIN EXCLUSIVE, prints "LOCKED <unix time>" (flushed), holds
the lock for SECONDS, commits, prints "RELEASED <unix time>". Exit 0, or 1 when it never got
the lock."""
import sqlite3
import sys
import time


def main():
    db, hold = sys.argv[1], float(sys.argv[2])
    args = sys.argv[3:]
    want, wait = None, 30.0
    while args:
        if args[0] == "--when-key-contains":
            want = args[1]; args = args[2:]
        elif args[0] == "--wait":
            wait = float(args[1]); args = args[2:]
        else:
            raise SystemExit("bad option " + args[0])
    deadline = time.time() + wait
    con = None
    while time.time() < deadline:
        try:
            con = sqlite3.connect(db, timeout=0.2, isolation_level=None)
            if want is None or any(want in (v or "") for (v,) in con.execute("select value from kv")):
                break
        except sqlite3.Error:
            pass
        if con is not None:
            con.close()
            con = None
        time.sleep(0.05)
    if con is None:
        print("NEVER", flush=True)
        return 1
    while True:
        try:
            con.execute("BEGIN EXCLUSIVE")
            break
        except sqlite3.OperationalError:
            if time.time() > deadline:
                print("NEVER", flush=True)
                return 1
            time.sleep(0.01)
    print("LOCKED %.3f" % time.time(), flush=True)
    time.sleep(hold)
    con.execute("COMMIT")
    print("RELEASED %.3f" % time.time(), flush=True)
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
