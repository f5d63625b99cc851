# sim_agora_404: the agora_404 fault plays Agora's high-availability window: a live recording
# answers the worker 404 for `seconds` from `after`, then 200 again; only authenticated Agora
# requests get it; `seconds` and `before` exclude each other. Story points are asked with
# `recwatch query --sim --at` (no wall-clock timing), the rest on a window of an hour.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

cat >"$SIM_TMP/ha.lua" <<'LUA'
return {
  agora_recordings = {
    { appid = "sim-agora-app", resourceid = "r", sid = "ha", status = 5 },
    { appid = "sim-agora-app", resourceid = "r", sid = "other", status = 5 },
  },
  faults = { { provider = "agora", kind = "agora_404", match = "/sid/ha/", after = 8, seconds = 45 } },
}
LUA
at() {  # at SECONDS SID -> exit status of one query at that point of the story
  "$RECWATCH" query agora --appid sim-agora-app --resourceid r --sid "$2" --mode mix \
    --sim --scenario "$SIM_TMP/ha.lua" --at "$1" >"$SIM_TMP/q.out" 2>"$SIM_TMP/q.err"
  echo $?
}
expect_eq "$(at 7.9 ha)" 0 "before the window"
expect_eq "$(at 8 ha)" 4 "inside the window: not_found"
grep -q "failed to find worker" "$SIM_TMP/q.err" || fail "the worker 404: $(cat "$SIM_TMP/q.err")"
expect_eq "$(at 52.9 ha)" 4 "inside the window, at its end"
expect_eq "$(at 53 ha)" 0 "after the window: the recording lives on"
grep -q '"status": *5' "$SIM_TMP/q.out" || fail "status 5 after the window: $(cat "$SIM_TMP/q.out")"
expect_eq "$(at 20 other)" 0 "another recording is not in the window"

# seconds and before exclude each other; seconds is not negative
for bad in 'before = 9, seconds = 1' 'seconds = -1'; do
  printf 'return { faults = { { kind = "agora_404", after = 1, %s } } }\n' "$bad" >"$SIM_TMP/bad.lua"
  "$RECWATCH" sim --scenario "$SIM_TMP/bad.lua" >/dev/null 2>"$SIM_TMP/bad.err"
  expect_eq "$?" 2 "scenario with $bad"
  grep -q "faults\[1\]" "$SIM_TMP/bad.err" || fail "message for $bad: $(cat "$SIM_TMP/bad.err")"
done

# a served sim: only an authenticated Agora request gets the fault
cat >"$SIM_TMP/hour.lua" <<'LUA'
return {
  agora = { customer_id = "c", customer_secret = "s", rate_limit = 0 },
  agora_recordings = { { appid = "a", resourceid = "r", sid = "ha", status = 5 } },
  qingcloud_tasks = { { app_id = "qa", channel = "qc", id = 1, status = 2 } },
  faults = { { provider = "agora", kind = "agora_404", match = "/sid/ha/", seconds = 3600 },
             { provider = "qingcloud", kind = "agora_404" } },
}
LUA
sim_start --scenario "$SIM_TMP/hour.lua" --log-requests "$SIM_TMP/req.log"
U=$(agora_url a r ha mix)
req "$U" -u c:s; expect_code 404 "authenticated"
expect_body '{"code":404,"reason":"failed to find worker"}' "worker 404 body"
req "$U" -u c:wrong; expect_code 401 "bad credentials get their normal answer"
req "$U"; expect_code 401 "no credentials get their normal answer"
req "$(qc_url app_id=qa channel=qc from_hour=24 to_hour=0)"; expect_code 200 "a QingCloud request gets its normal answer"
expect_eq "$(jget 'd["recinfos"][0]["status"]')" 2 "the QingCloud task"
grep -c '"fault":"agora_404"' "$SIM_TMP/req.log" | grep -qx 1 || fail "one agora_404 in the request log: $(cat "$SIM_TMP/req.log")"
echo "sim_agora_404 ok"
