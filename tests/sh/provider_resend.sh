# provider_resend: libcurl resends a request by itself when a reused keep-alive connection
# closes before any reply. recwatch refuses that resend (CURLOPT_PREREQFUNCTION) and sends
# the request again with a new pacing slot, without spending the script's retries: with
# retries = 0 every query still succeeds, every request the sim saw is spaced by the pacing
# interval (a silent resend would come at once), and the log says why.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

sim_start --scenario "$SRC/tests/scenarios/provider_resend.lua" --log-requests "$SIM_TMP/req.log"
"$RECWATCH" run --log-level debug /dev/stdin <<'LUA' >"$SIM_TMP/out" 2>&1 || { cat "$SIM_TMP/out" >&2; fail "resend script"; }
rec.configure{ agora = { rate = 5, retries = 0 } }   -- 0.22 s between requests
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
assert faults.count(None) == 6, faults            # 6 answered queries
assert min(gaps) >= 0.18, gaps                    # 1.1/5 = 0.22 s, minus timer and log jitter
PY
grep -q "lost its reused connection before any reply; sending it again" "$SIM_TMP/out" \
  || { cat "$SIM_TMP/out" >&2; fail "no resend refused in the log"; }
echo "provider_resend ok"
