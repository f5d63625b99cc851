# sim_requests_log: GET /_sim/requests lists what the simulator answered, oldest first, as
# {t, account, member, method, path, status, provider}: the account is the customer (or
# access key) the request authenticated as, the member the `recwatch member=` of its
# User-Agent (RECWATCH_MEMBER, or any fleet member), null when none; ?since=T keeps the
# newer ones; a customer past its own rate_limit gets 429 while another is not affected.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

sim_start --scenario "$SRC/tests/scenarios/provider_accounts.lua"
cat >"$SIM_TMP/q.lua" <<'LUA'
local base = os.getenv("AGORA_API_BASE")
rec.configure{
  agora = { base_url = base, retries = 0, rate = 0,
            accounts = { { customer_id = "acct-a", customer_secret = "acct-a-secret-111" },
                         { customer_id = "acct-b", customer_secret = "acct-b-secret-222", rate = 0 } } },
  qingcloud = { base_url = base, retries = 0,
                accounts = { { access_key_id = "QKB", secret_access_key = "qk-b-secret-222" } } },
}
local AQ = { appid = "acct-app", resourceid = "acct-rid", sid = "acct-sid", mode = "mix" }
local function with(k, v) local c = {} for a, b in pairs(AQ) do c[a] = b end c[k] = v return c end
local mode = arg[1]
if mode == "one" then
  assert(rec.query_agora(with("account", "acct-a")))
  assert(rec.query_qingcloud{ app_id = "acct-qapp", channel = "acct-ch", from_hour = 1, to_hour = 0,
                              account = "QKB" })
elseif mode == "two" then
  assert(rec.query_agora(with("account", "acct-b")))
elseif mode == "burst" then
  -- acct-b unpaced (rate 0): 60 at once against its limit of 10/s (429s); meanwhile acct-a,
  -- paced at its 10/s, is not refused once
  local tasks = {}
  for i = 1, 60 do
    tasks[#tasks + 1] = rec.spawn(function() rec.query_agora(with("account", "acct-b")) end)
  end
  for i = 1, 5 do
    tasks[#tasks + 1] = rec.spawn(function() assert(rec.query_agora(with("account", "acct-a"))) end)
  end
  for _, t in ipairs(tasks) do assert(t:wait()) end
else
  assert(rec.query_agora(AQ))
end
print("done " .. tostring(mode))
LUA
RECWATCH_MEMBER=member-one "$RECWATCH" run "$SIM_TMP/q.lua" one >"$SIM_TMP/out" 2>&1 || { cat "$SIM_TMP/out"; fail "one"; }
RECWATCH_MEMBER=member-two "$RECWATCH" run "$SIM_TMP/q.lua" two >"$SIM_TMP/out" 2>&1 || { cat "$SIM_TMP/out"; fail "two"; }
env -u RECWATCH_MEMBER "$RECWATCH" run "$SIM_TMP/q.lua" plain >"$SIM_TMP/out" 2>&1 || { cat "$SIM_TMP/out"; fail "plain"; }
python3 - "$BASE" <<'PY' || fail "the request log"
import json, sys, urllib.request
base = sys.argv[1]
rows = json.load(urllib.request.urlopen(base + "/_sim/requests"))
got = [(r["account"], r["member"], r["method"], r["status"], r["provider"]) for r in rows]
assert got == [("acct-a", "member-one", "GET", 200, "agora"),
               ("QKB", "member-one", "GET", 200, "qingcloud"),
               ("acct-b", "member-two", "GET", 200, "agora"),
               ("acct-default", None, "GET", 200, "agora")], got
assert rows[0]["path"] == "/v1/apps/acct-app/cloud_recording/resourceid/acct-rid/sid/acct-sid/mode/mix/query", rows[0]
assert rows[1]["path"] == "/v1/cloudRecord", rows[1]
assert all(set(r) == {"t", "account", "member", "method", "path", "status", "provider"} for r in rows), rows
ts = [r["t"] for r in rows]
assert ts == sorted(ts) and ts[0] >= 0, ts
# since: only the newer ones; reading the log adds nothing to it
later = json.load(urllib.request.urlopen(base + "/_sim/requests?since=%.6f" % ((ts[1] + ts[2]) / 2)))
assert [r["account"] for r in later] == ["acct-b", "acct-default"], later
assert len(json.load(urllib.request.urlopen(base + "/_sim/requests"))) == 4
PY
RECWATCH_MEMBER=member-three "$RECWATCH" run "$SIM_TMP/q.lua" burst >"$SIM_TMP/out" 2>&1 || { cat "$SIM_TMP/out"; fail "burst"; }
python3 - "$BASE" <<'PY' || fail "per-account limits"
import json, sys, urllib.request
rows = json.load(urllib.request.urlopen(sys.argv[1] + "/_sim/requests"))[4:]
b = [r["status"] for r in rows if r["account"] == "acct-b"]
a = [r["status"] for r in rows if r["account"] == "acct-a"]
# acct-b: some accepted, then 429 (past its 10 in one second); acct-a untouched meanwhile
assert b.count(200) >= 1 and b.count(429) >= 1, b
assert a == [200] * 5, a
assert all(r["member"] == "member-three" for r in rows), rows
PY
sim_stop
echo "sim_requests_log ok"
