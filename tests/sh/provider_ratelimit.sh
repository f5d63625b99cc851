# provider_ratelimit: 200 concurrent tasks, one Agora query each, against a sim limited to
# 20 requests/s (a strict sliding window) with recwatch's agora.rate = 20, on the real clock.
# Every query succeeds (retries = 0: a 429 is resent inside C, never shown to the script),
# and the achieved rate is asserted between loose bounds that hold on a loaded machine:
# at least half the limit (pacing 4 times too slow fails), never above it, and at most 2
# 429s from the sim. The tight bounds (>= 97%, 0 x 429) are asserted on the virtual clock
# by tests/lua/provider_ratelimit.lua; the real-clock figures are bench/pacing.sh's.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

sim_start --scenario "$SRC/tests/scenarios/provider_ratelimit.lua" --log-requests "$SIM_TMP/req.log"
"$RECWATCH" run /dev/stdin 200 <<'LUA' >"$SIM_TMP/out" 2>&1 || { cat "$SIM_TMP/out" >&2; fail "rate script"; }
local n = tonumber(arg[1])
rec.configure{ agora = { rate = 20, retries = 0 } }   -- retries = 0: any error shows
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
assert(not kinds.rate_limited, "a 429 reached the script")
assert(n / dt >= 10, ("pacing too slow: %.2f/s, under half the limit"):format(n / dt))
assert(n / dt <= 20 * 1.001, ("faster than the limit: %.2f/s"):format(n / dt))
LUA
cat "$SIM_TMP/out"
sleep 0.2
python3 - "$SIM_TMP/req.log" <<'PY' || fail "sim saw more than 2 x 429 or a wrong count"
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1])]
st = collections.Counter(r["status"] for r in rows)
ts = [r["t"] for r in rows]
span = min(ts[i + 20] - ts[i] for i in range(len(ts) - 20))
print(f"sim: {dict(st)}; tightest 21 consecutive requests span {span:.3f} s; "
      f"sim-side rate {(len(ts) - 1) / (ts[-1] - ts[0]):.2f}/s")
assert st[200] == 200 and set(st) <= {200, 429} and st[429] <= 2, st
PY
sim_stop
echo "provider_ratelimit ok"
