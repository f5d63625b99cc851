# provider_auth: wrong secrets give kind "auth" (status 401, not retried); missing credentials
# give "auth" naming the environment variables, without a request; and no secret (nor the
# Basic credentials built from it) ever appears on stdout/stderr, even at --log-level debug.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

sim_start --log-requests "$SIM_TMP/req.log"
WRONG_AG="wrong-agora-secret-ZX81qq"
WRONG_QC="wrong-qingcloud-secret-ZX81qq"
export WRONG_AG WRONG_QC

cat >"$SIM_TMP/wrong.lua" <<'LUA'
rec.configure{
  agora = { base_url = os.getenv("AGORA_API_BASE"), customer_secret = os.getenv("WRONG_AG"),
            retries = 3, retry_delays = { 0.05, 0.1 } },
  qingcloud = { secret_access_key = os.getenv("WRONG_QC"), retries = 3, retry_delays = { 0.05, 0.1 } },
}
local res, err = rec.query_agora{ appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy" }
assert(not res and err.kind == "auth", tostring(err))
assert(err.status == 401 and err.attempts == 1 and err.retryable == false, tostring(err))
assert(err.message:find("Invalid authentication credentials", 1, true), err.message)
rec.log.debug("agora auth error: %s", tostring(err))
res, err = rec.query_qingcloud{ app_id = "demo-app", channel = "demo-channel" }
assert(not res and err.kind == "auth", tostring(err))
assert(err.status == 401 and err.attempts == 1 and err.retryable == false, tostring(err))
assert(err.code == "SignatureNotMatch", tostring(err.code))
rec.log.debug("qingcloud auth error: %s", tostring(err))
-- a wrong access key id is auth too
rec.configure{ qingcloud = { access_key_id = "NOSUCHKEY", secret_access_key = os.getenv("WRONG_QC") } }
res, err = rec.query_qingcloud{ app_id = "demo-app", channel = "demo-channel" }
assert(not res and err.kind == "auth" and err.code == "AccessKeyNotFound" and err.attempts == 1, tostring(err))
-- a script that logs its own configuration does not leak the secret either
rec.log.info("configured with %s and %s", os.getenv("WRONG_AG"), os.getenv("WRONG_QC"))
print("wrong secrets ok")
LUA
"$RECWATCH" --log-level debug run "$SIM_TMP/wrong.lua" >"$SIM_TMP/out" 2>"$SIM_TMP/err" \
  || { cat "$SIM_TMP/out" "$SIM_TMP/err" >&2; fail "wrong secrets"; }
grep -q "wrong secrets ok" "$SIM_TMP/out" || fail "no ok line"
grep -q "agora auth error" "$SIM_TMP/err" || fail "debug log missing: $(cat "$SIM_TMP/err")"
sleep 0.2
python3 - "$SIM_TMP/req.log" <<'PY' || fail "auth failures were retried: $(cat "$SIM_TMP/req.log")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [(r["provider"], r["status"], r["auth"]) for r in rows] == [
    ("agora", 401, False), ("qingcloud", 401, False), ("qingcloud", 401, False)], rows
PY

