# A scenario file is refused with a message, never a hang, a crash or an overflowing cast:
# an endless loop (instruction cap), a memory hog (allocation cap), io/require/load (the
# sandbox), a precompiled chunk, a time of 1e80 seconds and a leak on a bad field (both found
# by the scenario fuzzer).
set -u
: "${RECWATCH:?}"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

refused() {  # refused FILE PHRASE: `recwatch sim --scenario FILE` exits 2 naming PHRASE
  local rc
  timeout 60 "$RECWATCH" sim --listen 127.0.0.1:0 --scenario "$1" >"$T/out" 2>"$T/err"
  rc=$?
  [ $rc -eq 2 ] || fail "$(basename "$1"): exit status $rc (124 = hung): $(cat "$T/err")"
  grep -q -- "$2" "$T/err" || fail "$(basename "$1"): no '$2' in: $(cat "$T/err")"
}

echo 'while true do end' >"$T/loop.lua"
refused "$T/loop.lua" "runs too long"
echo 'local t = {} for i = 1, 1e9 do t[i] = ("x"):rep(1000) .. i end return {}' >"$T/hog.lua"
refused "$T/hog.lua" "not enough memory"
echo 'io.open("/tmp/x", "w") return {}' >"$T/io.lua"
refused "$T/io.lua" "io"
echo 'require "os" return {}' >"$T/req.lua"
refused "$T/req.lua" "require"
echo 'return load("return {}")()' >"$T/load.lua"
refused "$T/load.lua" "load"
printf '\033Lua\124\000' >"$T/bytecode.lua"
refused "$T/bytecode.lua" "binary"
# a bad field after a good one: the good one's copy is freed (the scenario fuzzer found the
# leak; the ASan configuration fails this test on the old code)
echo 'return { agora = { customer_id = "c", customer_secret = {} } }' >"$T/leak1.lua"
refused "$T/leak1.lua" "customer_secret: expected a string"
echo 'return { agora = { customers = { { customer_id = "c", customer_secret = {} } } } }' >"$T/leak2.lua"
refused "$T/leak2.lua" "customer_secret: expected a string"
echo 'return { qingcloud = { keys = { { access_key_id = "k", secret_access_key = {} } } } }' >"$T/leak3.lua"
refused "$T/leak3.lua" "secret_access_key: expected a string"
cat >"$T/far.lua" <<'LUA'
return { agora_recordings = { { appid = "a", resourceid = "r", sid = "s", channel = "c",
  timeline = { { 8.9e80, 5 } } } } }
LUA
refused "$T/far.lua" "timeline"
cat >"$T/linger.lua" <<'LUA'
return { agora = { linger = math.huge } }
LUA
refused "$T/linger.lua" "within"
# an ordinary scenario that reads the environment still loads
cat >"$T/ok.lua" <<'LUA'
local n = tonumber(os.getenv("N") or "3")
local tasks = {}
for i = 1, n do tasks[i] = { app_id = "a", channel = "c", id = i, status = 2 } end
return { qingcloud_tasks = tasks }
LUA
N=5 timeout 20 "$RECWATCH" sim --listen 127.0.0.1:0 --scenario "$T/ok.lua" >"$T/out" 2>"$T/err" &
pid=$!
for i in $(seq 100); do grep -q RECWATCH_SIM_PORT "$T/out" 2>/dev/null && break; sleep 0.05; done
grep -q RECWATCH_SIM_PORT "$T/out" || fail "a good scenario did not load: $(cat "$T/err")"
kill $pid; wait $pid
echo "sim_scenario_limits ok"
