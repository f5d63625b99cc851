# provider_accounts: against a standalone `recwatch sim` with three Agora customers and two
# QingCloud keys, each account of rec.configure sends its own credential: the simulator
# accepts the right secret of one customer and refuses a wrong secret of another (401, auth,
# not retried), while the default credential keeps working; no secret reaches the output.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

sim_start --scenario "$SRC/tests/scenarios/provider_accounts.lua" --log-requests "$SIM_TMP/req.log"
[ "${AGORA_CUSTOMER_ID_2:-}" = acct-a ] && [ "${AGORA_CUSTOMER_ID_3:-}" = acct-b ] &&
  [ "${QINGCLOUD_ACCESS_KEY_ID_2:-}" = QKB ] || fail "recwatch sim did not export the further accounts"
cat >"$SIM_TMP/acct.lua" <<'LUA'
local base = os.getenv("AGORA_API_BASE")
rec.configure{
  agora = { base_url = base, retries = 2, retry_delays = { 0.05 },
            -- `recwatch sim` printed the further customers as AGORA_CUSTOMER_ID_2, ...
            accounts = { { customer_id = os.getenv("AGORA_CUSTOMER_ID_2"),
                           customer_secret = os.getenv("AGORA_CUSTOMER_SECRET_2") },
                         { customer_id = "acct-b", customer_secret = "wrong-b-secret-ZX81" } } },
  qingcloud = { base_url = base, retries = 2, retry_delays = { 0.05 },
                accounts = { { access_key_id = os.getenv("QINGCLOUD_ACCESS_KEY_ID_2"),
                               secret_access_key = os.getenv("QINGCLOUD_SECRET_ACCESS_KEY_2") },
                             { access_key_id = "QKDEFAULT", secret_access_key = "wrong-qk-ZX81" } } },
}
local AQ = { appid = "acct-app", resourceid = "acct-rid", sid = "acct-sid", mode = "mix" }
local QQ = { app_id = "acct-qapp", channel = "acct-ch", from_hour = 1, to_hour = 0 }
local function with(t, k, v) local c = {} for a, b in pairs(t) do c[a] = b end c[k] = v return c end
assert(rec.query_agora(AQ))                                   -- the default credential
assert(rec.query_agora(with(AQ, "account", "acct-a")))         -- acct-a's right secret
local res, err = rec.query_agora(with(AQ, "account", "acct-b"))  -- acct-b's wrong one
assert(not res and err.kind == "auth" and err.status == 401 and err.attempts == 1, tostring(err))
assert(rec.query_qingcloud(QQ))
assert(rec.query_qingcloud(with(QQ, "account", "QKB")))
res, err = rec.query_qingcloud(with(QQ, "account", "QKDEFAULT"))
assert(not res and err.kind == "auth" and err.code == "SignatureNotMatch", tostring(err))
print("accounts ok")
LUA
"$RECWATCH" --log-level debug run "$SIM_TMP/acct.lua" >"$SIM_TMP/out" 2>"$SIM_TMP/err" \
  || { cat "$SIM_TMP/out" "$SIM_TMP/err" >&2; fail "accounts"; }
grep -q "accounts ok" "$SIM_TMP/out" || fail "no ok line"
for s in acct-a-secret-111 wrong-b-secret-ZX81 qk-b-secret-222 wrong-qk-ZX81; do
  if grep -q -- "$s" "$SIM_TMP/out" "$SIM_TMP/err"; then fail "secret $s in the output"; fi
done
sleep 0.2
python3 - "$SIM_TMP/req.log" <<'PY' || fail "requests: $(cat "$SIM_TMP/req.log")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [(r["provider"], r["status"], r["auth"]) for r in rows] == [
    ("agora", 200, True), ("agora", 200, True), ("agora", 401, False),
    ("qingcloud", 200, True), ("qingcloud", 200, True), ("qingcloud", 401, False)], rows
PY
sim_stop
echo "provider_accounts ok"
