# receiver_lib.sh: shared by tests/sh/workflow_*.sh: a scratch directory $T removed on exit,
# and a local webhook receiver (webhook_receiver.py) that appends each POST to $T/got.jsonl.
# Needs HELPERS (set by ctest).
set -eu
T=$(mktemp -d); RPID=
trap 'kill $RPID 2>/dev/null || true; rm -rf "$T"' EXIT

# start_receiver [receiver options...]: starts it on a free port; sets RPID and PORT.
start_receiver() {
  rm -f "$T/port"
  python3 "$HELPERS/webhook_receiver.py" --out "$T/got.jsonl" "$@" >"$T/port" &
  RPID=$!
  for _ in $(seq 100); do grep -q PORT "$T/port" 2>/dev/null && break; sleep 0.1; done
  PORT=$(awk '/PORT/{print $2}' "$T/port")
  test -n "$PORT"
}
