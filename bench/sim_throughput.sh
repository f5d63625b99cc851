#!/usr/bin/env bash
# sim_throughput: how many query requests per second one simulator core answers over
# keep-alive connections (wrk, 1 thread, 64 connections). Agora (Basic auth, rate limit off)
# and QingCloud (a signed URL, the signature recomputed on every request).
# usage: bench/sim_throughput.sh [RECWATCH binary] [seconds]   (default build/recwatch, 5)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RECWATCH=${1:-${RECWATCH:-$ROOT/build/recwatch}}
DUR=${2:-5}
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }
TMP=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

cat >"$TMP/bench.lua" <<'LUA'
return {
  agora = { customer_id = "bench", customer_secret = "bench-secret", rate_limit = 0 },
  agora_recordings = {
    { appid = "app", resourceid = "res", sid = "sid", mode = "mix", fileListMode = "json",
      timeline = { { 0, 5 } } },
  },
  qingcloud = { access_key_id = "BENCHKEY", secret_access_key = "bench-qc-secret" },
  qingcloud_tasks = {
    { app_id = "app", channel = "ch", id = 1, status = 2 },
    { app_id = "app", channel = "ch", id = 2, status = 10 },
  },
}
LUA
PIN_SIM= PIN_WRK=
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN_SIM="taskset -c 0"; PIN_WRK="taskset -c 1"; fi
$PIN_SIM "$RECWATCH" sim --listen 127.0.0.1:0 --scenario "$TMP/bench.lua" >"$TMP/out" &
PID=$!
for _ in $(seq 100); do grep -q RECWATCH_SIM_PORT "$TMP/out" && break; sleep 0.05; done
eval "$(grep '^export ' "$TMP/out")"
BASE=$AGORA_API_BASE

AUTH=$(printf 'bench:bench-secret' | base64)
cat >"$TMP/agora.lua" <<LUA
wrk.headers["Authorization"] = "Basic $AUTH"
LUA
run() {  # name url script
  local rps
  $PIN_WRK wrk -t1 -c64 -d"${DUR}s" ${3:+-s "$3"} "$2" >"$TMP/wrk.out" 2>&1
  rps=$(awk '/^Requests\/sec/ {print $2}' "$TMP/wrk.out")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$TMP/wrk.out")
  printf '%-10s %12s req/s%s\n' "$1" "$rps" "${non2xx:+  (non-2xx: $non2xx)}"
}
echo "recwatch sim, wrk -t1 -c64 -d${DUR}s, keep-alive${PIN_SIM:+, sim pinned to CPU 0 and wrk to CPU 1}"
run agora "$BASE/v1/apps/app/cloud_recording/resourceid/res/sid/sid/mode/mix/query" "$TMP/agora.lua"
if command -v python3 >/dev/null; then
  QURL=$(python3 "$ROOT/tests/helpers/sim_qcsign.py" "$BASE" BENCHKEY bench-qc-secret app_id=app channel=ch)
  run qingcloud "$QURL"
fi
