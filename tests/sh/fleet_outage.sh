# Story 5 of issue 24, minimal movement and a database outage. 4 members share 60 Agora
# accounts (180 recordings; 12 fail during the story, some of them while the database is down).
# 1. A 5th member joins: the units that move all go to it, about 1/5 of them (rendezvous
#    hashing); asserted: every moved unit went to m5, and between 1/10 and 2/5 of the units moved.
# 2. PostgreSQL is stopped (immediate) for 3 s, then started again. Asserted: every member
#    stops polling within D of its last successful renewal (as the database recorded it, +0.1 s
#    for the two clocks and a request's transit), polls again after the restart (every account),
#    and the outage is loud while it lasts: each member logs kind=store_outage (once), its
#    /healthz answers 503 and its recwatch_store_up is 0; both recover afterwards. No alert is
#    raised twice under two ids, every expected alert arrives, and every poll of the story was
#    made by the unit's lease holder (tests/fleet/fleetlog.py check).
set -eu
. "$SRC/tests/fleet/lib.sh"
export FLEET_ACCOUNTS=60 FLEET_SESSIONS=180 FLEET_FAIL=12 FLEET_FAIL_AT=16 FLEET_FAIL_STEP=0.3
pg_start
fleet_sim
fleet_receiver
fleet_sessions 180 60
fleet_audit
fleet_collect
for m in m1 m2 m3 m4; do fleet_member "$m" --every 1 --webhook "$HOOK"; done
wait_until 60 settled 4 || fail "the 4 members never shared the units: $(owners)"
sleep 1
owners >"$W/four"
fleet_member m5 --every 1 --webhook "$HOOK"
wait_until 30 settled 5 || fail "m5 never got a unit: $(owners)"
sleep 2
owners >"$W/five"
python3 - "$W" <<'PY' || fail "minimal movement"
import sys
W = sys.argv[1]
rd = lambda f: {l.split("|")[0]: l.split("|")[1] for l in open(W + "/" + f).read().split()}
four, five = rd("four"), rd("five")
assert len(four) == len(five) == 60, (len(four), len(five))
moved = {u: (four[u], five[u]) for u in four if four[u] != five[u]}
wrong = {u: v for u, v in moved.items() if v[1] != "m5"}
assert not wrong, "units that moved elsewhere than to the new member: %r" % wrong
print("a 5th member joined: %d of 60 units moved (%.0f%%; 1/5 would be 12), all to m5" % (len(moved), 100.0 * len(moved) / 60))
assert 6 <= len(moved) <= 24, "%d units moved" % len(moved)
PY
# the outage: at sim t >= 15, so that failures happen before, during and after it
while [ "$(python3 -c 'import json,sys; print(int(max(json.loads(l)["t"] for l in open(sys.argv[1]))))' "$W/req.jsonl")" -lt 15 ]; do sleep 0.2; done
mark pgstop
pg_kill
S=$(now)
sleep 1.5
for m in m1 m2 m3 m4 m5; do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 "${MURL[$m]}/healthz" >"$W/$m.health.down"
  curl -s --max-time 5 "${MURL[$m]}/metrics" | awk '$1 == "recwatch_store_up" {print $2}' >"$W/$m.up.down"
done
sleep 1.5
mark pgstart
pg_restart
echo "the database was down $(since "$S") s"
for m in m1 m2 m3 m4 m5; do
  grep -q . "$W/$m.health.down" && [ "$(cat "$W/$m.health.down")" = 503 ] || fail "$m: /healthz answered $(cat "$W/$m.health.down") during the outage"
  [ "$(cat "$W/$m.up.down")" = 0 ] || fail "$m: recwatch_store_up was '$(cat "$W/$m.up.down")' during the outage"
done
healthy() { local m; for m in m1 m2 m3 m4 m5; do
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${MURL[$m]}/healthz")" = 200 ] || return 1
  [ "$(curl -s --max-time 5 "${MURL[$m]}/metrics" | awk '$1 == "recwatch_store_up" {print $2}')" = 1 ] || return 1
