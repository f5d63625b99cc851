# Story 2 of issue 24, a paused owner is fenced: 3 members share 6 accounts (60 recordings,
# 12 of which fail while the owner is paused); every member runs member.lua --probe, a task
# that writes "<unit>/probe/<member>/<n>" under {unit = u} every
# 50 ms for every unit it ever held, also after it lost it. One member is SIGSTOPped for 3T
# (6 s), then SIGCONTinued. Asserts:
# - its units were taken over while it slept (leases: another owner, a higher token);
# - from the simulator's request log: after it resumes it sends no query (nor control call)
#   for a lost account until it has legitimately won it back: that is, at least 1 s (the new
#   owner's pacing wait) after it resumes, and never while the other member still polls it
#   (an account's pollers after the pause: the interim owner, then at most the old one, once);
# - from the database (tests/fleet/lib.sh fleet_audit: triggers record every lease change and
#   kv write on the database clock): none of its writes landed while another member held the
#   unit, and its log shows its writes refused (fenced) right after it resumed;
# - from the webhook receiver: it delivered no alert for a session of a lost account between
#   resuming and winning the account back; every alert of the story arrived.
set -eu
. "$SRC/tests/fleet/lib.sh"
export FLEET_ACCOUNTS=6 FLEET_SESSIONS=60 FLEET_FAIL=12 FLEET_FAIL_AT=2 FLEET_FAIL_STEP=0.1
pg_start
fleet_sim
fleet_receiver
fleet_sessions 60 6
fleet_audit
fleet_collect
for m in m1 m2 m3; do fleet_member "$m" --every 2 --webhook "$HOOK" --probe; done
wait_until 60 settled 3 || fail "the 3 members never shared the units: $(owners)"
sleep 2
owners >"$W/before"
VICTIM=$(awk -F'|' '{n[$2]++} END {for (m in n) if (n[m] > best) {best = n[m]; v = m}; print v}' "$W/before")
grep "|$VICTIM|" "$W/before" | cut -d'|' -f1 >"$W/lost"
echo "pausing $VICTIM, which holds: $(tr '\n' ' ' <"$W/lost")"
fleet_kill "$VICTIM" STOP
P=$(now)
mark stop   # after the signal: nothing of the victim's can arrive later
sleep 6
owners >"$W/during"
mark cont
fleet_kill "$VICTIM" CONT
echo "resumed after $(since "$P") s"
wc -l <"$W/$VICTIM.err" >"$W/cont_line"
sleep 5
mark end
fleet_collected
lease_log
wait_until 20 python3 -c '
import json, sys
got = {(r["body"].get("sid"), r["body"].get("event")) for r in map(json.loads, open(sys.argv[1])) if r["answer"] == "ok"}
sys.exit(0 if len(got) >= 60 + 24 else 1)' "$W/hooks.jsonl" || echo "(not every alert arrived yet; the check below says which)"

python3 - "$W" "$VICTIM" <<'PY' || fail "the paused member was not fenced"
import json, os, sys
sys.path.insert(0, os.environ["SRC"] + "/tests/fleet")
import fleetlog as L
W, victim = sys.argv[1], sys.argv[2]
lost = open(W + "/lost").read().split()
tok = {l.split("|")[0]: int(l.split("|")[2]) for l in open(W + "/before").read().split()}
during = {l.split("|")[0]: (l.split("|")[1], int(l.split("|")[2])) for l in open(W + "/during").read().split()}
for u in lost:
    assert u in during and during[u][0] != victim and during[u][1] > tok[u], \
        "%s not taken over during the pause: before token %d, during %r" % (u, tok[u], during.get(u))
e = L.load(W + "/req.jsonl")
t_stop, t_cont, t_end = L.mark_t(e, "stop"), L.mark_t(e, "cont"), L.mark_t(e, "end")
lim = [x for x in e if x.get("status") == 429]
assert not lim, "answers of 429: %d" % len(lim)
accts = [u.split(":", 1)[1] for u in lost]
u_of = {u.split(":", 1)[1]: u for u in lost}
back = {}
for a in accts:
    ps = [x for x in L.polls(e) if x["account"] == a and x["t"] > t_stop]
    during_stop = [x for x in ps if x["t"] < t_cont and x["member"] == victim]
    assert not during_stop, "%s polled by the stopped member: %r" % (a, during_stop[:2])
    rs = L.runs([x for x in ps if x["t"] > t_cont])
    members = [r[0] for r in rs.get(a, [])]
    interim = during[u_of[a]][0]
    assert members in ([interim], [interim, victim], [victim]), \
        "%s polled by %r after the resume (expected the interim owner %s, then at most %s, once)" % (a, members, interim, victim)
    if victim in members:
        back[a] = rs[a][members.index(victim)][1] - t_cont
        assert back[a] >= 1.0, "%s: the resumed member polled %.2f s after it resumed (before winning it back)" % (a, back[a])
L.judge(e, W, t_end)
print("paused 6 s: %d accounts taken over; the old owner won %d back, first poll %s s after resuming"
      % (len(accts), len(back), ", ".join("%.2f" % v for v in sorted(back.values())) or "-"))
n_before = int(open(W + "/cont_line").read())
log = open(W + "/" + victim + ".err").read().splitlines()[n_before:]
fenced = [x for x in log if "probe unit=" in x and any(("unit=%s " % u) in x for u in lost) and " fenced" in x]
ok_after = [x for x in log if "probe unit=" in x and any(("unit=%s " % u) in x for u in lost) and x.endswith(" ok")]
print("writes after the resume for lost units: %d refused (fenced), %d accepted (after winning back)" % (len(fenced), len(ok_after)))
assert fenced, "no write of the resumed member was refused: it never tried, or it landed"
# alerts: none sent by the victim for a lost account's session between resume and winning back
off = L.wall_offset(e, W + "/marks")
hooks = [json.loads(x) for x in open(W + "/hooks.jsonl")]
sess_acct = {("sid-%d" % i): "c%02d" % ((i - 1) % 6 + 1) for i in range(1, 61)}
for h in hooks:
    a = sess_acct.get(h["body"].get("sid"))
    if h["member"] == victim and a in accts and h["t"] - off > t_cont:
        won = t_cont + back.get(a, 1e9)
        assert h["t"] - off >= won, "the resumed member sent alert %s of %s %.2f s after resuming, before winning %s back" % (
            h["alert_id"], h["body"].get("sid"), h["t"] - off - t_cont, a)
got = {(h["body"].get("sid"), h["body"].get("event")) for h in hooks if h["answer"] == "ok"}
want = {("sid-%d" % i, "started") for i in range(1, 61)} | \
       {("sid-%d" % i, ev) for i in range(1, 13) for ev in ("failed", "ended")}
assert want <= got, "alerts that never arrived: %r" % sorted(want - got)[:10]
ids = {}
for h in hooks:
    k = (h["body"].get("sid"), h["body"].get("event"))
    ids.setdefault(k, set()).add(h["alert_id"])
dup = {k: v for k, v in ids.items() if len(v) > 1}
assert not dup, "one alert under two ids: %r" % dup
print("alerts: %d expected, all arrived, %d POSTs, one id each" % (len(want), len(hooks)))
PY
STALE=$(stale_writes "$VICTIM")
[ -z "$STALE" ] || fail "writes of the paused member landed while another member held the unit: $(echo "$STALE" | head -5)"
echo "database: $(pg_sql "select count(*) from audit_kv where key like '%/probe/$VICTIM/%'") probe writes of $VICTIM landed, none while another member held the unit"
logs_clean
echo "ok: the paused member was fenced"
