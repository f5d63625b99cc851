# sim_agora: GET .../query — Basic auth (both 401 shapes), both 404 shapes, bad mode, reply
# bodies (json/string/web/old_style), timelines, gone_at, linger after 8/20, rate limit.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

cat >"$SIM_TMP/ag.lua" <<'LUA'
return {
  agora = { customer_id = "cust1", customer_secret = "sec1", rate_limit = 3, linger = 2,
            customers = { { customer_id = "cust2", customer_secret = "sec2", rate_limit = 0 } } },
  agora_recordings = {
    { appid = "app", resourceid = "r1", sid = "json", mode = "mix", fileListMode = "json",
      timeline = { { 0, 1 }, { 3, 5 } } },
    { appid = "app", resourceid = "r2", sid = "str", mode = "mix", fileListMode = "string",
      fileList = "x.m3u8", status = 5 },
    { appid = "app", resourceid = "r3", sid = "web", mode = "web", status = 4 },
    { appid = "app", resourceid = "r4", sid = "old", mode = "individual", old_style = true,
      files = { { fileName = "a.m3u8", trackType = "audio", uid = "123", mixedAllUser = false,
                  isPlayable = true, sliceStartTime = 1562724971626 } },
      sliceStartTime = 1562724971000, status = 5 },
    { appid = "app", resourceid = "r5", sid = "gone", mode = "mix", status = 5, gone_at = 3 },
    { appid = "app", resourceid = "r6", sid = "ends", mode = "mix",
      timeline = { { 0, 5 }, { 8, 20 } } },
    { appid = "app", resourceid = "r7", sid = "later", mode = "mix", timeline = { { 100, 1 } } },
  },
}
LUA
sim_start --scenario "$SIM_TMP/ag.lua" --log-requests "$SIM_TMP/req.log"
expect_eq "$AGORA_CUSTOMER_ID:$AGORA_CUSTOMER_SECRET" "cust1:sec1" "printed credentials"
U=$(agora_url app r1 json mix)

# auth: missing header, wrong credentials, wrong scheme
req "$U"
expect_code 401 "no Authorization"
expect_body '{"message":"Unauthorized"}' "no Authorization body"
req "$U" -u cust1:wrong
expect_code 401 "bad secret"
expect_body '{"message":"Invalid authentication credentials"}' "bad secret body"
req "$U" -H "Authorization: Bearer abc"
expect_code 401 "bearer"
expect_body '{"message":"Invalid authentication credentials"}' "bearer body"

# the 200 body (json fileList) at t < 3 has status 1
req "$U" -u cust1:sec1
expect_code 200 "json recording"
expect_eq "$(jget 'd["resourceId"], d["sid"], d["serverResponse"]["fileListMode"], d["serverResponse"]["status"]')" \
  "('r1', 'json', 'json', 1)" "json recording at t=0"
expect_eq "$(jget 'sorted(d["serverResponse"]["fileList"][0].keys())')" \
  "['fileName', 'isPlayable', 'mixedAllUser', 'sliceStartTime', 'trackType', 'uid']" "fileList entry"
expect_eq "$(jget 'type(d["serverResponse"]["sliceStartTime"]).__name__')" int "sliceStartTime type"
# a second customer works too (rate limits are per customer)
req "$(agora_url app r2 str mix)" -u cust2:sec2
expect_code 200 "string recording"
expect_eq "$(jget 'd["serverResponse"]["fileListMode"], d["serverResponse"]["fileList"], d["serverResponse"]["status"]')" \
  "('string', 'x.m3u8', 5)" "string fileList"
req "$(agora_url app r3 web web)" -u cust2:sec2
expect_code 200 "web recording"
expect_eq "$(cat "$BODY")" '{"resourceId":"r3","sid":"web","serverResponse":{"extensionServiceState":[{"payload":{"fileList":[],"onhold":false,"state":"inProgress"},"serviceName":"web_recorder_service"}],"status":4}}' "web body"
req "$(agora_url app r4 old individual)" -u cust2:sec2
expect_code 200 "old-style recording"
expect_eq "$(jget 'd["serverResponse"]["status"], d["serverResponse"]["sliceStartTime"], d["serverResponse"]["fileList"][0]["isPlayable"], d["serverResponse"]["fileList"][0]["mixedAllUser"], d["serverResponse"]["fileList"][0]["sliceStartTime"]')" \
  "('5', '1562724971000', 'true', 'false', '1562724971626')" "old-style strings"

# errors: bad mode (400), unknown sid / wrong mode / not started yet (404 worker), bad paths (404 route)
req "$(agora_url app r1 json foo)" -u cust2:sec2
expect_code 400 "bad mode"
expect_body '{"code":2,"reason":"invalid parameter"}' "bad mode body"
for u in "$(agora_url app r1 nosuchsid mix)" "$(agora_url app r1 json web)" "$(agora_url other r1 json mix)" \
         "$(agora_url app r7 later mix)"; do
  req "$u" -u cust2:sec2
  expect_code 404 "worker 404 for $u"
  expect_body '{"code":404,"reason":"failed to find worker"}' "worker 404 body"
