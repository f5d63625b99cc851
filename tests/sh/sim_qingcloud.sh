# sim_qingcloud: GET /v1/cloudRecord — signature checked against an independent Python
# signer (the reference doc's algorithm), tampering, expiry both ways, missing auth
# parameters, unknown key, parameter validation, pagination, hour window, timeline.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

cat >"$SIM_TMP/qc.lua" <<'LUA'
local tasks = {}
for i = 1, 7 do
  tasks[#tasks + 1] = { app_id = "app1", channel = "ch1", id = 100 + i, status = 10 }
end
tasks[#tasks + 1] = { app_id = "app1", channel = "ch2", id = 200, status = 2 }
tasks[#tasks + 1] = { app_id = "app2", channel = "ch1", id = 300, status = 2 }
tasks[#tasks + 1] = { app_id = "app1", channel = "ch1", id = 400, status = 2, created_at = -7200 }
tasks[#tasks + 1] = { app_id = "app1", channel = "ch1", id = 500, timeline = { { 100, 1 } } }
tasks[#tasks + 1] = { app_id = "tl", channel = "a+b c/é", id = 39, timeline = { { 0, 1 }, { 4, 2 }, { 600, 52 } } }
-- beyond the documented 24-hour limit: never listed
tasks[#tasks + 1] = { app_id = "app1", channel = "ch1", id = 600, status = 10, created_at = -30 * 3600 }
tasks[#tasks + 1] = { app_id = "app1", channel = "ch1", id = 700, status = 10, created_at = -100 * 3600 }
return {
  qingcloud = { access_key_id = "QCKEYTEST", secret_access_key = "qc-secret/with+chars=" },
  qingcloud_tasks = tasks,
}
LUA
sim_start --scenario "$SIM_TMP/qc.lua" --log-requests "$SIM_TMP/req.log"
expect_eq "$QINGCLOUD_ACCESS_KEY_ID" QCKEYTEST "printed access key"

# a valid signature from the independent signer is accepted; the reply has the documented shape
W="from_hour=24 to_hour=0"
req "$(qc_url app_id=tl 'channel=a+b c/é' $W)"
expect_code 200 "valid signature"
expect_eq "$(jget 'd["code"], d["offset"], d["limit"], d["total_count"], len(d["recinfos"])')" \
  "('success', 0, 20, 1, 1)" "reply header"
expect_eq "$(jget 'sorted(d["recinfos"][0].keys())')" \
  "['acc_key_id', 'app_id', 'channel', 'created', 'files', 'host', 'id', 'is_mix', 'pid', 'project_id', 'rec_bucket', 'rec_path', 'rec_zone', 'size', 'status', 'updated', 'url_prefix']" \
  "recinfo fields"
expect_eq "$(jget 'd["recinfos"][0]["id"], d["recinfos"][0]["status"], d["recinfos"][0]["channel"]')" \
  "(39, 1, 'a+b c/é')" "status at t=0"

# '+' in the raw query is a literal '+' (not a space)
U=$(qc_url app_id=tl 'channel=a+b c/é' $W | sed 's/channel=a%2Bb/channel=a+b/')
case "$U" in *channel=a+b%20c*) ;; *) fail "test URL not rewritten: $U" ;; esac
req "$U"
expect_code 200 "literal + in the query"

# tampered, expired (both directions), near the edge, unknown key, missing parameters
req "$(qc_url --tamper app_id=tl channel=x)"
expect_code 401 "tampered signature"
expect_eq "$(jget 'd["code"]')" SignatureNotMatch "tampered code"
U=$(qc_url app_id=tl channel=x)
req "${U/app_id=tl/app_id=tm}"
expect_code 401 "parameter changed after signing"
req "$(qc_url --skew 1000 app_id=tl channel=x)"
expect_code 401 "time_stamp 16+ minutes ahead"
expect_eq "$(jget 'd["code"]')" RequestExpired "expired code"
req "$(qc_url --skew -1000 app_id=tl channel=x)"
expect_code 401 "time_stamp 16+ minutes old"
expect_eq "$(jget 'd["code"]')" RequestExpired "expired code (old)"
req "$(qc_url --skew -600 app_id=tl channel=x $W)"
expect_code 200 "time_stamp 10 minutes old"
req "$(python3 "$HELPERS/sim_qcsign.py" "$BASE" NOSUCHKEY "$QINGCLOUD_SECRET_ACCESS_KEY" app_id=tl channel=x)"
expect_code 401 "unknown access key"
expect_eq "$(jget 'd["code"]')" AccessKeyNotFound "unknown key code"
req "$(python3 "$HELPERS/sim_qcsign.py" "$BASE" "$QINGCLOUD_ACCESS_KEY_ID" wrong-secret app_id=tl channel=x)"
expect_code 401 "wrong secret"
for p in access_key_id signature_method signature_version time_stamp signature; do
  req "$(qc_url --omit $p app_id=tl channel=x)"
  expect_code 401 "missing $p"
  expect_eq "$(jget 'd["code"]')" MissingAuthParameter "missing $p code"
  grep -q "$p" "$BODY" || fail "message does not name $p"
done
req "$BASE/v1/cloudRecord"
expect_code 401 "no parameters at all"

# wrong method on the QingCloud path: no route
req "$(qc_url app_id=tl channel=x)" -X PUT
expect_code 404 "PUT (POST and PATCH are the control calls, sim_control.sh)"
expect_body '{"message":"no Route matched with those values"}' "PUT body"
req "$(qc_url app_id=tl channel=x)" -X DELETE
expect_code 404 "DELETE"

# parameter validation (after a valid signature)
bad() {
  req "$(qc_url "$@")"
  expect_code 400 "params $*"
  expect_eq "$(jget 'd["code"]')" InvalidParameter "code for $*"
}
bad channel=ch1
bad app_id=app1
bad app_id= channel=ch1
bad app_id=app1 channel=ch1 limit=0
bad app_id=app1 channel=ch1 limit=101
bad app_id=app1 channel=ch1 limit=abc
bad app_id=app1 channel=ch1 offset=-1
bad app_id=app1 channel=ch1 from_hour=25
bad app_id=app1 channel=ch1 from_hour=-1
bad app_id=app1 channel=ch1 to_hour=25
bad app_id=app1 channel=ch1 from_hour=3 to_hour=5
# absent hours take the seed's defaults literally (from 3, to 5): they break its own rule
bad app_id=app1 channel=ch1
expect_eq "$(jget '"defaults: from_hour 3, to_hour 5" in d["message"]')" True "defaults named"
bad app_id=app1 channel=ch1 from_hour=4
bad app_id=app1 channel=ch1 to_hour=4
req "$(qc_url app_id=app1 channel=ch1 from_hour=5)"
expect_code 200 "from_hour 5 with the default to_hour 5"
req "$(qc_url app_id=app1 channel=ch1 to_hour=0)"
expect_code 200 "to_hour 0 with the default from_hour 3"
expect_eq "$(jget 'd["total_count"]')" 8 "window 3..0 hours"
req "$(qc_url app_id=app1 channel=ch1 limit=100 from_hour=24 to_hour=0)"
expect_code 200 "limits at the edge"

# pagination: 8 visible tasks for app1/ch1 (one is not created before t=100)
req "$(qc_url app_id=app1 channel=ch1 $W)"
expect_code 200 "list"
expect_eq "$(jget 'd["total_count"], [r["id"] for r in d["recinfos"]]')" \
  "(8, [101, 102, 103, 104, 105, 106, 107, 400])" "all tasks"
req "$(qc_url app_id=app1 channel=ch1 limit=3 $W)"
expect_eq "$(jget 'd["limit"], d["total_count"], [r["id"] for r in d["recinfos"]]')" "(3, 8, [101, 102, 103])" "page 1"
req "$(qc_url app_id=app1 channel=ch1 limit=3 offset=6 $W)"
expect_eq "$(jget 'd["offset"], d["total_count"], [r["id"] for r in d["recinfos"]]')" "(6, 8, [107, 400])" "last page"
req "$(qc_url app_id=app1 channel=ch1 limit=3 offset=50 $W)"
expect_eq "$(jget 'd["total_count"], d["recinfos"]')" "(8, [])" "past the end"
req "$(qc_url app_id=app1 channel=ch2 $W)"
expect_eq "$(jget 'd["total_count"], [r["id"] for r in d["recinfos"]]')" "(1, [200])" "other channel"
req "$(qc_url app_id=nobody channel=ch1 $W)"
expect_eq "$(jget 'd["code"], d["total_count"], d["recinfos"]')" "('success', 0, [])" "unknown app"
# hour window: the task created two hours ago is outside from_hour=1
req "$(qc_url app_id=app1 channel=ch1 from_hour=1 to_hour=0)"
expect_eq "$(jget 'd["total_count"]')" 7 "from_hour=1"
req "$(qc_url app_id=app1 channel=ch1 from_hour=3 to_hour=1)"
expect_eq "$(jget 'd["total_count"], [r["id"] for r in d["recinfos"]]')" "(1, [400])" "from_hour=3 to_hour=1"

# the timeline moves: status 2 from t=4 s
sim_sleep_until 4.1
req "$(qc_url app_id=tl 'channel=a+b c/é' $W)"
expect_code 200 "timeline query"
expect_eq "$(jget 'd["recinfos"][0]["status"]')" 2 "status after 4 s"

# the request log saw the QingCloud requests with auth flags
grep -q '"provider":"qingcloud","auth":true,"status":200' "$SIM_TMP/req.log" || fail "no authenticated 200 in the log"
grep -q '"provider":"qingcloud","auth":false,"status":401' "$SIM_TMP/req.log" || fail "no 401 in the log"
sim_stop

# "当天" read as "not before today's midnight" (UTC+8): the same_day scenario option
for same_day in false true; do
  cat >"$SIM_TMP/day.lua" <<LUA
local since_midnight = (os.time() + 8 * 3600) % 86400
return {
  qingcloud = { same_day = $same_day },
  qingcloud_tasks = {
    { app_id = "d", channel = "d", id = 1, status = 10, created_at = -since_midnight - 60 },
    { app_id = "d", channel = "d", id = 2, status = 10 },
  },
}
LUA
  sim_start --scenario "$SIM_TMP/day.lua"
  req "$(qc_url app_id=d channel=d $W)"
  expect_code 200 "same_day=$same_day"
  ids=$(jget '[r["id"] for r in d["recinfos"]]')
  if [ "$same_day" = true ]; then expect_eq "$ids" "[2]" "same_day: yesterday's task left out"
  elif [ "$(( ($(date +%s) + 8 * 3600) % 86400 ))" -lt 86000 ]; then
    expect_eq "$ids" "[1, 2]" "rolling 24 h: yesterday's task listed"
  fi
  sim_stop
done
echo "sim_qingcloud: ok"
