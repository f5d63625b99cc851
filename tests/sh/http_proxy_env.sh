# http_proxy_env: proxies come from the usual environment variables. recwatch reads them when
# the first request starts and, when none is set, tells libcurl so (it would look five of
# them up for every transfer). Set, they are honoured as before: with http_proxy pointing at
# a closed port every request (rec.http and a provider query) fails to reach that port; with
# no_proxy naming the host they go direct; with none set they go direct.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"

# the in-process simulator of run --sim is the server
CLOSED=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
export CLOSED

cat >"$SIM_TMP/proxy.lua" <<'LUA'
local want = arg[1]  -- "direct" or "proxy"
rec.configure{ agora = { retries = 0 } }
local r, err = rec.http{ url = rec.sim.base_url .. "/", timeout = 5 }
local q, qerr = rec.query_agora{ appid = "sim-agora-app", resourceid = "sim-resource-healthy",
                                 sid = "sid-healthy", timeout = 5 }
if want == "direct" then
  assert(r and r.status == 404, "rec.http: " .. tostring(err))
  assert(q and q.status, "query: " .. tostring(qerr))
else
  local port = os.getenv("CLOSED")
  assert(not r and err.kind == "network" and err.message:find("port " .. port, 1, true),
         "rec.http did not go to the proxy: " .. tostring(err))
  assert(not q and qerr.kind == "network" and qerr.message:find("port " .. port, 1, true),
         "the query did not go to the proxy: " .. tostring(qerr))
end
print("proxy " .. want .. " ok")
LUA

run() {  # run WANT [VAR=value...]
  local want=$1
  shift
  env -u http_proxy -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY -u no_proxy -u NO_PROXY \
    "$@" "$RECWATCH" run --sim "$SIM_TMP/proxy.lua" "$want" >"$SIM_TMP/out" 2>"$SIM_TMP/err" ||
    fail "$want with $*: $(cat "$SIM_TMP/err")"
  grep -q "proxy $want ok" "$SIM_TMP/out" || fail "no ok line for $want with $*"
}
run direct
run proxy http_proxy="http://127.0.0.1:$CLOSED"
run proxy all_proxy="http://127.0.0.1:$CLOSED"
run direct http_proxy="http://127.0.0.1:$CLOSED" no_proxy=127.0.0.1
run direct http_proxy=""   # set but empty: no proxy
echo "http_proxy_env ok"
