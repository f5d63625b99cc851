# provider_ratelimit: 200 concurrent tasks, one Agora query each, against a sim limited to
# 20 requests/s with recwatch's agora.rate = 20: pacing keeps every request under the limit
# (no 429 in the error kinds, none in the sim's --log-requests, every query succeeds, each
# on its first attempt). The achieved rate is reported, not asserted.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

sim_start --scenario "$SRC/tests/scenarios/provider_ratelimit.lua" --log-requests "$SIM_TMP/req.log"
"$RECWATCH" run /dev/stdin 200 <<'LUA' >"$SIM_TMP/out" 2>&1 || { cat "$SIM_TMP/out" >&2; fail "rate script"; }
local n = tonumber(arg[1])
rec.configure{ agora = { rate = 20, retries = 0 } }   -- retries = 0: a 429 would show as an error
local tasks, kinds, ok = {}, {}, 0
local t0 = rec.now()
for i = 1, n do
  tasks[i] = rec.spawn(function()
    local res, err = rec.query_agora{ appid = "rl-app", resourceid = "rl-rid", sid = "rl-sid" }
    if err then kinds[err.kind] = (kinds[err.kind] or 0) + 1 end
    return res ~= nil
  end)
end
for i = 1, n do
  local done, good = tasks[i]:wait()
  assert(done, tostring(good))
  if good then ok = ok + 1 end
end
local dt = rec.now() - t0
local ks = {}
for k, v in pairs(kinds) do ks[#ks + 1] = k .. "=" .. v end
print(string.format("achieved %.2f queries/s (%d in %.2f s)", n / dt, n, dt))
assert(ok == n, "failed queries: " .. table.concat(ks, " "))
assert(not kinds.rate_limited, "429s seen")
LUA
cat "$SIM_TMP/out"
sleep 0.2
python3 - "$SIM_TMP/req.log" <<'PY' || fail "sim saw a 429 or a wrong count"
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1])]
st = collections.Counter(r["status"] for r in rows)
ts = [r["t"] for r in rows]
span = min(ts[i + 20] - ts[i] for i in range(len(ts) - 20))
print(f"sim: {dict(st)}; tightest 21 consecutive requests span {span:.3f} s; "
      f"sim-side rate {(len(ts) - 1) / (ts[-1] - ts[0]):.2f}/s")
assert st == {200: 200}, st
PY
sim_stop
echo "provider_ratelimit ok"
