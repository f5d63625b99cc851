# sim_control: the control calls on a served simulator (`recwatch sim --listen`), driven with
# curl and an independent Python signer for QingCloud's POST (the exact body bytes signed):
# billed starts in the request log and at GET /_sim/billed, a held-then-dropped start that
# still counts, QingCloud's JSON body (a form body is refused). Real clock, no timing.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

cat >"$SIM_TMP/ctl.lua" <<'LUA'
return {
  agora = { customer_id = "c", customer_secret = "s", rate_limit = 0 },
  faults = { { provider = "agora", kind = "hold_drop", ms = 300, match = "/mode/mix/start", times = 1,
               after = 0 } },
}
LUA
sim_start --scenario "$SIM_TMP/ctl.lua" --log-requests "$SIM_TMP/req.log"
A=$BASE/v1/apps/app/cloud_recording
start_body='{"cname":"ch","uid":"7","clientRequest":{"storageConfig":{"vendor":1,"region":0,"bucket":"b","accessKey":"STORAGEAK","secretKey":"STORAGESK"},"recordingConfig":{"channelType":0}}}'

req "$A/acquire" -u c:s -X POST -H 'Content-Type: application/json' -d '{"cname":"ch","uid":"7","clientRequest":{}}'
expect_code 200 "acquire"
RID=$(jget 'd["resourceId"]')
# the first start is held 300 ms, then dropped: curl sees no answer, the task started anyway
req "$A/resourceid/$RID/mode/mix/start" -u c:s -X POST -d "$start_body"
[ "$CURLRC" != 0 ] || fail "the held start was answered: $CODE"
req "$BASE/_sim/billed"
expect_code 200 "billed page"
expect_eq "$(jget 'd["billed"], d["agora"], d["agora_running"], d["agora_apps"]["app"]')" "(1, 1, 1, 1)" "billed after the dropped start"
# the retried start: already started (201/7), nothing more billed
req "$A/resourceid/$RID/mode/mix/start" -u c:s -X POST -d "$start_body"
expect_code 201 "retried start"
expect_eq "$(jget 'd["code"]')" 7 "code 7"
req "$(agora_url app "$RID" sim-sid-1 mix)" -u c:s
expect_code 200 "the unseen recorder answers its query"
grep -q '"call":"start","billed":1}' "$SIM_TMP/req.log" || fail "billed count in the request log: $(cat "$SIM_TMP/req.log")"
grep -q '"status":0,"fault":"hold_drop","call":"start","billed":1' "$SIM_TMP/req.log" || fail "hold_drop logged: $(cat "$SIM_TMP/req.log")"
! grep -q 'STORAGE' "$SIM_TMP/req.log" "$SIM_TMP/sim.err" "$SIM_TMP/sim.out" || fail "a storage secret in a log"

# QingCloud start: auth in the query string, a JSON body signed over its exact bytes
qc_post() {  # qc_post METHOD BODY [content-type] -> URL on stdout
  python3 - "$BASE" "$QINGCLOUD_ACCESS_KEY_ID" "$QINGCLOUD_SECRET_ACCESS_KEY" "$1" "$2" <<'PY'
import base64, datetime, hashlib, hmac, sys
from urllib.parse import quote
base, ak, sk, method, body = sys.argv[1:6]
p = {"access_key_id": ak, "signature_method": "HmacSHA256", "signature_version": "1",
     "time_stamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
canon = "&".join(quote(k) + "=" + quote(p[k]) for k in sorted(p))
sts = method + "\n/v1/cloudRecord/\n" + canon + "\n" + hashlib.md5(body.encode()).hexdigest()
sig = base64.b64encode(hmac.new(sk.encode(), sts.encode(), hashlib.sha256).digest()).decode()
print(base + "/v1/cloudRecord?" + canon + "&signature=" + quote(sig, safe=""))
PY
}
QB='{"app_id":"qa","project_id":"pj","channel":"room","sign_key":"QCSIGNKEY"}'
req "$(qc_post POST "$QB")" -X POST -H 'Content-Type: application/json' --data-binary "$QB"
expect_code 200 "QingCloud start"
expect_eq "$(jget 'd["code"], type(d["task_id"]).__name__')" "('success', 'int')" "start reply"
# the reference sample's form body: signed alike, but not JSON: refused
FB='app_id=qa&project_id=pj&channel=room&sign_key=QCSIGNKEY'
req "$(qc_post POST "$FB")" -X POST --data-binary "$FB"
expect_code 400 "a form body"
req "$(qc_post POST "$QB")" -X POST --data-binary "$QB "
expect_code 401 "a body changed after signing"
SB='{"app_id":"qa","project_id":"pj","channel":"room"}'
req "$(qc_post PATCH "$SB")" -X PATCH --data-binary "$SB"
expect_code 200 "QingCloud stop"
expect_eq "$(jget 'd["code"], d["data"]')" "('success', 'success')" "stop reply"
req "$BASE/_sim/billed"
expect_eq "$(jget 'd["billed"], d["qingcloud"], d["qingcloud_running"]')" "(2, 1, 0)" "billed: one Agora and one QingCloud start"
! grep -q 'QCSIGNKEY' "$SIM_TMP/req.log" "$SIM_TMP/sim.err" "$SIM_TMP/sim.out" || fail "sign_key in a log"
sim_stop
echo "sim_control ok"
