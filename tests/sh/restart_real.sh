# The restart policy on the real clock against a served simulator (`recwatch sim --listen`,
# its default story): sid-abnormal exits with 20 at 12 s; examples/agora_restart.lua sees it,
# confirms it, and restarts it once under uid 1001. Counted by the simulator: one billed start.
# Prints the measured latency (the failure seen -> the new sid recording), real seconds.
set -eu
T=$(mktemp -d)
SPID= EPID=
cleanup() { for p in $EPID $SPID; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT

"$RECWATCH" sim --listen 127.0.0.1:0 >"$T/env" 2>"$T/simlog" &
SPID=$!
for _ in $(seq 100); do grep -q RECWATCH_SIM_PORT "$T/env" 2>/dev/null && break; sleep 0.1; done
. "$T/env"
SECRET_KEY=real-run-secret-key-0001
S3_SECRET=$SECRET_KEY "$RECWATCH" run "$SRC/examples/agora_restart.lua" --every 2 --settle 1 --for 0 2>"$T/log" &
EPID=$!
# until the restart records (or 90 s on a loaded machine)
for _ in $(seq 900); do grep -q "RESTARTED" "$T/log" && break; sleep 0.1; done
sleep 3   # a second start, if any, would come now
kill "$EPID"; wait "$EPID" 2>/dev/null || true; EPID=
cat "$T/log"
grep -q "RESTARTED sid-abnormal as sim-sid-1 uid 1001" "$T/log" || { echo "no restart"; exit 1; }
BILLED=$(curl -s -u "$AGORA_CUSTOMER_ID:$AGORA_CUSTOMER_SECRET" "$AGORA_API_BASE/_sim/billed")
echo "billed: $BILLED"
echo "$BILLED" | python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["agora"] == 1, b'
grep -q "$SECRET_KEY" "$T/log" "$T/simlog" && { echo "the storage secret reached a log"; exit 1; }
echo "latency (real): $(grep 'RESTARTED' "$T/log" | grep -o 'after [0-9.]*s')"
