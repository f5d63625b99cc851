# sim_http: the HTTP layer — keep-alive, Connection: close, HTTP/1.0, pipelining, requests
# split into single bytes, size caps (431/413), garbage input, HEAD, clients that vanish
# mid-reply; the sim must stay up and keep answering throughout.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

cat >"$SIM_TMP/h.lua" <<'LUA'
return {
  agora = { customer_id = "c", customer_secret = "s", rate_limit = 0 },
  agora_recordings = { { appid = "a", resourceid = "r", sid = "s", mode = "mix", status = 5 } },
  faults = { { provider = "agora", kind = "huge", match = "/sid/big/", bytes = 8 * 1024 * 1024 } },
}
LUA
sim_start --scenario "$SIM_TMP/h.lua"
U=$(agora_url a r s mix)
AUTH=$(printf 'c:s' | base64)
raw() { python3 "$HELPERS/sim_raw.py" 127.0.0.1 "$SIM_PORT" "$@"; }
alive() {
  req "$U" -u c:s
  expect_code 200 "sim alive after $1"
}

# keep-alive: curl reuses one connection for several requests
n=$(curl -s -u c:s -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' "$U" "$U" "$U" | tr '\n' ' ')
expect_eq "$n" "1 0 0 " "connections opened for 3 requests"

# Connection: close is honoured (the sim closes; the client does not wait for a timeout)
S=$(date +%s)
printf 'GET /v1/apps/a/cloud_recording/resourceid/r/sid/s/mode/mix/query HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nConnection: close\r\n\r\n' "$AUTH" |
  raw --timeout 8 >"$SIM_TMP/o"
[ $(( $(date +%s) - S )) -lt 6 ] || fail "Connection: close not honoured"
grep -aq '^HTTP/1.1 200 OK' "$SIM_TMP/o" || fail "no 200 with Connection: close"
grep -aqi '^Connection: close' "$SIM_TMP/o" || fail "reply lacks Connection: close"
# HTTP/1.0 without keep-alive closes too
S=$(date +%s)
printf 'GET /v1/apps/a/cloud_recording/resourceid/r/sid/s/mode/mix/query HTTP/1.0\r\nAuthorization: Basic %s\r\n\r\n' "$AUTH" |
  raw --timeout 8 >"$SIM_TMP/o"
[ $(( $(date +%s) - S )) -lt 6 ] || fail "HTTP/1.0 connection not closed"
grep -aq '"status":5' "$SIM_TMP/o" || fail "no body for HTTP/1.0"

# pipelining: 50 requests in one write, answered in order, then close
: >"$SIM_TMP/pipe"
for i in $(seq 50); do
  printf 'GET /v1/apps/a/cloud_recording/resourceid/r/sid/s/mode/mix/query?n=%d HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n' "$i" "$AUTH" >>"$SIM_TMP/pipe"
done
printf 'GET /x HTTP/1.1\r\nConnection: close\r\n\r\n' >>"$SIM_TMP/pipe"
raw --timeout 10 <"$SIM_TMP/pipe" >"$SIM_TMP/o"
expect_eq "$(grep -ao 'HTTP/1.1 200' "$SIM_TMP/o" | wc -l)" 50 "pipelined 200s"
expect_eq "$(grep -ao 'HTTP/1.1 [0-9]*' "$SIM_TMP/o" | tail -1)" "HTTP/1.1 404" "last pipelined reply"

# a request trickled one byte at a time
printf 'GET /v1/apps/a/cloud_recording/resourceid/r/sid/s/mode/mix/query HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nConnection: close\r\n\r\n' "$AUTH" |
  raw --trickle --timeout 10 >"$SIM_TMP/o"
grep -aq '^HTTP/1.1 200 OK' "$SIM_TMP/o" || fail "trickled request not answered"

# HEAD: headers only (and no route: HEAD is not GET)
printf 'HEAD /v1/apps/a/cloud_recording/resourceid/r/sid/s/mode/mix/query HTTP/1.1\r\nAuthorization: Basic %s\r\nConnection: close\r\n\r\n' "$AUTH" |
  raw --timeout 8 >"$SIM_TMP/o"
grep -aq '^HTTP/1.1 404' "$SIM_TMP/o" || fail "HEAD not answered with 404"
grep -aq 'no Route' "$SIM_TMP/o" && fail "HEAD reply has a body"

# absolute-form request target
printf 'GET http://127.0.0.1/v1/apps/a/cloud_recording/resourceid/r/sid/s/mode/mix/query HTTP/1.1\r\nAuthorization: Basic %s\r\nConnection: close\r\n\r\n' "$AUTH" |
  raw --timeout 8 >"$SIM_TMP/o"
grep -aq '^HTTP/1.1 200' "$SIM_TMP/o" || fail "absolute-form target"

# size caps: 70 KiB of headers -> 431 and close; a 100 KiB body -> 413 and close
python3 -c 'import sys; sys.stdout.write("GET / HTTP/1.1\r\nX-Big: " + "a" * 70000 + "\r\n\r\n")' |
  raw --timeout 8 >"$SIM_TMP/o"
grep -aq '^HTTP/1.1 431' "$SIM_TMP/o" || fail "no 431 for huge headers: $(head -c 100 "$SIM_TMP/o")"
python3 -c 'import sys; sys.stdout.write("GET / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + "b" * 100000)' |
  raw --timeout 8 >"$SIM_TMP/o"
grep -aq '^HTTP/1.1 413' "$SIM_TMP/o" || fail "no 413 for a huge body"
alive "size caps"

# garbage: a 400 (or a close), never a crash
printf 'HELLO THERE\r\n\r\n' | raw --timeout 8 >"$SIM_TMP/o"
grep -aq '^HTTP/1.1 400' "$SIM_TMP/o" || fail "no 400 for garbage"
printf 'GET / HTTP/1.1\r\nContent-Length: nope\r\n\r\n' | raw --timeout 8 >/dev/null
printf 'GET /\x00\x01\xff HTTP/1.1\r\n\r\n' | raw --timeout 8 >/dev/null
printf 'GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' | raw --timeout 8 >/dev/null
for i in 1 2 3 4 5; do head -c 3000 /dev/urandom | raw --timeout 3 >/dev/null; done
python3 -c 'import sys; sys.stdout.buffer.write(b"GET /" + bytes(range(1, 256)) * 10 + b" HTTP/1.1\r\n\r\n")' |
  raw --timeout 3 >/dev/null
alive "garbage"

# clients that go away: mid-reply of an 8 MiB body, right after sending, half-way through a request
for i in 1 2 3; do
  printf 'GET /v1/apps/a/cloud_recording/resourceid/r/sid/big/mode/mix/query HTTP/1.1\r\nAuthorization: Basic %s\r\n\r\n' "$AUTH" |
    raw --close-after 100000 --timeout 8 >/dev/null
done
printf 'GET /v1/apps/a/cloud_recording/resourceid/r/sid/big/mode/mix/query HTTP/1.1\r\nAuthorization: Basic %s\r\n\r\n' "$AUTH" |
  raw --close-after 1 --timeout 8 >/dev/null
printf 'GET /v1/apps/a/cloud' | raw --timeout 0.2 >/dev/null
alive "vanishing clients"
req "$(agora_url a r big mix)" -u c:s
expect_code 200 "huge reply"
expect_eq "$(stat -c %s "$BODY")" $((8 * 1024 * 1024)) "huge reply size"

# a huge reply to an HTTP/1.0 client is sent in full before the close
printf 'GET /v1/apps/a/cloud_recording/resourceid/r/sid/big/mode/mix/query HTTP/1.0\r\nAuthorization: Basic %s\r\n\r\n' "$AUTH" |
  raw --timeout 10 >"$SIM_TMP/o"
[ "$(stat -c %s "$SIM_TMP/o")" -gt $((8 * 1024 * 1024)) ] || fail "huge reply cut short for HTTP/1.0"

# many connections at once
for i in $(seq 20); do curl -s -o /dev/null -u c:s "$U" & done
wait $(jobs -p | grep -v "^$SIM_PID\$") 2>/dev/null
alive "20 parallel clients"
sim_stop
echo "sim_http: ok"
