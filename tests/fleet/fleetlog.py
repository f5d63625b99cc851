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
    seen, last = set(), 0.0
    try:
        old = load(out)
        seen = {key(e) for e in old}
        last = max((e["t"] for e in old), default=0.0)
    except OSError:
        pass
    with open(out, "a") as f:
        while True:
            try:
                with urllib.request.urlopen("%s/_sim/requests?since=%.6f" % (sim, last - 1.0), timeout=5) as r:
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
                    last = max(last, e.get("t", 0.0))
                    f.write(json.dumps(e) + "\n")
            f.flush()
            if once:
                return
            time.sleep(0.2)


def mark(sim, name, marks=None):
    if marks:
        with open(marks, "a") as f:
            f.write("%s %.6f\n" % (name, time.time()))
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


def leases(path):
    """audit_lease rows ("unit|owner|token|epoch", tests/fleet/lib.sh lease_log) by unit"""
    by = {}
    for l in open(path).read().split():
        unit, owner, token, at = l.split("|")
        by.setdefault(unit, []).append((float(at), owner, int(token)))
    for v in by.values():
        v.sort()
    return by


SLACK = 0.1   # the wall clock of a mark vs the simulator's arrival time, and a request's transit


def check(entries, lease_by, off, t_from, t_to, pace=1.0):
    """Every poll in [t_from, t_to] (sim time) against the lease log (wall = sim + off):
    it was made by the unit's holder at that instant, or by the previous holder within SLACK
    of the change (a request in flight); a holder's first poll after it gained the unit comes
    at least `pace` s (the old owner's last pacing window) after the gain. Returns (the
    violations, {unit: [(gain wall time, owner, first poll delay)]})."""
    bad, firsts, seen = [], {}, set()
    for e in polls(entries):
        if not (t_from <= e["t"] <= t_to):
            continue
        unit, m = "agora:" + e["account"], e["member"]
        t = e["t"] + off
        ch = lease_by.get(unit, [])
        i = max((k for k, c in enumerate(ch) if c[0] <= t), default=None)
        if i is not None and ch[i][1] == m:
            if (unit, i) not in seen:
                seen.add((unit, i))
                firsts.setdefault(unit, []).append((ch[i][0], m, t - ch[i][0], ch[i - 1][1] if i > 0 else None))
                if t - ch[i][0] < pace - SLACK:
                    bad.append("%s: %s polled %.2f s after gaining it (token %d), inside the old owner's last second"
                               % (unit, m, t - ch[i][0], ch[i][2]))
        elif i is not None and i > 0 and ch[i - 1][1] == m and t - ch[i][0] <= SLACK:
            pass   # sent before the change, arrived just after it
        elif i is not None and i + 1 < len(ch) and ch[i + 1][1] == m and ch[i + 1][0] - t <= SLACK:
            pass   # the clocks of the two logs: within SLACK
        else:
            bad.append("%s polled by %s at %.2f (sim) while %s" % (unit, m, e["t"],
                       "no lease existed" if i is None else "%s held it (token %d since %.2f)" % (ch[i][1], ch[i][2], ch[i][0] - off)))
    return bad, firsts


def judge(entries, w, t_to, what="polls"):
    """check() over the whole log up to t_to with the story's lease log ($W/leases) and
    marks; raises on a violation; prints the handovers' first-poll delays; returns firsts."""
    off = wall_offset(entries, w + "/marks")
    bad, firsts = check(entries, leases(w + "/leases"), off, float("-inf"), t_to)
    assert not bad, "%d %s outside their lease: %s" % (len(bad), what, "; ".join(bad[:5]))
    hand = sorted(d for v in firsts.values() for (_, _, d, prev) in v if prev)
    n = sum(1 for x in polls(entries) if x["t"] <= t_to)
    if hand:
        print("lease check: %d polls, each by the unit's holder; %d handovers, the new holder's first poll "
              "%.2f s (min) / %.2f s (median) / %.2f s (max) after its gain" % (n, len(hand), hand[0], hand[len(hand) // 2], hand[-1]))
    else:
        print("lease check: %d polls, each by the unit's holder; no handover" % n)
    return firsts


if __name__ == "__main__":
    if sys.argv[1] == "collect":
        collect(sys.argv[2], sys.argv[3], "--once" in sys.argv[4:])
    elif sys.argv[1] == "mark":
        mark(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        raise SystemExit("usage: fleetlog.py collect SIM OUT | mark SIM NAME")
