# The exit status says what happened: a run that ends with a stale watcher, or with
# callbacks failing on every call in the last polls, exits 3 (kind=watcher_exit in the log);
# watch.exit_policy can decide otherwise; SIGTERM on a healthy watcher exits 0.
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/log" 2>/dev/null; exit 1; }

# stale: every query fails
cat >"$T/stale.lua" <<'LUA'
local ok, err = xpcall(function()
local watch = require "rec.watch"
rec.query_qingcloud = function() return nil, setmetatable({ kind = "network", message = "refused" },
  { __tostring = function(e) return e.kind .. ": " .. e.message end }) end
local stale = 0
local h = watch.qingcloud{ app_id = "a", channel = "c", every = 0.1, stale_after = 0.4,
                           on_stale = function() stale = stale + 1 end }
rec.sleep(1.2)
assert(stale == 1, "on_stale once: " .. stale)
if arg[1] == "policy" then watch.exit_policy(function(r) assert(#r.stale == 1) return 0 end) end
h:stop()
end, debug.traceback)
if not ok then rec.log.error("%s", err) rec.exit(1) end
LUA
"$RECWATCH" run "$T/stale.lua" 2>"$T/log"; rc=$?
[ "$rc" = 3 ] || fail "stale watcher: exit $rc, expected 3"
grep -q "kind=watcher_stale watcher=qingcloud/a/c" "$T/log" || fail "no kind=watcher_stale line"
[ "$(grep -c 'kind=watcher_stale' "$T/log")" = 1 ] || fail "stale logged more than once"
grep -q "kind=watcher_exit" "$T/log" || fail "no kind=watcher_exit line"
"$RECWATCH" --log-format json run "$T/stale.lua" 2>"$T/log"; rc=$?
[ "$rc" = 3 ] || fail "json logs: exit $rc, expected 3"
grep -q '"kind":"watcher_stale","msg":"kind=watcher_stale watcher=' "$T/log" || fail "no kind field in JSON logs"
"$RECWATCH" run "$T/stale.lua" policy 2>"$T/log"; rc=$?
[ "$rc" = 0 ] || fail "exit_policy returning 0: exit $rc"

# callbacks failing on every call: a new status on every poll, on_change always raises
cat >"$T/cb.lua" <<'LUA'
local ok, err = xpcall(function()
local watch = require "rec.watch"
local n = 0
rec.query_qingcloud = function() n = n + 1 return { recinfos = { { id = 1, status = n } }, total_count = 1 } end
local h = watch.qingcloud{ app_id = "a", channel = "c", every = 0.1, fail_polls = 2,
                           on_change = function() error("broken callback") end }
rec.sleep(0.8)
assert(not watch.healthy(), "failing callbacks make the watcher unhealthy")
assert(h:info()[1].failing)
h:stop()
end, debug.traceback)
if not ok then rec.log.error("%s", err) rec.exit(1) end
LUA
"$RECWATCH" run "$T/cb.lua" 2>"$T/log"; rc=$?
[ "$rc" = 3 ] || fail "failing callbacks: exit $rc, expected 3"
grep -q "kind=callback_failing watcher=qingcloud/a/c: callbacks failed on every call in the last 2 polls" "$T/log" || fail "no kind=callback_failing line"

# healthy + SIGTERM: 0
cat >"$T/ok.lua" <<'LUA'
local watch = require "rec.watch"
rec.query_qingcloud = function() return { recinfos = { { id = 1, status = 2 } }, total_count = 1 } end
watch.qingcloud{ app_id = "a", channel = "c", every = 0.1, on_change = function() end }
rec.log.info("READY")
LUA
"$RECWATCH" run "$T/ok.lua" 2>"$T/log" &
pid=$!
for _ in $(seq 100); do grep -q READY "$T/log" && break; sleep 0.05; done
sleep 0.5
kill -TERM "$pid"
wait "$pid"; rc=$?
[ "$rc" = 0 ] || fail "SIGTERM on a healthy watcher: exit $rc, expected 0"
echo ok
