# Issue 20 item 6: the listener's total output cap. The script makes a /metrics page of about
# 6 MiB; clients that each ask for it at a different scrape instant and never read hold one
# page each. Past 32 MiB held unsent, a request that would render another page is answered
# 503 "busy" (counted in recwatch_listener_refused_total), /healthz still answers 200, and
# RSS stays bounded; once those clients go, /metrics is served again and shows the refusals.
# Before the fix each of those clients got its own copy of the page without bound.
. "${HELPERS:?}/ops_lib.sh"
# a sanitizer build keeps freed memory in quarantine (256 MB): RSS would measure that
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
command -v curl >/dev/null || fail "curl is needed"

cat > "$T/watch.lua" <<'LUA'
-- 20 families of 1,000 series with 3 labels of 80 bytes: a page of about 6 MiB
for f = 1, 20 do
  local g = rec.metrics.gauge("cap_family_" .. f, "A family to make the page large.", { "a", "b", "c" })
  for k = 1, 1000 do
    g:set(k, { a = string.rep("a", 76) .. k, b = string.rep("b", 80), c = string.rep("c", 80) })
  end
end
rec.sleep(600)
LUA
rw_start run --listen 127.0.0.1:0 "$T/watch.lua"
hp=${URL#http://}
wait_for 20 sh -c "curl -s --max-time 5 '$URL/metrics' | grep -q 'cap_family_20{'" || fail "the script's families never showed"
curl -s --max-time 5 "$URL/metrics" -o "$T/page"
size=$(stat -c %s "$T/page")
[ "$size" -gt $((4 * 1024 * 1024)) ] || fail "the page is only $size bytes"

python3 - "${hp%:*}" "${hp#*:}" "$RW_PID" >"$T/cap.out" <<'PY' || fail "the cap client failed: $(cat "$T/cap.out")"
import socket, sys, time
host, port, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def rss_kb():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def get(path):
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path)
    data = b""
    while True:
        c = s.recv(1 << 20)
        if not c:
            break
        data += c
    s.close()
    return data

base = rss_kb()
peak = base
hogs = []
first_503 = None
for i in range(40):
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    hogs.append(s)
    time.sleep(0.15)  # a new scrape instant: the page is rendered again
    peak = max(peak, rss_kb())
    r = get(b"/metrics")
    if r.startswith(b"HTTP/1.1 503") and first_503 is None:
        first_503 = i + 1
        body = r.split(b"\r\n\r\n", 1)[1]
        health = get(b"/healthz")
        break
peak = max(peak, rss_kb())
for s in hogs:
    s.close()
time.sleep(0.5)
after = get(b"/metrics")
print("base_kb=%d peak_kb=%d hogs_at_503=%s" % (base, peak, first_503))
print("busy_body=%r" % (body if first_503 else b""))
print("healthz=%r" % (health.split(b"\r\n")[0] if first_503 else b""))
print("after=%r" % after.split(b"\r\n")[0])
for line in after.split(b"\n"):
    if line.startswith(b"recwatch_listener_refused_total"):
        print(line.decode())
PY
cat "$T/cap.out"
grep -q "^hogs_at_503=None" "$T/cap.out" && true
hogs=$(sed -n 's/.*hogs_at_503=\([0-9]*\).*/\1/p' "$T/cap.out")
[ -n "$hogs" ] || fail "40 clients that never read each held a page, and /metrics never said busy"
grep -q "busy_body=b'busy: " "$T/cap.out" || fail "the 503 does not say why"
grep -q "^healthz=b'HTTP/1.1 200 OK'" "$T/cap.out" || fail "/healthz did not answer 200 while busy"
grep -q "^after=b'HTTP/1.1 200 OK'" "$T/cap.out" || fail "/metrics not served again once the clients went"
grep -q '^recwatch_listener_refused_total{path="/metrics"} [1-9]' "$T/cap.out" || fail "the refusal is not counted"
eval "$(sed -n 1p "$T/cap.out" | cut -d' ' -f1-2)"
grow=$(( (peak_kb - base_kb) / 1024 ))
echo "RSS growth $grow MB with $hogs page-holding clients"
[ "$grow" -lt 96 ] || fail "RSS grew by $grow MB (cap 32 MiB of unsent pages)"
echo "ops_output_cap ok"
