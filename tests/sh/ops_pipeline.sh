# Issue 20 item 6: clients that pipeline GET /metrics (or /status) without reading a byte
# must not grow the listener's memory: a connection is not read while its reply is unsent,
# the /metrics page of one scrape instant is shared, and /healthz answers on a fresh
# connection throughout. Before the fix 20 such connections took the process from 13 MB to
# 215 MB and 100 to over 1 GB. The bound below (RSS growth under 48 MB with 60 connections)
# does not depend on the machine's speed: a slower server reads less, and grows less.
. "${HELPERS:?}/ops_lib.sh"
# a sanitizer build keeps freed memory in quarantine (256 MB): RSS would measure that
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
command -v curl >/dev/null || fail "curl is needed"

cat > "$T/watch.lua" <<'LUA'
local watch = require "rec.watch"
watch.qingcloud{ app_id = "demo-app", channel = "demo-channel", every = 0.2 }
-- a page of some size: 40 script families of 20 series each (about 150 KiB)
for f = 1, 40 do
  local g = rec.metrics.gauge("pipe_family_" .. f, "A family to make the page larger.", { "k" })
  for k = 1, 20 do g:set(k, { k = string.rep("v", 60) .. k }) end
end
rec.sleep(600)
LUA
rw_start run --sim --listen 127.0.0.1:0 "$T/watch.lua"
hp=${URL#http://}
wait_for 10 sh -c "curl -s '$URL/metrics' | grep -q pipe_family_40" || fail "the script's families never showed"

for path in /metrics /status; do
  python3 "$HELPERS/ops_pipeline.py" "${hp%:*}" "${hp#*:}" "$RW_PID" 60 4 "$path" >"$T/attack.out" \
    || fail "the attack helper failed: $(cat "$T/attack.out")"
  cat "$T/attack.out"
  eval "$(cat "$T/attack.out")"
  grow=$(( (peak_kb - base_kb) / 1024 ))
  [ "$grow" -lt 48 ] || fail "$path pipelined by 60 clients that never read: RSS grew by $grow MB (base $base_kb kB, peak $peak_kb kB)"
  [ "$healthz_ok" = "$healthz_tries" ] || fail "$path attack: /healthz answered $healthz_ok of $healthz_tries times"
  kill -0 "$RW_PID" 2>/dev/null || fail "recwatch died under the $path attack"
done

# the page is rendered once per scrape instant: 40 clients asking at once share renders
[ "$(code /metrics)" = 200 ] || fail "/metrics after the attack"
renders() { sed -n 's/^recwatch_listener_metrics_renders_total \([0-9]*\)$/\1/p' "$T/body"; }
r0=$(renders)
python3 - "${hp%:*}" "${hp#*:}" >"$T/burst.out" <<'PY' || fail "burst: $(cat "$T/burst.out")"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
socks = [socket.create_connection((host, port), timeout=10) for _ in range(40)]
req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 5
for s in socks:
    s.sendall(req)
done = 0
for s in socks:
    data = b""
    while data.count(b"HTTP/1.1 200 OK") < 5 or not data.endswith(b"\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    done += data.count(b"HTTP/1.1 200 OK")
    s.close()
print(done)
PY
[ "$(cat "$T/burst.out")" = 200 ] || fail "burst: $(cat "$T/burst.out") replies of 200"
[ "$(code /metrics)" = 200 ] || fail "/metrics after the burst"
r1=$(renders)
echo "renders for 200 pipelined requests from 40 clients: $((r1 - r0 - 1))"
[ $((r1 - r0 - 1)) -lt 200 ] || fail "every request rendered its own page ($r0 -> $r1)"
echo "ops_pipeline ok"
