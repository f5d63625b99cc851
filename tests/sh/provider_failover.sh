# provider_failover: Agora host failover between two standalone sims. A answers 500 to every
# request, B is healthy. base_url=A, fallback_urls={B}: attempts 1 and 2 go to A, attempt 3
# to B and succeeds; with more fallbacks the order is kept; base_url=A alone never reaches B.
# Checked in each sim's --log-requests, and in recwatch_failovers_total / retries_total.
set -eu
T=$(mktemp -d); PIDS=
trap 'for p in $PIDS; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

start_sim() {  # NAME SCENARIO -> sets ${NAME}_BASE
  "$RECWATCH" sim --listen 127.0.0.1:0 --scenario "$2" --log-requests "$T/$1.log" >"$T/$1.out" 2>"$T/$1.err" &
  PIDS="$PIDS $!"
  for _ in $(seq 100); do grep -q RECWATCH_SIM_PORT "$T/$1.out" 2>/dev/null && break; sleep 0.05; done
  eval "$1_BASE=$(sed -n "s/^export AGORA_API_BASE=//p" "$T/$1.out")"
}
start_sim A "$SRC/tests/scenarios/provider_failover_a.lua"
start_sim B "$SRC/tests/scenarios/provider_failover_b.lua"
start_sim C "$SRC/tests/scenarios/provider_failover_a.lua"   # a second failing host
export A_BASE B_BASE C_BASE
# the environment must not help: no AGORA_* at all
unset AGORA_API_BASE AGORA_CUSTOMER_ID AGORA_CUSTOMER_SECRET

# The sims write their logs at their own offsets, so logs are never truncated: `mark`
# remembers how many lines each has, `count`/`lines` look only at the lines after the mark.
mark() { for n in A B C; do eval "M_$n=$(wc -l <"$T/$n.log" 2>/dev/null || echo 0)"; done; }
count() {  # NAME STATUS -> requests with that status since the mark
  eval "local skip=\$M_$1"
  python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]).readlines()[int(sys.argv[3]):] if json.loads(l)["status"] == int(sys.argv[2])))' "$T/$1.log" "$2" "$skip"
}
lines() { eval "local skip=\$M_$1"; echo $(( $(wc -l <"$T/$1.log") - skip )); }
touch "$T/A.log" "$T/B.log" "$T/C.log"
mark

"$RECWATCH" run /dev/stdin <<'LUA' >"$T/run1" 2>&1 || { cat "$T/run1" >&2; fail "failover to B"; }
rec.configure{ agora = { base_url = os.getenv("A_BASE"), fallback_urls = { os.getenv("B_BASE") },
                         customer_id = "fo-customer", customer_secret = "fo-secret-0123456789",
                         retries = 3, retry_delays = { 0.05, 0.1 } } }
local res, err = rec.query_agora{ appid = "fo-app", resourceid = "fo-rid", sid = "fo-sid" }
assert(res and res.status == 5, tostring(err))
-- the metrics saw it: two server errors retried, one failover (A -> B), then ok
local page = rec.metrics.text()
for _, line in ipairs{ 'recwatch_failovers_total{provider="agora"} 1\n',
                       'recwatch_retries_total{provider="agora"} 2\n',
                       'recwatch_provider_requests_total{provider="agora",outcome="server"} 2\n',
                       'recwatch_provider_requests_total{provider="agora",outcome="ok"} 1\n' } do
  assert(page:find(line, 1, true), "metrics lack " .. line)
end
LUA
sleep 0.2
[ "$(count A 500)" = 2 ] && [ "$(lines A)" = 2 ] || fail "A should get attempts 1 and 2: $(cat "$T/A.log")"
[ "$(count B 200)" = 1 ] && [ "$(lines B)" = 1 ] || fail "B should answer attempt 3: $(cat "$T/B.log")"
[ "$(lines C)" = 0 ] || fail "C was not configured"

# base_url A, fallbacks C (also failing) then B: A, A, C, B
mark
"$RECWATCH" run /dev/stdin <<'LUA' >"$T/run2" 2>&1 || { cat "$T/run2" >&2; fail "failover A, C, B"; }
rec.configure{ agora = { base_url = os.getenv("A_BASE"),
                         fallback_urls = { os.getenv("C_BASE"), os.getenv("B_BASE") },
                         customer_id = "fo-customer", customer_secret = "fo-secret-0123456789",
                         retries = 3, retry_delays = { 0.05 } } }
local res, err = rec.query_agora{ appid = "fo-app", resourceid = "fo-rid", sid = "fo-sid" }
assert(res and res.status == 5, tostring(err))
-- the metrics saw it: three server errors retried, two failovers (A -> C -> B), then ok
local page = rec.metrics.text()
for _, line in ipairs{ 'recwatch_failovers_total{provider="agora"} 2\n',
                       'recwatch_retries_total{provider="agora"} 3\n',
                       'recwatch_provider_requests_total{provider="agora",outcome="server"} 3\n',
                       'recwatch_provider_requests_total{provider="agora",outcome="ok"} 1\n' } do
  assert(page:find(line, 1, true), "metrics lack " .. line)
end
LUA
sleep 0.2
[ "$(count A 500)" = 2 ] && [ "$(count C 500)" = 1 ] && [ "$(count B 200)" = 1 ] \
  || fail "A, A, C, B: A=$(count A 500) C=$(count C 500) B=$(count B 200)"

# base_url A without fallback_urls: no failover, every attempt on A, B never reached
mark
"$RECWATCH" run /dev/stdin <<'LUA' >"$T/run3" 2>&1 || { cat "$T/run3" >&2; fail "no failover"; }
rec.configure{ agora = { base_url = os.getenv("A_BASE"),
                         customer_id = "fo-customer", customer_secret = "fo-secret-0123456789",
                         retries = 3, retry_delays = { 0.05 } } }
local res, err = rec.query_agora{ appid = "fo-app", resourceid = "fo-rid", sid = "fo-sid" }
assert(not res and err.kind == "server" and err.status == 500 and err.attempts == 4, tostring(err))
LUA
sleep 0.2
[ "$(count A 500)" = 4 ] && [ "$(lines A)" = 4 ] || fail "A should get all 4 attempts: $(cat "$T/A.log")"
[ "$(lines B)" = 0 ] && [ "$(lines C)" = 0 ] || fail "B or C was reached without fallback_urls"

# AGORA_API_BASE from the environment is a single host too: no failover to the public hosts
mark
AGORA_API_BASE=$A_BASE AGORA_CUSTOMER_ID=fo-customer AGORA_CUSTOMER_SECRET=fo-secret-0123456789 \
  "$RECWATCH" run /dev/stdin <<'LUA' >"$T/run4" 2>&1 || { cat "$T/run4" >&2; fail "env base"; }
rec.configure{ agora = { retries = 2, retry_delays = { 0.05 } } }
local res, err = rec.query_agora{ appid = "fo-app", resourceid = "fo-rid", sid = "fo-sid" }
assert(not res and err.kind == "server" and err.attempts == 3, tostring(err))
assert(not err.message:find("sd%-rtn") and not err.message:find("agora%.io"), err.message)
LUA
sleep 0.2
[ "$(count A 500)" = 3 ] && [ "$(lines B)" = 0 ] || fail "env base: A should get 3 attempts"
echo "provider_failover ok"
