# provider_validation: tests/lua/provider_validation.lua against a standalone sim with
# --log-requests: the 34 bad calls send nothing; only its final, valid query arrives.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

sim_start --log-requests "$SIM_TMP/req.log"
(cd "$SIM_TMP" && "$RECWATCH" run "$SRC/tests/lua/provider_validation.lua") >"$SIM_TMP/out" 2>&1 \
  || { cat "$SIM_TMP/out" >&2; fail "provider_validation.lua failed against the standalone sim"; }
grep -q "provider_validation ok" "$SIM_TMP/out" || fail "no ok line: $(cat "$SIM_TMP/out")"
sleep 0.2
python3 - "$SIM_TMP/req.log" <<'PY' || fail "requests arrived for invalid calls: $(cat "$SIM_TMP/req.log")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 1, rows
r = rows[0]
assert r["provider"] == "qingcloud" and r["status"] == 200 and r["auth"], r
assert "limit=100" in r["query"] and "from_hour=24" in r["query"], r
PY

# missing credentials send nothing either (kind auth, checked in provider_auth.sh)
: >"$SIM_TMP/req.log"
env -u AGORA_CUSTOMER_ID -u QINGCLOUD_SECRET_ACCESS_KEY "$RECWATCH" run /dev/stdin <<'LUA' || fail "no-credentials script failed"
local r, e = rec.query_agora{ appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy" }
assert(not r and e.kind == "auth" and e.attempts == 0, tostring(e))
r, e = rec.query_qingcloud{ app_id = "demo-app", channel = "demo-channel" }
assert(not r and e.kind == "auth" and e.attempts == 0, tostring(e))
LUA
sleep 0.2
[ ! -s "$SIM_TMP/req.log" ] || fail "requests arrived without credentials: $(cat "$SIM_TMP/req.log")"
sim_stop
echo "provider_validation ok"