done
for u in "$BASE/" "$BASE/v1/apps/app/cloud_recording/resourceid/r1/sid/json/mode/mix" \
         "$BASE/v1/apps/app/cloud_recording/resourceid/r1/sid/json/mode/mix/query/" \
         "$BASE/v1/apps//cloud_recording/resourceid/r1/sid/json/mode/mix/query" "$BASE/v2/cloudRecord"; do
  req "$u" -u cust2:sec2
  expect_code 404 "route 404 for $u"
  expect_body '{"message":"no Route matched with those values"}' "route 404 body"
done
req "$U" -u cust2:sec2 -X POST
expect_code 404 "POST on query"
expect_body '{"message":"no Route matched with those values"}' "POST body"

# rate limit, deterministic part: 8 pipelined requests in one write reach the sim in the
# same loop turn; with a limit of 3/s exactly 3 get 200 and 5 get 429.
AUTH=$(printf 'cust1:sec1' | base64)
: >"$SIM_TMP/pipe"
for i in 1 2 3 4 5 6 7 8; do
  [ $i = 8 ] && C='Connection: close\r\n' || C=
  printf "GET /v1/apps/app/cloud_recording/resourceid/r2/sid/str/mode/mix/query HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n$C\r\n" "$AUTH" >>"$SIM_TMP/pipe"
done
sleep 1.1   # let the window of the earlier cust1 requests pass
python3 "$HELPERS/sim_raw.py" 127.0.0.1 "$SIM_PORT" --timeout 10 <"$SIM_TMP/pipe" >"$SIM_TMP/pipe.out"
expect_eq "$(grep -ao 'HTTP/1.1 200' "$SIM_TMP/pipe.out" | wc -l)" 3 "pipelined 200s"
expect_eq "$(grep -ao 'HTTP/1.1 429' "$SIM_TMP/pipe.out" | wc -l)" 5 "pipelined 429s"
grep -q '{"message":"API rate limit exceeded"}' "$SIM_TMP/pipe.out" || fail "429 body"
# ...and with curl as fast as it goes (one process, keep-alive): at least 3 200s and one 429
sleep 1.1
ARGS=()
for i in $(seq 10); do ARGS+=(-o /dev/null "$(agora_url app r2 str mix)"); done
curl -s -w '%{http_code}\n' -u cust1:sec1 "${ARGS[@]}" >"$SIM_TMP/codes"
n200=$(grep -c '^200$' "$SIM_TMP/codes")
n429=$(grep -c '^429$' "$SIM_TMP/codes")
[ "$n200" -ge 3 ] || fail "curl burst: only $n200 200s"
[ "$n429" -ge 1 ] || fail "curl burst: no 429 ($(tr '\n' ' ' <"$SIM_TMP/codes"))"
# the limit is per customer: cust2 is not affected
req "$(agora_url app r2 str mix)" -u cust2:sec2
expect_code 200 "other customer during cust1's burst"
# unauthenticated requests are not counted
sleep 1.1
for i in 1 2 3 4 5; do req "$U"; expect_code 401 "unauthenticated $i"; done
req "$U" -u cust1:sec1
expect_code 200 "after unauthenticated requests"

# timelines (sim clock): r1 is 5 from t=3, r5 gone from t=3, r6 is 20 from t=8 and gone
# from t=10 (linger 2)
sim_sleep_until 3.1
req "$U" -u cust2:sec2
expect_eq "$(jget 'd["serverResponse"]["status"]')" 5 "json recording after 3 s"
req "$(agora_url app r5 gone mix)" -u cust2:sec2
expect_code 404 "gone_at passed"
expect_body '{"code":404,"reason":"failed to find worker"}' "gone body"
req "$(agora_url app r6 ends mix)" -u cust2:sec2
if lt "$(sim_last_t)" 8; then
  expect_code 200 "before exit"
  expect_eq "$(jget 'd["serverResponse"]["status"]')" 5 "still recording"
fi
sim_sleep_until 8.1
req "$(agora_url app r6 ends mix)" -u cust2:sec2
if lt "$(sim_last_t)" 10; then
  expect_code 200 "ended recording lingers"
  expect_eq "$(jget 'd["serverResponse"]["status"]')" 20 "exited abnormally"
else
  echo "note: machine too slow to observe the linger window" >&2
fi
sim_sleep_until 10.1
req "$(agora_url app r6 ends mix)" -u cust2:sec2
expect_code 404 "ended recording vanished after linger"
expect_body '{"code":404,"reason":"failed to find worker"}' "vanished body"
sim_stop
echo "sim_agora: ok"
