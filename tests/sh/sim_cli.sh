# sim_cli: `recwatch sim` options, printed exports (with the real port), exit codes,
# SIGTERM/SIGINT shutdown, scenario errors, --print-scenario.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

# bad options: message on stderr, exit 2
"$RECWATCH" sim --bogus >"$SIM_TMP/o" 2>"$SIM_TMP/e"
expect_eq $? 2 "unknown option exit status"
grep -q "unknown option" "$SIM_TMP/e" || fail "no message for unknown option"
[ -s "$SIM_TMP/o" ] && fail "stdout not empty on a bad option"
"$RECWATCH" sim --listen >"$SIM_TMP/o" 2>"$SIM_TMP/e"
expect_eq $? 2 "missing value exit status"
"$RECWATCH" sim --listen 127.0.0.1:99999 >"$SIM_TMP/o" 2>"$SIM_TMP/e"
expect_eq $? 2 "bad port exit status"
"$RECWATCH" sim --listen nothost:1 >"$SIM_TMP/o" 2>"$SIM_TMP/e"
expect_eq $? 2 "bad host exit status"
"$RECWATCH" sim --scenario "$SIM_TMP/missing.lua" >"$SIM_TMP/o" 2>"$SIM_TMP/e"
expect_eq $? 2 "missing scenario exit status"
grep -q "missing.lua" "$SIM_TMP/e" || fail "scenario error does not name the file"
printf 'return { agora = { rate_limt = 3 } }\n' >"$SIM_TMP/typo.lua"
"$RECWATCH" sim --scenario "$SIM_TMP/typo.lua" >"$SIM_TMP/o" 2>"$SIM_TMP/e"
expect_eq $? 2 "scenario typo exit status"
grep -q "unknown field 'rate_limt'" "$SIM_TMP/e" || fail "typo not reported: $(cat "$SIM_TMP/e")"
printf 'return { faults = { { kind = "explode" } } }\n' >"$SIM_TMP/bad.lua"
"$RECWATCH" sim --scenario "$SIM_TMP/bad.lua" >"$SIM_TMP/o" 2>"$SIM_TMP/e"
expect_eq $? 2 "bad fault kind exit status"
printf 'return 42\n' >"$SIM_TMP/bad2.lua"
"$RECWATCH" sim --scenario "$SIM_TMP/bad2.lua" >"$SIM_TMP/o" 2>"$SIM_TMP/e"
expect_eq $? 2 "non-table scenario exit status"

# help and the built-in scenario (which must itself be a loadable scenario)
"$RECWATCH" sim --help >"$SIM_TMP/o" 2>&1 || fail "--help failed"
grep -q -- "--log-requests" "$SIM_TMP/o" || fail "--help lacks options"
"$RECWATCH" sim --print-scenario >"$SIM_TMP/default.lua" || fail "--print-scenario failed"
grep -q "sid-abnormal" "$SIM_TMP/default.lua" || fail "default scenario lacks sid-abnormal"

# serving: export lines with the actual port; SIGTERM exits 0
sim_start --scenario "$SIM_TMP/default.lua"
case "$SIM_PORT" in '' | 0 | *[!0-9]*) fail "bad port '$SIM_PORT'" ;; esac
expect_eq "$AGORA_API_BASE" "http://127.0.0.1:$SIM_PORT" "AGORA_API_BASE"
expect_eq "$QINGCLOUD_RTC_API_BASE" "http://127.0.0.1:$SIM_PORT" "QINGCLOUD_RTC_API_BASE"
for v in AGORA_CUSTOMER_ID AGORA_CUSTOMER_SECRET QINGCLOUD_ACCESS_KEY_ID QINGCLOUD_SECRET_ACCESS_KEY; do
  [ -n "${!v}" ] || fail "$v not printed"
done
req "$BASE/nothing"
expect_code 404 "unknown path"
sim_stop

# SIGINT exits 0 too; the --listen HOST:PORT form with an explicit port works
sim_start
P=$SIM_PORT
kill -INT "$SIM_PID"
wait "$SIM_PID"
expect_eq $? 0 "exit status on SIGINT"
SIM_PID=
"$RECWATCH" sim --listen "127.0.0.1:$P" >"$SIM_TMP/sim.out" 2>"$SIM_TMP/sim.err" &
SIM_PID=$!
for i in $(seq 100); do grep -q RECWATCH_SIM_PORT "$SIM_TMP/sim.out" && break; sleep 0.05; done
grep -q "^export RECWATCH_SIM_PORT=$P\$" "$SIM_TMP/sim.out" || fail "explicit port not used: $(cat "$SIM_TMP/sim.out" "$SIM_TMP/sim.err")"
# the port is taken now: a second sim fails with exit 2
"$RECWATCH" sim --listen "127.0.0.1:$P" >"$SIM_TMP/o" 2>"$SIM_TMP/e"
expect_eq $? 2 "port in use exit status"
grep -q "cannot listen" "$SIM_TMP/e" || fail "no message for a busy port"
sim_stop
echo "sim_cli: ok"
