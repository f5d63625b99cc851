# Story 3 of issue 24, the exact rate limit: one Agora account (limit 10 queries/s, enforced by
# the simulator per account: 429 beyond it) with 200 recordings polled every 10 s (twice what
# the limit allows: the owner always sends at the limit), while a member joins or leaves every
# 2 s (joins, graceful leaves by SIGTERM, and one kill -9). The account moves between members;
# each new owner starts with an empty pacer and must wait out the old owner's last second.
# Asserts: 0 answers of 429; the account changed hands at least twice (else the story proved
# nothing); every poll was made by the lease's holder at that instant, and a new holder's
# first poll came at least 1 s after its gain (tests/fleet/fleetlog.py check, against the
# lease changes the database recorded); prints the handovers (gap between the old owner's
# last poll and the new owner's first), the busiest second and the rate reached.
set -eu
. "$SRC/tests/fleet/lib.sh"
export FLEET_ACCOUNTS=1 FLEET_SESSIONS=200
pg_start
fleet_sim
fleet_receiver
fleet_sessions 200 1
fleet_audit
fleet_collect
M="--every 10 --webhook $HOOK"
fleet_member m1 $M
wait_until 60 settled 1 || fail "m1 never took the unit: $(owners)"
sleep 2
mark begin
# the churn: every 2 s one member joins or leaves
for step in "join m2" "join m3" "leave m1" "join m4" "kill m2" "join m5" "leave m3" "join m1" "leave m4" "leave m5"; do
  set -- $step
  case $1 in
    join) fleet_member "$2" $M ;;
    leave) fleet_kill "$2" TERM; wait "${MPID[$2]}" 2>/dev/null || true; unset "MPID[$2]" ;;
    kill) fleet_kill "$2" ;;
  esac
  echo "$(owners | tr '\n' ' ') after $step"
  sleep 2
done
sleep 2
mark end
fleet_collected
lease_log

python3 - "$W" <<'PY' || fail "the rate limit story"
import os, sys
sys.path.insert(0, os.environ["SRC"] + "/tests/fleet")
import fleetlog as L
W = sys.argv[1]
e = L.load(W + "/req.jsonl")
t0, t1 = L.mark_t(e, "begin"), L.mark_t(e, "end")
lim = [x for x in e if x.get("status") == 429]
ps = [x for x in L.polls(e) if t0 <= x["t"] <= t1]
rs = L.runs(ps).get("c01", [])
hand = ["%s->%s %.2f s" % (a[0], b[0], b[1] - a[2]) for a, b in zip(rs, rs[1:])]
print("polls %d in %.1f s (%.2f/s), handovers %d: %s" % (len(ps), t1 - t0, len(ps) / (t1 - t0), len(rs) - 1, ", ".join(hand)))
# the strictest window: the most accepted requests in any 1 s
ts = sorted(x["t"] for x in ps if x.get("status") != 429)
j, worst = 0, 0
for i, t in enumerate(ts):
    while ts[j] <= t - 1.0:
        j += 1
    worst = max(worst, i - j + 1)
print("the busiest second held %d requests; answers of 429: %d" % (worst, len(lim)))
L.judge(e, W, t1)
assert not lim, "429s: %r" % lim[:3]
assert len(rs) >= 3, "the account changed hands %d times: the churn proved nothing" % (len(rs) - 1)
PY
logs_clean
echo "ok: exact rate limit under churn"