done; }
wait_until 30 healthy || fail "the members did not recover after the outage: $(for m in m1 m2 m3 m4 m5; do curl -s --max-time 5 "${MURL[$m]}/healthz"; done)"
echo "healthy again $(since "$S") s after the stop"
sleep 5   # every account polled again; the failures after the outage alerted
EXPECTED=$((180 + 24))
all_arrived() { python3 -c '
import json, sys
got = {(r["body"].get("sid"), r["body"].get("event")) for r in map(json.loads, open(sys.argv[1])) if r["answer"] == "ok"}
sys.exit(0 if len(got) >= int(sys.argv[2]) else 1)' "$W/hooks.jsonl" "$EXPECTED"; }
wait_until 60 all_arrived || echo "(not every alert arrived: the check below says which)"
mark end
fleet_collected
lease_log
for m in m1 m2 m3 m4 m5; do
  n=$(grep -c 'kind=store_outage ' "$W/$m.err" || true)
  [ "$n" = 1 ] || fail "$m logged kind=store_outage $n times (expected once)"
  grep -q 'kind=store_outage_over' "$W/$m.err" || fail "$m never said the outage was over"
done

python3 - "$W" <<'PY' || fail "the outage story"
import json, os, sys, collections
sys.path.insert(0, os.environ["SRC"] + "/tests/fleet")
import fleetlog as L
W = sys.argv[1]
r, T, D = (float(os.environ[k]) for k in ("RECWATCH_FLEET_RENEW", "RECWATCH_FLEET_LEASE", "RECWATCH_FLEET_ACT"))
e = L.load(W + "/req.jsonl")
t_stop, t_start, t_end = L.mark_t(e, "pgstop"), L.mark_t(e, "pgstart"), L.mark_t(e, "end")
lim = [x for x in e if x.get("status") == 429]
assert not lim, "answers of 429: %d" % len(lim)
ps = L.polls(e)
off = L.wall_offset(e, W + "/marks")
ren = {}
for l in open(W + "/renewals").read().split():
    m, at = l.split("|")
    if float(at) - off < t_start:
        ren[m] = max(ren.get(m, 0.0), float(at) - off)   # on the simulator's clock
stops = []
for m in ("m1", "m2", "m3", "m4", "m5"):
    last = max((x["t"] for x in ps if x["member"] == m and x["t"] < t_start), default=None)
    assert last is not None, "%s never polled" % m
    assert m in ren, "no renewal of %s recorded" % m
    stops.append((last - ren[m], m, last - t_stop, ren[m] - t_stop))
    assert last - ren[m] <= D + L.SLACK, "%s polled %.2f s after its last renewal (D = %.1f)" % (m, last - ren[m], D)
    during = [x for x in ps if x["member"] == m and ren[m] + D + L.SLACK < x["t"] < t_start]
    assert not during, "%s polled during the outage: %r" % (m, during[:2])
stops.sort()
print("the database stopped: each member's last poll after its last renewal: %s s (D = %.1f); after the stop command: %s s"
      % (", ".join("%s %.2f" % (m, d) for d, m, _, _ in stops), D, ", ".join("%s %.2f" % (m, a) for _, m, a, _ in stops)))
resumed = {}
for x in ps:
    if x["t"] > t_start:
        resumed.setdefault(x["account"], x["t"] - t_start)
assert len(resumed) == 60, "accounts never polled again after the restart: %d of 60" % len(resumed)
v = sorted(resumed.values())
print("after the restart every account was polled again: %.2f s (first) / %.2f s (median) / %.2f s (last)" % (v[0], v[len(v) // 2], v[-1]))
L.judge(e, W, t_end)
hooks = [json.loads(x) for x in open(W + "/hooks.jsonl")]
key = lambda h: (h["body"].get("sid"), h["body"].get("event"))
want = {("sid-%d" % i, "started") for i in range(1, 181)} | \
       {("sid-%d" % i, ev) for i in range(1, 13) for ev in ("failed", "ended")}
got = {key(h) for h in hooks if h["answer"] == "ok"}
assert want <= got, "never accepted: %r" % sorted(want - got)[:10]
ids = collections.defaultdict(set)
for h in hooks:
    ids[key(h)].add(h["alert_id"])
two = {k: v for k, v in ids.items() if len(v) > 1}
assert not two, "duplicates under a new id: %r" % two
dups = len(hooks) - len(ids)
print("alerts: %d expected, all arrived, %d duplicate POSTs, none under a new id" % (len(want), dups))
PY
logs_clean
echo "ok: minimal movement, a loud outage, no duplicate under a new id"
