# `recwatch sim --events-url URL --ncs-secret-file PATH` on the real clock, received by an
# independent receiver written from Agora's documentation (tests/helpers/ncs_receiver.py):
# every event arrives signed (Agora-Signature HMAC-SHA1 and Agora-Signature-V2 HMAC-SHA256
# over the raw body) except the one a `mis_sign` fault spoils; a 500 is resent with the same
# noticeId and a later notifyMs; the secret is in no output. Plus the options' usage errors.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"
RECV_PID=
trap 'sim_cleanup; [ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null' EXIT
SECRET=ncs-shell-secret-$$
printf '%s\n' "$SECRET" >"$SIM_TMP/secret"

# usage errors: exit 2, nothing served
"$RECWATCH" sim --events-url http://127.0.0.1:9/x >/dev/null 2>"$SIM_TMP/e"; rc=$?
[ "$rc" = 2 ] && grep -q "go together" "$SIM_TMP/e" || fail "url without secret file: rc $rc $(cat "$SIM_TMP/e")"
"$RECWATCH" sim --events-url http://127.0.0.1:9/x --ncs-secret-file "$SIM_TMP/nope" >/dev/null 2>"$SIM_TMP/e"; rc=$?
[ "$rc" = 2 ] && grep -q "cannot read --ncs-secret-file" "$SIM_TMP/e" || fail "missing secret file: rc $rc"
: >"$SIM_TMP/empty"
"$RECWATCH" sim --events-url http://127.0.0.1:9/x --ncs-secret-file "$SIM_TMP/empty" >/dev/null 2>"$SIM_TMP/e"; rc=$?
[ "$rc" = 2 ] && grep -q "expected one line" "$SIM_TMP/e" || fail "empty secret file: rc $rc"
"$RECWATCH" sim --events-url 'ftp://x/' --ncs-secret-file "$SIM_TMP/secret" >/dev/null 2>"$SIM_TMP/e"; rc=$?
[ "$rc" = 2 ] && grep -q "bad --events-url" "$SIM_TMP/e" || fail "bad url: rc $rc $(cat "$SIM_TMP/e")"

python3 "$HELPERS/ncs_receiver.py" "$SIM_TMP/secret" "$SIM_TMP/port" "$SIM_TMP/recv.log" 12 2 &
RECV_PID=$!
for i in $(seq 400); do [ -s "$SIM_TMP/port" ] && break; sleep 0.05; done
[ -s "$SIM_TMP/port" ] || fail "the receiver did not start"
RPORT=$(cat "$SIM_TMP/port")

# one session: started, 5 at 0.3 s (file infos mis-signed), a failover at 0.3 s that the
# receiver refuses twice, abnormal exit at 0.6 s; resends after 0.2 and 0.4 s
cat >"$SIM_TMP/sc.lua" <<'LUA'
return {
  agora_recordings = { { appid = "app", resourceid = "rid", sid = "sid-1", channel = "ch",
                         timeline = { {0, 1}, {0.3, 5}, {0.6, 20} } } },
  agora_ncs = { retry_delays = { 0.2, 0.4, 0.8 },
                events = { { sid = "sid-1", at = 0.3, type = 12, details = { newUid = 77 } } } },
  faults = { { provider = "ncs", kind = "mis_sign", match = "cloud_recording_file_infos" } },
}
LUA
sim_start --scenario "$SIM_TMP/sc.lua" --events-url "http://127.0.0.1:$RPORT/agora/ncs" \
  --ncs-secret-file "$SIM_TMP/secret"
# 9 events, the failover refused twice: 11 POSTs. Wait for them (at most 60 s).
for i in $(seq 1200); do
  [ -f "$SIM_TMP/recv.log" ] && [ "$(wc -l <"$SIM_TMP/recv.log")" -ge 11 ] && break
  sleep 0.05
done
sleep 0.5  # a 12th POST would be a bug: give it the time to show
sim_stop
python3 - "$SIM_TMP/recv.log" <<'PY' || fail "the receiver's record: $(cat "$SIM_TMP/recv.log")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 11, len(recs)
for r in recs:
    assert r["path"] == "/agora/ncs", r
    assert r["ctype"] == "application/json", r
    ev = r["event"]
    assert ev and ev["productId"] == 3 and ev["payload"]["sid"] == "sid-1", r
    bad = ev["eventType"] == 4
    assert r["v1_ok"] == (not bad) and r["v2_ok"] == (not bad), ("signature", r)
types = sorted(r["event"]["eventType"] for r in recs)
assert types == sorted([40, 30, 3, 3, 4, 12, 12, 12, 3, 1, 11]), types
fo = [r for r in recs if r["event"]["eventType"] == 12]
assert [r["status"] for r in fo] == [500, 500, 200], fo
assert len({r["event"]["noticeId"] for r in fo}) == 1, "a resend keeps its noticeId"
ms = [r["event"]["notifyMs"] for r in fo]
assert ms[0] < ms[1] < ms[2], ("notifyMs moves on with each resend", ms)
assert fo[0]["event"]["payload"]["details"] == {"msgName": "session_failover", "newUid": 77}
ids = {r["event"]["noticeId"] for r in recs}
assert len(ids) == 9, ("9 distinct events", len(ids))
ex = [r for r in recs if r["event"]["eventType"] == 11]
assert len(ex) == 1 and ex[0]["event"]["payload"]["details"]["exitStatus"] == 1, ex
PY
grep -q "$SECRET" "$SIM_TMP/sim.out" "$SIM_TMP/sim.err" && fail "the secret is in the sim's output"
grep -q "NCS events: 9 due, 9 delivered, 2 resent, 0 given up" "$SIM_TMP/sim.err" || fail "no summary: $(tail -3 "$SIM_TMP/sim.err")"
echo "sim_events ok"
