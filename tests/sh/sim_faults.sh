# sim_faults: every fault kind as configured (nth/every/probability/times/match/provider),
# the delay keeping pipelined order, reproducible probability, and --log-requests lines.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

cat >"$SIM_TMP/f.lua" <<'LUA'
return {
  seed = 7,
  agora = { customer_id = "c", customer_secret = "s", rate_limit = 0 },
  agora_recordings = { { appid = "a", resourceid = "r", sid = "s", mode = "mix", status = 5 } },
  qingcloud_tasks = { { app_id = "qa", channel = "qc", id = 1, status = 2 } },
  faults = {
    { provider = "agora", kind = "500_html", nth = 1 },
    { provider = "agora", kind = "agora_206", nth = 2 },
    { provider = "agora", kind = "agora_504", nth = 3 },
    { provider = "agora", kind = "drop", nth = 4 },
    { provider = "agora", kind = "malformed_json", nth = 5 },
    { provider = "agora", kind = "truncated", nth = 6 },
    { provider = "agora", kind = "huge", nth = 7, bytes = 3 * 1024 * 1024 },
    { provider = "agora", kind = "429", nth = 8 },
    { provider = "agora", kind = "delay", ms = 800, nth = { 9, 13 } },
    { provider = "qingcloud", kind = "500_html", every = 3, times = 2 },
    { provider = "any", kind = "agora_504", match = "/sid/special/" },
    { provider = "agora", kind = "agora_206", probability = 0.5, after = 0 , match = "/sid/prob/" },
  },
}
LUA
sim_start --scenario "$SIM_TMP/f.lua" --log-requests "$SIM_TMP/req.log"
U=$(agora_url a r s mix)
A=(-u c:s)

req "$U" "${A[@]}" -D "$SIM_TMP/h"; expect_code 500 "nth=1 500_html"
grep -q "<html>" "$BODY" || fail "500 body is not HTML"
grep -qi '^content-type: text/html' "$SIM_TMP/h" || fail "500 is not text/html"
req "$U" "${A[@]}"
expect_code 206 "nth=2 agora_206"; expect_body '{"code":65,"reason":"request not completed"}' "206 body"
req "$U" "${A[@]}"; expect_code 504 "nth=3 agora_504"; expect_body '{"code":62,"reason":"request timeout"}' "504 body"
req "$U" "${A[@]}"; expect_eq "$CODE:$CURLRC" "000:52" "nth=4 drop (curl: empty reply)"
req "$U" "${A[@]}"; expect_code 200 "nth=5 malformed_json"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$BODY" 2>/dev/null && fail "malformed_json body parses"
req "$U" "${A[@]}"; expect_eq "$CODE:$CURLRC" "200:18" "nth=6 truncated (curl: partial file)"
req "$U" "${A[@]}"; expect_code 200 "nth=7 huge"
expect_eq "$(stat -c %s "$BODY")" $((3 * 1024 * 1024)) "huge size"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$BODY" || fail "huge body is not valid JSON"
req "$U" "${A[@]}"; expect_code 429 "nth=8 429"; expect_body '{"message":"API rate limit exceeded"}' "429 body"
S=$(date +%s%N)
req "$U" "${A[@]}"; expect_code 200 "nth=9 delay, then the normal answer"
E=$(( ($(date +%s%N) - S) / 1000000 ))
[ "$E" -ge 750 ] || fail "delay too short: ${E} ms"
expect_eq "$(jget 'd["serverResponse"]["status"]')" 5 "delayed answer body"
req "$U" "${A[@]}"; expect_code 200 "nth=10 no fault"

# a delay keeps pipelined replies in order: requests 11..14 in one write, 13 is delayed,
# 14 and a final no-route request must still come after it
AUTH=$(printf 'c:s' | base64)
: >"$SIM_TMP/pipe"
for sid in s s s s; do
  printf 'GET /v1/apps/a/cloud_recording/resourceid/r/sid/%s/mode/mix/query HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n' "$sid" "$AUTH" >>"$SIM_TMP/pipe"
done
printf 'GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >>"$SIM_TMP/pipe"
python3 "$HELPERS/sim_raw.py" 127.0.0.1 "$SIM_PORT" --timeout 10 <"$SIM_TMP/pipe" >"$SIM_TMP/pipe.out"
expect_eq "$(grep -ao 'HTTP/1.1 [0-9]*' "$SIM_TMP/pipe.out" | tr '\n' ' ')" \
  "HTTP/1.1 200 HTTP/1.1 200 HTTP/1.1 200 HTTP/1.1 200 HTTP/1.1 404 " "pipelined order around a delay"

# QingCloud: every=3 with times=2 hits requests 3 and 6 only
codes=
for i in 1 2 3 4 5 6 7 8 9; do req "$(qc_url app_id=qa channel=qc from_hour=24 to_hour=0)"; codes="$codes$CODE "; done
expect_eq "$codes" "200 200 500 200 200 500 200 200 200 " "qingcloud every=3 times=2"

# match = a path substring, provider any
req "$(agora_url a r special mix)" "${A[@]}"; expect_code 504 "match fault"

# probability: reproducible with the scenario seed — same sequence in a second sim
seq1=
for i in $(seq 20); do req "$(agora_url a r prob mix)" "${A[@]}"; seq1="$seq1$CODE "; done
case "$seq1" in *206*) ;; *) fail "probability 0.5 never fired in 20 requests" ;; esac
case "$seq1" in *404*) ;; *) fail "probability 0.5 fired every time" ;; esac

# the request log: one JSON line per request, flushed while the sim runs
python3 - "$SIM_TMP/req.log" <<'PY' || fail "bad request log"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
keys = ["t", "method", "path", "query", "provider", "auth", "status", "fault"]
for l in lines:
    assert list(l.keys()) == keys, l
faults = [l["fault"] for l in lines[:10]]
assert faults == ["500_html", "agora_206", "agora_504", "drop", "malformed_json", "truncated",
                  "huge", "429", "delay", None], faults
assert [l["status"] for l in lines[:10]] == [500, 206, 504, 0, 200, 200, 200, 429, 200, 200]
assert all(l["provider"] == "agora" and l["auth"] is True for l in lines[:10])
assert lines[-1]["provider"] is None or lines[-1]["provider"] == "agora"
qc = [l for l in lines if l["provider"] == "qingcloud"]
assert len(qc) == 9 and all("signature=" in l["query"] for l in qc), qc[:1]
assert [l["fault"] for l in qc] == [None, None, "500_html", None, None, "500_html", None, None, None]
nr = [l for l in lines if l["path"] == "/nothing"]
assert nr and nr[0]["provider"] is None and nr[0]["status"] == 404 and nr[0]["auth"] is False
ts = [l["t"] for l in lines]
assert ts == sorted(ts), "t not monotonic"
PY
sim_stop

# same scenario, fresh sim: the probability sequence repeats exactly
sim_start --scenario "$SIM_TMP/f.lua"
for i in $(seq 10); do req "$(agora_url a r s mix)" "${A[@]}"; done
for i in $(seq 4); do req "$(agora_url a r s mix)" "${A[@]}"; done
req "$(agora_url a r special mix)" "${A[@]}"
seq2=
for i in $(seq 20); do req "$(agora_url a r prob mix)" "${A[@]}"; seq2="$seq2$CODE "; done
expect_eq "$seq2" "$seq1" "probability sequence with the same seed"
sim_stop
echo "sim_faults: ok"
