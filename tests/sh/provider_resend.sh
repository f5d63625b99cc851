# provider_resend: libcurl resends a request by itself when a reused keep-alive connection
# closes before any reply. recwatch refuses that resend (CURLOPT_PREREQFUNCTION) and sends
# the request again with a new pacing slot, without spending the script's retries: every
# query succeeds, every request the sim saw is spaced by the pacing interval (a silent
# resend would come at once), the log says why, and no retry is spent on a refused resend.
# (A departure held back by the pacing check closes its connection in libcurl, and the next
# dropped request on a fresh connection is then a real network failure: retries = 2 covers
# that on a loaded host, and the test counts retries only against such hold-backs.)
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

sim_start --scenario "$SRC/tests/scenarios/provider_resend.lua" --log-requests "$SIM_TMP/req.log"
"$RECWATCH" run --log-level debug /dev/stdin <<'LUA' >"$SIM_TMP/out" 2>&1 || { cat "$SIM_TMP/out" >&2; fail "resend script"; }
rec.configure{ agora = { rate = 5, retries = 2, retry_delays = { 0.05 } } }   -- 0.23 s apart
for i = 1, 6 do   -- one after the other: each reuses the previous one's connection
  local res, err = rec.query_agora{ appid = "rs-app", resourceid = "rs-rid", sid = "rs-sid" }
  assert(res and res.status == 5, "query " .. i .. ": " .. tostring(err))
end
LUA
sleep 0.2
python3 - "$SIM_TMP/req.log" <<'PY' || fail "a request went out without its pacing slot"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ts = [r["t"] for r in rows]
gaps = [b - a for a, b in zip(ts, ts[1:])]
faults = [r["fault"] for r in rows]
print(f"{len(rows)} requests, faults {faults}, smallest gap {min(gaps):.3f} s")
assert faults.count("drop") >= 3, faults          # every 2nd request dropped
assert faults.count(None) >= 6, faults            # 6 answered queries
# the request after each drop: a silent resend comes within a millisecond; a paced one 0.23 s
# later (1.15/5), less the simulator's own scheduling jitter on a loaded host
after_drop = sorted(b - a for a, b, f in zip(ts, ts[1:], faults) if f == "drop")
assert after_drop[len(after_drop) // 2] >= 0.15 and after_drop[0] >= 0.03, after_drop
PY
grep -q "lost its reused connection before any reply; sending it again" "$SIM_TMP/out" \
  || { cat "$SIM_TMP/out" >&2; fail "no resend refused in the log"; }
retried=$(grep -c "failed (network.*retrying" "$SIM_TMP/out")
held=$(grep -c "held back by pacing" "$SIM_TMP/out")
[ "$retried" -le "$held" ] || { cat "$SIM_TMP/out" >&2; fail "a refused resend spent a retry"; }
echo "provider_resend ok"
