# sim_lib.sh: shared by tests/sh/sim_*.sh — starts `recwatch sim` on a free port, reads the
# printed export lines, kills the sim on exit, and offers small assertion helpers.
# Needs RECWATCH (the binary); HELPERS defaults to this directory.
set -u
: "${RECWATCH:?RECWATCH must point at the recwatch binary}"
HELPERS=${HELPERS:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
SIM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/simtest.XXXXXX")
SIM_PID=

sim_cleanup() {
  if [ -n "$SIM_PID" ]; then
    kill "$SIM_PID" 2>/dev/null
    wait "$SIM_PID" 2>/dev/null
  fi
  rm -rf "$SIM_TMP"
}
trap sim_cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [ -f "$SIM_TMP/sim.err" ] && [ -s "$SIM_TMP/sim.err" ]; then
    echo "--- sim stderr:" >&2
    cat "$SIM_TMP/sim.err" >&2
  fi
  exit 1
}

# sim_start [recwatch sim options...]: listens on 127.0.0.1:0; sets SIM_PID, BASE, SIM_PORT
# and the exported AGORA_* / QINGCLOUD_* variables.
sim_start() {
  local i
  # a second sim of the same test must not be taken for ready on the first one's port line
  # (the redirection below truncates the file only when the new process gets to it)
  rm -f "$SIM_TMP/sim.out"
  "$RECWATCH" sim --listen 127.0.0.1:0 "$@" >"$SIM_TMP/sim.out" 2>"$SIM_TMP/sim.err" &
  SIM_PID=$!
  # Up to 60 s: an ASan build on a loaded 2-core machine can take more than 10 s to start.
  for i in $(seq 1200); do
    grep -q '^export RECWATCH_SIM_PORT=' "$SIM_TMP/sim.out" 2>/dev/null && break
    kill -0 "$SIM_PID" 2>/dev/null || fail "sim exited early"
    sleep 0.05
  done
  grep -q '^export RECWATCH_SIM_PORT=' "$SIM_TMP/sim.out" || fail "sim printed no port"
  SIM_SEEN=$(date +%s.%N)  # the sim clock started before this: sim t >= now - SIM_SEEN
  eval "$(grep '^export ' "$SIM_TMP/sim.out")"
  BASE=$AGORA_API_BASE
  SIM_PORT=$RECWATCH_SIM_PORT
}

# sim_stop: SIGTERM, expects exit status 0.
sim_stop() {
  local rc
  kill -TERM "$SIM_PID"
  wait "$SIM_PID"
  rc=$?
  SIM_PID=
  [ "$rc" = 0 ] || fail "sim exited with $rc on SIGTERM"
}

# sim_sleep_until T: sleeps until the sim clock is surely at T seconds or later.
sim_sleep_until() {
  local d
  d=$(python3 -c 'import sys,time; print(max(0.0, float(sys.argv[1]) - (time.time() - float(sys.argv[2]))))' "$1" "$SIM_SEEN")
  sleep "$d"
}

# sim_last_t: the "t" of the last line of the request log $SIM_TMP/req.log.
sim_last_t() {
  python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["t"])' "$SIM_TMP/req.log"
}

# lt A B: true when A < B (floats).
lt() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2"; }

# req URL [curl options...]: sets CODE (HTTP status, 000 when none) and BODY (file), CURLRC.
BODY=$SIM_TMP/body
req() {
  local url=$1
  shift
  CODE=$(curl -s --max-time 20 -o "$BODY" -w '%{http_code}' "$@" "$url")
  CURLRC=$?
}

# agora_url APPID RID SID MODE
agora_url() { echo "$BASE/v1/apps/$1/cloud_recording/resourceid/$2/sid/$3/mode/$4/query"; }

# qc_url [sim_qcsign.py options and k=v params...]: a signed QingCloud URL (independent signer).
qc_url() {
  python3 "$HELPERS/sim_qcsign.py" "$BASE" "$QINGCLOUD_ACCESS_KEY_ID" \
    "$QINGCLOUD_SECRET_ACCESS_KEY" "$@"
}

# jget EXPR: evaluates a Python expression over d = the JSON in $BODY.
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$BODY" "$1"; }

expect_code() { [ "$CODE" = "$1" ] || fail "${2:-request}: expected HTTP $1, got $CODE: $(head -c 300 "$BODY" 2>/dev/null)"; }
expect_body() { [ "$(cat "$BODY")" = "$1" ] || fail "${2:-request}: expected body $1, got $(head -c 300 "$BODY")"; }
expect_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; }
