# alertmanager_lib.sh: a real Alertmanager (Debian 12's prometheus-alertmanager) for the
# tests: am_start runs it on 127.0.0.1 on a free port, with its own storage directory under
# $T, a minimal config (one route to a receiver that sends nothing) and no cluster gossip,
# and stops it on exit. Source after a library that sets $T, fail and an EXIT trap which
# kills $EXTRA_PIDS (ops_lib.sh).
: "${T:?source ops_lib.sh first}"

# need_alertmanager: the binaries are installed; else the test fails in CI (a skip would
# pass and prove nothing) and is skipped (exit 77) elsewhere.
need_alertmanager() {
  local t
  for t in prometheus-alertmanager amtool; do
    command -v "$t" >/dev/null && continue
    [ "${CI:-}" = true ] && fail "$t missing (Debian package prometheus-alertmanager, .ci/deps)"
    echo "SKIP: $t is not installed (bash .ci/deps installs it)"
    exit 77
  done
}

# am_start: starts Alertmanager; sets AM (its base URL) and adds its pid to EXTRA_PIDS.
am_start() {
  local port i
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$T/am-data"
  cat >"$T/alertmanager.yml" <<'YML'
route:
  receiver: "null"
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: "null"
YML
  prometheus-alertmanager --config.file="$T/alertmanager.yml" --storage.path="$T/am-data" \
    --web.listen-address="127.0.0.1:$port" --cluster.listen-address= --log.level=warn \
    >"$T/am.log" 2>&1 &
  EXTRA_PIDS="${EXTRA_PIDS:-} $!"
  AM="http://127.0.0.1:$port"
  for i in $(seq 200); do
    curl -sf --max-time 2 "$AM/-/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "Alertmanager did not become ready: $(tail -5 "$T/am.log")"
}

# am_alerts [FILTER...]: the alerts Alertmanager holds (GET /api/v2/alerts, JSON), each
# FILTER a matcher such as 'alertname="RecordingFailed"'.
am_alerts() {
  local args=() f
  for f in "$@"; do args+=(--data-urlencode "filter=$f"); done
  curl -sG --max-time 3 "$AM/api/v2/alerts" "${args[@]}"
}

# am_count N FILTER...: exactly N alerts match the filters (active or suppressed).
am_count() {
  local n=$1
  shift
  [ "$(am_alerts "$@" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null)" = "$n" ]
}