# the right secrets at debug level, through the in-process sim and the query CLI
"$RECWATCH" --log-level debug run /dev/stdin <<'LUA' >>"$SIM_TMP/out" 2>>"$SIM_TMP/err" || fail "right secrets"
assert(rec.query_agora{ appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy" })
assert(rec.query_qingcloud{ app_id = "demo-app", channel = "demo-channel" })
LUA
"$RECWATCH" --log-level debug query agora --appid sim-agora-app --resourceid sim-resource-healthy \
  --sid sid-healthy >>"$SIM_TMP/out" 2>>"$SIM_TMP/err" || fail "query agora"
"$RECWATCH" --log-level debug query qingcloud --app-id demo-app --channel demo-channel \
  >>"$SIM_TMP/out" 2>>"$SIM_TMP/err" || fail "query qingcloud"
AGORA_CUSTOMER_SECRET=$WRONG_AG "$RECWATCH" --log-level debug query agora --appid sim-agora-app \
  --resourceid sim-resource-healthy --sid sid-healthy >>"$SIM_TMP/out" 2>>"$SIM_TMP/err" && fail "wrong secret accepted"
"$RECWATCH" --log-level debug run --sim /dev/stdin <<'LUA' >>"$SIM_TMP/out" 2>>"$SIM_TMP/err" || fail "--sim"
assert(rec.query_agora{ appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy" })
assert(rec.query_qingcloud{ app_id = "demo-app", channel = "demo-channel" })
LUA
B64_AG=$(printf '%s:%s' "$AGORA_CUSTOMER_ID" "$AGORA_CUSTOMER_SECRET" | base64 -w0)
B64_WRONG=$(printf '%s:%s' "$AGORA_CUSTOMER_ID" "$WRONG_AG" | base64 -w0)
for s in "$WRONG_AG" "$WRONG_QC" "$AGORA_CUSTOMER_SECRET" "$QINGCLOUD_SECRET_ACCESS_KEY" "$B64_AG" "$B64_WRONG"; do
  if grep -qF -- "$s" "$SIM_TMP/out" "$SIM_TMP/err"; then
    grep -nF -- "$s" "$SIM_TMP/out" "$SIM_TMP/err" >&2
    fail "a secret appears in the output"
  fi
done
[ "$(wc -l <"$SIM_TMP/err")" -gt 5 ] || fail "debug output suspiciously short"

# missing credentials: auth, naming the variables; nothing sent
N0=$(wc -l <"$SIM_TMP/req.log")
env -u AGORA_CUSTOMER_ID -u AGORA_CUSTOMER_SECRET -u QINGCLOUD_ACCESS_KEY_ID -u QINGCLOUD_SECRET_ACCESS_KEY \
  "$RECWATCH" run /dev/stdin <<'LUA' >"$SIM_TMP/out2" 2>&1 || { cat "$SIM_TMP/out2" >&2; fail "missing credentials"; }
local res, err = rec.query_agora{ appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy" }
assert(not res and err.kind == "auth" and err.attempts == 0 and err.retryable == false, tostring(err))
assert(err.message:find("AGORA_CUSTOMER_ID", 1, true) and err.message:find("AGORA_CUSTOMER_SECRET", 1, true), err.message)
res, err = rec.query_qingcloud{ app_id = "demo-app", channel = "demo-channel" }
assert(not res and err.kind == "auth" and err.attempts == 0, tostring(err))
assert(err.message:find("QINGCLOUD_ACCESS_KEY_ID", 1, true), err.message)
-- only the secret missing: still auth
rec.configure{ agora = { customer_id = "someone" } }
res, err = rec.query_agora{ appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy" }
assert(not res and err.kind == "auth" and err.message:find("AGORA_CUSTOMER_SECRET", 1, true), tostring(err))
-- credentials from rec.configure are enough
rec.configure{ agora = { customer_id = "sim-agora-customer", customer_secret = "sim-agora-secret-0123456789" } }
assert(rec.query_agora{ appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy" })
print("missing ok")
LUA
grep -q "missing ok" "$SIM_TMP/out2" || fail "no ok line (missing)"
sleep 0.2
[ "$(( $(wc -l <"$SIM_TMP/req.log") - N0 ))" = 1 ] || fail "requests sent without credentials"
# the query CLI: auth exits 3 with the message on stderr
env -u AGORA_CUSTOMER_ID "$RECWATCH" query agora --appid a --resourceid r --sid s >"$SIM_TMP/o3" 2>"$SIM_TMP/e3"
rc=$?
[ "$rc" = 3 ] || fail "query without credentials exited $rc"
grep -q "AGORA_CUSTOMER_ID" "$SIM_TMP/e3" && [ ! -s "$SIM_TMP/o3" ] || fail "query auth message: $(cat "$SIM_TMP/e3")"
sim_stop
echo "provider_auth ok"
