# Rejected credentials (issue 20, item 8): an `auth` error is not transient.
# 1. Against a separate simulator (so the script can choose a wrong secret; the in-process
#    one locks the credentials, so no virtual clock): at the first auth error each watcher says so (state auth_failed, unhealthy at
#    once in rec.health.status, not after stale_after), polls again only every auth_retry
#    (60 s by default, 1.5 s here) instead of backing off from 1 s (about 200 errors in 8 s before), raises no "did not start" for an
#    Agora recording it cannot see, and recovers on its own at the first good poll once the
#    credential is fixed.
# 2. As a service: /healthz 503 naming the credentials within seconds (stale_after is 61.5 s),
#    one kind=auth_failed line per watcher, recwatch_watchers{state="auth_failed"}, and a
#    reload with the right secret makes it healthy again.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"
command -v curl >/dev/null || fail "curl is needed"
sim_start

cat >"$SIM_TMP/auth.lua" <<'LUA'
local watch = require "rec.watch"
local function main()
  local QC_OK, AG_OK = os.getenv("QINGCLOUD_SECRET_ACCESS_KEY"), os.getenv("AGORA_CUSTOMER_SECRET")
  rec.configure{ qingcloud = { secret_access_key = "wrong-qc-secret-ZX81", retries = 0 },
                 agora = { customer_secret = "wrong-agora-secret-ZX81", retries = 0 } }
  local start_failed, errors = 0, 0
  local qc = watch.qingcloud{ app_id = "demo-app", channels = { "demo-channel", "healthy-channel" },
                              every = 0.2, stagger = false, auth_retry = 1.5,
                              on_error = function() errors = errors + 1 end }
  local ag = watch.agora{ appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy",
                          every = 0.2, first_after = 0.2, start_timeout = 1, auth_retry = 1.5,
                          on_start_failed = function() start_failed = start_failed + 1 end }
  local t0 = rec.now()
  local function all(pred)
    for _, s in ipairs(watch.status()) do if not pred(s) then return false end end
    return true
  end
  while not all(function(s) return s.state == "auth_failed" end) do
    assert(rec.now() - t0 < 10, "not auth_failed after 10 s")
    rec.sleep(0.05)
  end
  -- at once: unhealthy, long before stale_after (3 intervals + 60 s)
  for _, s in ipairs(watch.status()) do assert(s.auth_failed and not s.stale and s.stale_after > 60, s.name) end
  assert(not watch.healthy())
  local st = rec.json.decode(rec.health.status())
  assert(st.healthy == false and st.reason:find("the provider rejects the credentials (auth)", 1, true), st.reason)
  assert(st.reason:find("and 2 more watchers", 1, true), st.reason)
  for _, w in ipairs(st.watchers) do assert(w.state == "auth_failed", w.key .. " " .. w.state) end
  -- slowly: every auth_retry (1.5 s), not every 0.2 s (nor a backoff from 0.2 s)
  local t1 = rec.now()
  rec.sleep(3.2)
  local bound = 2 + math.floor((rec.now() - t1) / 1.5)
  for _, s in ipairs(watch.status()) do
    local n = s.errors_by_kind.auth
    assert(n >= 1 and n <= bound, ("%s: %d auth errors in %.1f s (at most %d)"):format(s.name, n, rec.now() - t0, bound))
  end
  assert(start_failed == 0, "on_start_failed fired for rejected credentials")
  -- the credentials are fixed: each watcher recovers at its next poll, on its own
  rec.configure{ qingcloud = { secret_access_key = QC_OK }, agora = { customer_secret = AG_OK } }
  local t2 = rec.now()
  while not all(function(s) return s.state == "ok" and not s.auth_failed end) do
    assert(rec.now() - t2 < 15, "not recovered 15 s after the fix")
    rec.sleep(0.05)
  end
  assert(watch.healthy())
  st = rec.json.decode(rec.health.status())
  assert(st.healthy == true, st.reason)
  assert(start_failed == 0, "on_start_failed after the fix")
  local polls = ag:info()[1].polls
  rec.sleep(2)
  assert(ag:info()[1].polls >= polls + 2, "not back to every 0.2 s: " .. ag:info()[1].polls - polls)
  qc:stop() ag:stop()
  print(("auth ok, %d on_error calls"):format(errors))
end
local ok, err = xpcall(main, debug.traceback)
if not ok then
  rec.log.error("%s", err)
  rec.exit(1)
end
rec.exit(0)
LUA
"$RECWATCH" run "$SIM_TMP/auth.lua" >"$SIM_TMP/out" 2>"$SIM_TMP/err" \
  || { tail -20 "$SIM_TMP/err" >&2; fail "the story with a wrong secret"; }
grep -q "auth ok" "$SIM_TMP/out" || fail "no ok line"
[ "$(grep -c 'kind=auth_failed' "$SIM_TMP/err")" = 3 ] || fail "auth_failed lines: $(grep -c 'kind=auth_failed' "$SIM_TMP/err") (want 3, one per watcher)"
[ "$(grep -c 'kind=auth_recovered' "$SIM_TMP/err")" = 3 ] || fail "auth_recovered lines: $(grep -c 'kind=auth_recovered' "$SIM_TMP/err")"
grep -q 'wrong-.*-secret-ZX81' "$SIM_TMP/err" "$SIM_TMP/out" && fail "a secret in the log"

