#!/usr/bin/env python3
"""events_burst: the NCS receiver under a burst (issue 22). Starts `recwatch run
--events-listen 127.0.0.1:0 --state FILE` with a script that takes every event and marks it
done, then posts signed NCS events at RATE per second for SECONDS from CONNS keep-alive
connections (open loop: each request has its scheduled send time), and prints the time to
answer: from the scheduled time (what Agora would see, queueing in the client included) and
from the send. Every answer must be 200 and every event committed.

usage: bench/events_burst.py [--rate 1000] [--seconds 10] [--conns 64] [--recwatch PATH]
Not a ctest: it measures, and its figure is in docs/performance.md ("NCS receiver")."""
import argparse, hashlib, hmac, http.client, json, os, re, sqlite3, subprocess, sys, tempfile
import threading, time

SECRET = b"bench-secret"
SCRIPT = """rec.configure{ agora = { ncs_secret = os.getenv("BENCH_NCS_SECRET") } }
rec.log.info("configured")
while true do rec.events.done(rec.events.next()) end
"""

def body(i):
    return json.dumps({"noticeId": "bench-%08d" % i, "productId": 3, "eventType": 33,
                       "notifyMs": 1700000000000 + i,
                       "payload": {"cname": "room-%d" % (i % 1000), "uid": "1", "sid": "sid-%d" % (i % 1000),
                                   "sequence": i, "sendts": 1700000000000 + i, "serviceType": 0,
                                   "details": {"msgName": "uploading_progress", "progress": 5000}}},
                      separators=(",", ":")).encode()

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] if xs else float("nan")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--recwatch", default=os.environ.get("RECWATCH", "build/recwatch"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="events_burst.")
    script, state, err = os.path.join(tmp, "s.lua"), os.path.join(tmp, "state.db"), os.path.join(tmp, "err")
    open(script, "w").write(SCRIPT)
    env = dict(os.environ, BENCH_NCS_SECRET=SECRET.decode())
    proc = subprocess.Popen([a.recwatch, "run", "--state", state, "--events-listen", "127.0.0.1:0", script],
                            stderr=open(err, "w"), env=env)
    url = None
    for _ in range(200):
        text = open(err).read()
        m = re.search(r"receiving Agora notifications on http://([^:]+):(\d+)(/\S+)", text)
        if m and "configured" in text:
            host, port, path = m.group(1), int(m.group(2)), m.group(3)
            url = True
            break
        time.sleep(0.05)
    if not url:
        proc.kill(); sys.exit("recwatch did not start: " + open(err).read())
    n = int(a.rate * a.seconds)
    bodies = [body(i) for i in range(n)]
    sigs = [hmac.new(SECRET, b, hashlib.sha256).hexdigest() for b in bodies]
    lat_sched, lat_send, bad = [], [], []
    lock = threading.Lock()
    t0 = time.monotonic() + 0.5

    def worker(k):
        c = http.client.HTTPConnection(host, port, timeout=30)
        for i in range(k, n, a.conns):
            due = t0 + i / a.rate
            d = due - time.monotonic()
            if d > 0: time.sleep(d)
            s = time.monotonic()
            c.request("POST", path, bodies[i], {"Agora-Signature-V2": sigs[i], "Content-Type": "application/json"})
            r = c.getresponse(); r.read()
            e = time.monotonic()
            with lock:
                lat_sched.append(e - due); lat_send.append(e - s)
                if r.status != 200: bad.append(r.status)
        c.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(a.conns)]
    for t in ts: t.start()
    for t in ts: t.join()
    wall = time.monotonic() - t0
    proc.terminate(); proc.wait()
    db = sqlite3.connect(state)
    stored = db.execute("SELECT count(*) FROM events").fetchone()[0]
    done = db.execute("SELECT count(*) FROM events WHERE done_at IS NOT NULL").fetchone()[0]
    print("events: %d at %.0f/s over %d connections in %.1f s (offered %.1f s)" % (n, a.rate, a.conns, wall, a.seconds))
    print("answers not 200: %d; stored: %d; processed (done): %d" % (len(bad), stored, done))
    for name, xs in (("from the scheduled time", lat_sched), ("from the send", lat_send)):
        print("time to answer %s: p50 %.1f ms, p99 %.1f ms, max %.1f ms" %
              (name, 1000 * pct(xs, 50), 1000 * pct(xs, 99), 1000 * max(xs)))
    sys.exit(1 if bad or stored != n else 0)

if __name__ == "__main__":
    main()
