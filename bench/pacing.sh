#!/usr/bin/env bash
# pacing: how much of a strict rate limit recwatch uses. One Agora customer limited by the
# simulator to RATE requests per second (a sliding one-second window over arrival times,
# no burst: the (RATE+1)-th request within any second is answered 429); recwatch configured
# with the same agora.rate; N queries from N concurrent tasks, so pacing is the only limit.
# The simulator runs pinned to CPU 0 and recwatch to CPU 1 (taskset, when there are 2 CPUs).
# Prints the achieved rate as the server saw it ((accepted - 1) / span of their arrivals),
# its share of the limit, the client's wall time, and the 429s the server sent (recwatch
# retries those inside C: every query must succeed).
# usage: bench/pacing.sh [N [RATE [BUSY]]]   (defaults 600 10 0; BUSY busy loops run along,
#        unpinned, e.g. 2 to load both cores); RECWATCH=path overrides build/recwatch.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RECWATCH=${RECWATCH:-$ROOT/build/recwatch}
N=${1:-600}
RATE=${2:-10}
BUSY=${3:-0}
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

cat >"$TMP/scenario.lua" <<LUA
return {
  agora = { customer_id = "pace", customer_secret = "pace-secret-0123456789", rate_limit = $RATE },
  agora_recordings = { { appid = "app", resourceid = "rid", sid = "sid", mode = "mix", status = 5 } },
}
LUA
cat >"$TMP/client.lua" <<'LUA'
local n, rate = tonumber(arg[1]), tonumber(arg[2])
rec.configure{ agora = { rate = rate, retries = 0 } }  -- retries = 0: only a 429 is resent
local tasks, bad = {}, 0
local t0 = rec.now()
for i = 1, n do
  tasks[i] = rec.spawn(function()
    local res, err = rec.query_agora{ appid = "app", resourceid = "rid", sid = "sid" }
    if not res then io.stderr:write(tostring(err), "\n") end
    return res ~= nil
  end)
end
for i = 1, n do
  local _, good = tasks[i]:wait()
  if not good then bad = bad + 1 end
end
print(string.format("client %.3f s %d failed", rec.now() - t0, bad))
LUA

PIN_SIM= PIN_CLI=
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN_SIM="taskset -c 0"; PIN_CLI="taskset -c 1"; fi
for _ in $(seq "$BUSY"); do (while :; do :; done) & PIDS+=($!); done
$PIN_SIM "$RECWATCH" sim --listen 127.0.0.1:0 --scenario "$TMP/scenario.lua" \
  --log-requests "$TMP/req.log" >"$TMP/sim.out" 2>"$TMP/sim.err" &
PIDS+=($!)
for _ in $(seq 200); do grep -q RECWATCH_SIM_PORT "$TMP/sim.out" && break; sleep 0.05; done
eval "$(grep '^export ' "$TMP/sim.out")"
$PIN_CLI "$RECWATCH" run "$TMP/client.lua" "$N" "$RATE" >"$TMP/client.out" 2>"$TMP/client.err" ||
  { cat "$TMP/client.err" >&2; exit 1; }
sleep 0.3
python3 - "$TMP/req.log" "$TMP/client.out" "$N" "$RATE" "$BUSY" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n, rate, busy = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
cli = open(sys.argv[2]).read().split()
ok = [r["t"] for r in rows if r["status"] == 200]
n429 = sum(1 for r in rows if r["status"] == 429)
k = int(rate)
span = min(ok[i + k] - ok[i] for i in range(len(ok) - k)) if len(ok) > k else float("nan")
got = (len(ok) - 1) / (ok[-1] - ok[0])
print(f"pacing n={n} rate={rate:g}/s busy_loops={busy}: server saw {got:.3f}/s = "
      f"{100 * got / rate:.1f}% of the limit; 429s {n429} ({1000 * n429 / len(rows):.2f} per "
      f"1,000 requests); tightest {k + 1} accepted arrivals span {span:.3f} s; client "
      f"{float(cli[1]):.2f} s for {n} queries, {cli[3]} failed")
PY
