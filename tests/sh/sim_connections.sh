# The simulator's transport limits: idle connections (default 60 s) and requests that
# trickle in (default 10 s) are closed; with 1,100 idle clients under a 1,024-descriptor
# limit a new client is still served (the oldest idle one is shed); it stays reachable under
# 10,000 idle and 2,000 slowloris connections (it raises its soft descriptor limit).
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

# 1. timeouts (short ones, so the test is fast)
sim_start --idle-timeout 1 --header-timeout 1
out=$(python3 "$HELPERS/sim_flood.py" "$SIM_PORT" timeouts) || fail "timeouts: $out"
python3 - "$out" <<'PY' || fail "timeouts out of bounds: $out"
import sys
v = {l.split()[0]: float(l.split()[-1]) for l in sys.argv[1].splitlines()}
assert 0.8 <= v["idle"] <= 5, v   # closed after about 1 s, not at once, not never
assert 0.8 <= v["slow"] <= 5, v   # though it kept sending bytes
PY
sim_stop
"$RECWATCH" sim --idle-timeout 0 2>"$SIM_TMP/bad" && fail "--idle-timeout 0 accepted"
grep -q "idle-timeout must be" "$SIM_TMP/bad" || fail "no message for a bad timeout"

# 2. out of descriptors: 1,100 idle clients under a 1,024 limit, then one more is served
SIM_TMP2=$SIM_TMP
(ulimit -n 1024 && exec "$RECWATCH" sim --listen 127.0.0.1:0) >"$SIM_TMP/lim.out" 2>"$SIM_TMP/lim.err" &
LIM_PID=$!
trap 'kill $LIM_PID 2>/dev/null; sim_cleanup' EXIT
for i in $(seq 200); do grep -q '^export RECWATCH_SIM_PORT=' "$SIM_TMP/lim.out" 2>/dev/null && break; sleep 0.05; done
LIM_PORT=$(sed -n "s/^export RECWATCH_SIM_PORT=//p" "$SIM_TMP/lim.out" | tr -d "'")
[ -n "$LIM_PORT" ] || fail "limited sim did not start: $(cat "$SIM_TMP/lim.err")"
out=$(python3 "$HELPERS/sim_flood.py" "$LIM_PORT" reach 1100 0) || fail "1,100 idle under 1,024 fds: $out"
echo "$out" | grep -q "status 200" || fail "1,100 idle: $out"
kill $LIM_PID; wait $LIM_PID 2>/dev/null

# 3. 10,000 idle and 2,000 slowloris connections (default timeouts), then a request
rm -f "$SIM_TMP/sim.out"  # sim_start must not read the first sim's port line
sim_start
out=$(python3 "$HELPERS/sim_flood.py" "$SIM_PORT" reach 10000 2000) || fail "flood: $out"
echo "$out" | grep -q "status 200" || fail "flood: $out"
echo "$out" >&2
kill -0 "$SIM_PID" || fail "the sim died under the flood"
sim_stop
echo "sim_connections ok"
