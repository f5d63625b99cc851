#!/usr/bin/env bash
# bench/fleet_sizing.sh: one process watching N Agora recordings (issue 24's sizing): real
# watch.agora watchers every 120 s, the SQLite store, a notify outbox. For each N (default
# 0 1000 10000 100000), against a `recwatch sim` in another process, on the wall clock for SECS
# (default 280: every watcher's first poll and first commits by 130 s, then a steady state of
# 150 s): the client's CPU (user + sys) for the whole run, its CPU share of one core and CPU per
# poll in the steady state, its peak RSS, its Lua heap and RSS after the run, then the memory
# per session beyond the empty process (N = 0) and a linear fit of RSS on N.
# usage: bench/fleet_sizing.sh [N...]   (RECWATCH=/path/to/recwatch, default build/recwatch;
#        SECS; ACCOUNTS, default 1: one customer whose limit is raised to carry the load;
#        VT=1: on the virtual clock with the simulator in the process, memory only, fast)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RECWATCH=${RECWATCH:-$HERE/../build/recwatch}
SECS=${SECS:-280}
ACCOUNTS=${ACCOUNTS:-1}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(0 1000 10000 100000)
T=$(mktemp -d)
SIM_PID=
cleanup() { [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
export BENCH_ACCOUNTS=$ACCOUNTS
# on the virtual clock the simulator is in the process: the same recordings in every run, so
# that the difference to N = 0 is the watchers' alone
if [ "${VT:-0}" = 1 ]; then
  max=0; for n in "${SIZES[@]}"; do [ "$n" -gt "$max" ] && max=$n; done
  export BENCH_RECORDINGS=$max
fi
one() {  # one N -> "n cpu_s wall_s peak_kib lua_kib rss_kib polls good"
  local n=$1
  rm -f "$T"/state.db*
  if [ "${VT:-0}" = 1 ]; then
    BENCH_N=$n /usr/bin/time -f '%U %S %e %M' -o "$T/time" "$RECWATCH" run --sim --virtual-time \
      --until 1000000 --state "$T/state.db" --scenario "$HERE/fleet_sizing_scenario.lua" \
      "$HERE/fleet_sizing.lua" "$n" "$SECS" "$ACCOUNTS" >"$T/out" 2>"$T/err" || { tail -5 "$T/err" >&2; exit 1; }
  else
    BENCH_N=$n "$RECWATCH" sim --scenario "$HERE/fleet_sizing_scenario.lua" >"$T/sim.env" 2>"$T/sim.err" &
    SIM_PID=$!
    for _ in $(seq 100); do grep -q AGORA_API_BASE "$T/sim.env" 2>/dev/null && break; sleep 0.1; done
    ( eval "$(grep ^export "$T/sim.env")"
      /usr/bin/time -f '%U %S %e %M' -o "$T/time" "$RECWATCH" run --state "$T/state.db" \
        "$HERE/fleet_sizing.lua" "$n" "$SECS" "$ACCOUNTS" >"$T/out" 2>"$T/err" ) || { tail -5 "$T/err" >&2; exit 1; }
    kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=
  fi
  read -r u s e m <"$T/time"
  local after result
  after=$(grep '^MEM after' "$T/out")
  result=$(grep '^RESULT' "$T/out")
  python3 - "$n" "$u" "$s" "$e" "$m" "$after" "$result" <<'PY'
import sys, re
n, u, s, e, m, after, result = sys.argv[1:]
lua = re.search(r"lua_kib (\d+)", after).group(1)
rss = re.search(r"rss_kib (\d+)", after).group(1)
polls, good = re.search(r"polls (\d+) good (\d+)", result).groups()
if polls != good: sys.exit(f"N={n}: {polls} polls but {good} good")
sp = re.search(r"steady_polls (\d+)", result).group(1)
share = re.search(r"steady_share ([\d.]+)", result).group(1)
us = re.search(r"us_per_steady_poll ([\d.]+)", result).group(1)
print(n, float(u) + float(s), e, m, lua, rss, polls, sp, share, us)
PY
}
printf '%8s %8s %8s %10s %10s %10s %8s %8s %7s %8s\n' sessions cpu_s wall_s peak_mib lua_mib rss_mib polls steady steady% us/poll
: >"$T/rows"
for n in "${SIZES[@]}"; do
  row=$(one "$n")
  echo "$row" >>"$T/rows"
  python3 -c 'import sys
n, c, e, m, l, r, p, sp, sh, us = map(float, sys.argv[1:])
print(f"{n:8.0f} {c:8.2f} {e:8.1f} {m / 1024:10.1f} {l / 1024:10.1f} {r / 1024:10.1f} {p:8.0f} {sp:8.0f} {100 * sh:7.2f} {us:8.1f}")' $row
done
python3 - "$T/rows" <<'PY'
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
base = [r for r in rows if r[0] == 0]
for r in rows:
    if r[0] > 0 and base:
        print(f"N={r[0]:.0f}: per session beyond the empty process: RSS {(r[5] - base[0][5]) * 1024 / r[0]:.0f} B, "
              f"peak RSS {(r[3] - base[0][3]) * 1024 / r[0]:.0f} B, Lua heap {(r[4] - base[0][4]) * 1024 / r[0]:.0f} B")
pts = [r for r in rows if r[0] > 0]
if len(pts) >= 2:
    xs = [r[0] for r in pts]
    for name, i in (("RSS", 5), ("Lua heap", 4)):
        ys = [r[i] * 1024 for r in pts]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        print(f"linear fit of {name} on N: {b:.0f} B per session, intercept {(my - b * mx) / 1048576:.1f} MiB")
PY