# 2. the service: /healthz, the metric, recovery by a reload
script() {  # script SECRET_EXPR
  cat <<LUA
local watch = require "rec.watch"
rec.configure{ qingcloud = { secret_access_key = $1, retries = 0 } }
watch.qingcloud{ app_id = "demo-app", channels = { "demo-channel", "healthy-channel" }, every = 0.5 }
rec.sleep(600)
LUA
}
script '"wrong-qc-secret-ZX81"' >"$SIM_TMP/svc.lua"
"$RECWATCH" run --listen 127.0.0.1:0 "$SIM_TMP/svc.lua" >"$SIM_TMP/svc.out" 2>"$SIM_TMP/svc.err" &
RW=$!
EXTRA=$RW
trap 'if [ -n "$EXTRA" ]; then kill $EXTRA 2>/dev/null; wait $EXTRA 2>/dev/null; fi; sim_cleanup' EXIT
URL=
for i in $(seq 400); do
  URL=$(sed -n 's/.*listening on \(http:[^ ]*\) .*/\1/p' "$SIM_TMP/svc.err" | head -1)
  [ -n "$URL" ] && break
  sleep 0.05
done
[ -n "$URL" ] || fail "no listener: $(cat "$SIM_TMP/svc.err")"
code() { curl -s -o "$SIM_TMP/body" -w '%{http_code}' --max-time 5 "$URL$1"; }
wait_for() {
  local n=$(( $1 * 10 )) i
  shift
  for i in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}
auth_503() { [ "$(code /healthz)" = 503 ] && grep -q 'the provider rejects the credentials (auth)' "$SIM_TMP/body"; }
started=$(date +%s)
wait_for 20 auth_503 || fail "/healthz does not report the rejected credentials: $(code /healthz) $(cat "$SIM_TMP/body")"
[ $(( $(date +%s) - started )) -lt 30 ] || fail "reported only after 30 s"
grep -q 'SignatureNotMatch' "$SIM_TMP/body" || fail "the reason lacks the provider's error: $(cat "$SIM_TMP/body")"
auth_gauge() { code /metrics >/dev/null && grep -q '^recwatch_watchers{state="auth_failed"} 2$' "$SIM_TMP/body"; }
wait_for 5 auth_gauge || fail "no auth_failed gauge: $(grep recwatch_watchers "$SIM_TMP/body")"
sleep 3   # slowly: no second attempt within 60 s
[ "$(grep -c 'kind=auth_failed' "$SIM_TMP/svc.err")" = 2 ] || fail "auth_failed lines: $(grep -c 'kind=auth_failed' "$SIM_TMP/svc.err")"
n=$(grep -c 'error=auth\|kind=auth_failed' "$SIM_TMP/svc.err")
[ "$n" -le 2 ] || fail "$n auth error lines in 3 s (retried fast)"
script 'os.getenv("QINGCLOUD_SECRET_ACCESS_KEY")' >"$SIM_TMP/svc.lua"
kill -HUP $RW
healthy() { [ "$(code /healthz)" = 200 ] && grep -qx ok "$SIM_TMP/body"; }
wait_for 15 healthy || fail "not healthy after the reload with the right secret: $(cat "$SIM_TMP/body")"
kill $RW; wait $RW; st=$?; EXTRA=
[ $st = 0 ] || fail "exit status $st after SIGTERM (healthy)"

# 3. stale while the credentials are rejected, then reloads with the secret still wrong: the
#    watcher was reported stale once and is not reported (nor alerted) stale again after each
#    reload (its state says auth_failed, which outranks stale; the registry carries stale
#    apart from it)
cat >"$SIM_TMP/stale.lua" <<'LUA'
local watch = require "rec.watch"
rec.configure{ qingcloud = { secret_access_key = "wrong-qc-secret-ZX81", retries = 0 } }
watch.qingcloud{ app_id = "demo-app", channel = "demo-channel", every = 0.5, stale_after = 1.5,
                 auth_retry = 0.5, on_stale = function() print("ON_STALE") io.stdout:flush() end }
rec.sleep(600)
LUA
: >"$SIM_TMP/svc.err"
"$RECWATCH" run --listen 127.0.0.1:0 "$SIM_TMP/stale.lua" >"$SIM_TMP/stale.out" 2>"$SIM_TMP/svc.err" &
RW=$!
EXTRA=$RW
wait_for 20 grep -q 'kind=watcher_stale' "$SIM_TMP/svc.err" || fail "never stale: $(tail -5 "$SIM_TMP/svc.err")"
for r in 1 2; do
  kill -HUP $RW
  wait_for 20 sh -c "[ \$(grep -c 'reload done' '$SIM_TMP/svc.err') -ge $r ]" || fail "reload $r not done"
  wait_for 20 sh -c "[ \$(grep -c 'kind=watcher_still_stale' '$SIM_TMP/svc.err') -ge $r ]" ||
    fail "reload $r: no watcher_still_stale line: $(grep -c 'kind=watcher_stale' "$SIM_TMP/svc.err") stale lines"
done
sleep 2   # a second report would come at the new script's first look (stale_after 1.5 s)
kill $RW; wait $RW; EXTRA=
[ "$(grep -c 'kind=watcher_stale' "$SIM_TMP/svc.err")" = 1 ] ||
  fail "stale reported $(grep -c 'kind=watcher_stale' "$SIM_TMP/svc.err") times over 2 reloads under rejected credentials (want 1)"
[ "$(grep -c ON_STALE "$SIM_TMP/stale.out")" = 1 ] || fail "on_stale called $(grep -c ON_STALE "$SIM_TMP/stale.out") times (want 1)"
echo "watch_auth_failed ok"
