#!/usr/bin/env python3
"""fleetlog.py: the simulator's request log as the fleet stories read it.

  fleetlog.py collect SIM OUT   polls SIM/_sim/requests every 0.2 s until killed and appends
                                every entry not seen before to OUT (JSON lines); the ring
                                is bounded, the file is not
  fleetlog.py collect SIM OUT --once   one look, then exit
  fleetlog.py mark SIM NAME     a request the log keeps (GET /_fleet/mark/NAME, a 404):
                                the story's events on the simulator's clock

As a module (sys.path has tests/fleet): load(path) -> the entries sorted by t; mark(entries,
name) -> the t of a mark; polls(entries) -> the provider queries with an account and a member;
runs(polls) -> {account: [[member, first t, last t, count], ...]} in time order.
"""
import json
import sys
import time
import urllib.request


def key(e):
    return (e.get("t"), e.get("method"), e.get("path"), e.get("member"), e.get("account"), e.get("status"))


def collect(sim, out, once=False):
    seen = set()
    try:
        seen = {key(e) for e in load(out)}
    except OSError:
        pass
    with open(out, "a") as f:
        while True:
            try:
                with urllib.request.urlopen(sim + "/_sim/requests", timeout=5) as r:
                    entries = json.load(r)
            except Exception:   # the simulator is busy or gone: try again
                if once:
                    once += 1
                    if once > 20:
                        raise
                time.sleep(0.2)
                continue
            for e in entries:
                k = key(e)
                if k not in seen:
                    seen.add(k)
                    f.write(json.dumps(e) + "\n")
            f.flush()
            if once:
                return
            time.sleep(0.2)


def mark(sim, name):
    try:
        urllib.request.urlopen(sim + "/_fleet/mark/" + name, timeout=5).read()
    except Exception:
        pass   # a 404 is what we want: the request is logged


def load(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass   # a line cut by a kill
    out.sort(key=lambda e: e.get("t", 0))
    return out


def mark_t(entries, name):
    for e in entries:
        if e.get("path") == "/_fleet/mark/" + name:
            return e["t"]
    raise SystemExit("no mark %s in the request log" % name)


def wall_offset(entries, marks_path):
    """wall time - sim time, from the marks (their wall time is taken just before the request)"""
    walls = dict(l.split() for l in open(marks_path) if l.strip())
    return min(float(walls[n]) - mark_t(entries, n) for n in walls)


def polls(entries):
    return [e for e in entries if e.get("account") and e.get("path", "").startswith("/v1/")]


def runs(ps):
    by = {}
    for e in ps:
        r = by.setdefault(e["account"], [])
        if r and r[-1][0] == e.get("member"):
            r[-1][2] = e["t"]
            r[-1][3] += 1
        else:
            r.append([e.get("member"), e["t"], e["t"], 1])
    return by


if __name__ == "__main__":
    if sys.argv[1] == "collect":
        collect(sys.argv[2], sys.argv[3], "--once" in sys.argv[4:])
    elif sys.argv[1] == "mark":
        mark(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("usage: fleetlog.py collect SIM OUT | mark SIM NAME")
