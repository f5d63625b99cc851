# A real Prometheus (Debian's package) scrapes recwatch's /metrics on loopback: through its
# HTTP API, up{job="recwatch"} is 1 and the query counter moves between two scrapes. The
# alert rules docs/operations.md gives pass `promtool check rules`.
. "${HELPERS:?}/ops_lib.sh"
need_prometheus_tool prometheus
command -v curl >/dev/null || fail "curl is needed"
doc_rules
promtool check rules "$T/rules.yml" >"$T/rules.out" 2>&1 || fail "promtool check rules: $(cat "$T/rules.out")"

cat > "$T/watch.lua" <<'LUA'
local watch = require "rec.watch"
watch.qingcloud{ app_id = "demo-app", channel = "demo-channel", every = 0.2 }
rec.sleep(90)
LUA
rw_start run --sim --listen 127.0.0.1:0 "$T/watch.lua"
target=${URL#http://}

pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: recwatch
    static_configs:
      - targets: ["$target"]
YML
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/data" \
  --web.listen-address="127.0.0.1:$pport" --log.level=warn >"$T/prom.log" 2>&1 &
EXTRA_PIDS=$!
P="http://127.0.0.1:$pport"

# query EXPR: prints the first sample's value, or nothing
query() {
  curl -s --max-time 3 "$P/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "")
except Exception:
    print("")'
}
up_is_1() { [ "$(query 'up{job="recwatch"}')" = 1 ]; }
wait_for 40 up_is_1 || fail "up{job=\"recwatch\"} never 1: $(curl -s "$P/api/v1/targets" | head -c 600) $(tail -5 "$T/prom.log")"
counter() { query 'sum(recwatch_provider_requests_total{job="recwatch",outcome="ok"})'; }
first=
got_first() { first=$(counter); [ -n "$first" ] && python3 -c "import sys; sys.exit(0 if float('$first') > 0 else 1)"; }
wait_for 20 got_first || fail "no query counter in Prometheus"
moved() { v=$(counter); [ -n "$v" ] && python3 -c "import sys; sys.exit(0 if float('$v') > float('$first') else 1)"; }
wait_for 20 moved || fail "the query counter did not move after $first"
echo "ops_prometheus ok: up=1, counter $first -> $v"
