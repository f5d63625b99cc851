# watch.set{ url = } against a tiny server of its own (helpers/sets_server.py), on the real
# clock: the list is taken, a later unchanged poll is answered 304 through If-None-Match, and
# a bad reply (not JSON, wrong shape, an HTTP 500, the server gone) keeps the last good set,
# is counted by reason and fails /healthz until a good reply. The script drives the story and
# asserts; every wait is bounded by a deadline and polls for its outcome.
set -u
: "${RECWATCH:?}" "${HELPERS:?}"
command -v python3 >/dev/null || { echo "SKIP: python3 is needed"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/setsurl.XXXXXX")
SRV=
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -40 "$T/rw.log" >&2 2>/dev/null; exit 1; }

echo '[{"appid": "sim-agora-app", "resourceid": "sim-resource-healthy", "sid": "sid-healthy", "every": 1}]' >"$T/list.json"
python3 "$HELPERS/sets_server.py" "$T" >"$T/port" &
SRV=$!
for _ in $(seq 1 200); do [ -s "$T/port" ] && break; sleep 0.05; done
PORT=$(cat "$T/port")
[ -n "$PORT" ] || fail "the test server did not start"

cat >"$T/script.lua" <<'LUA'
local watch = require "rec.watch"
local base, file = arg[1], arg[2]
local function until_true(what, fn)
  local deadline = rec.now() + 20
  while not fn() do
    assert(rec.now() < deadline, "timed out waiting for " .. what)
    rec.sleep(0.02)
  end
end
local function healthy()
  local st = rec.json.decode(rec.health.status())
  return st.healthy, st.reason or ""
end
local function serve(text)
  local f = assert(io.open(file, "wb"))
  f:write(text)
  f:close()
end
local function stats() return rec.json.decode(assert(rec.http{ url = base .. "/stats" }).body) end
local function story()
local s = watch.set{ provider = "agora", url = base .. "/list?token=s3cret", every = 0.1,
                     defaults = { first_after = 0.1 } }
local function keys() return table.concat(s:keys(), ",") end
until_true("the first list", function() return keys() == "sid-healthy" end)
assert(healthy())
until_true("a 304", function() return stats().not_modified >= 2 end)
serve('[{"appid": "sim-agora-app", "resourceid": "sim-resource-healthy", "sid": "sid-healthy", "every": 1},' ..
      ' {"appid": "sim-agora-app", "resourceid": "sim-resource-stuck", "sid": "sid-stuck", "every": 1}]')
until_true("an addition", function() return keys() == "sid-healthy,sid-stuck" end)
local n = 0
for _, b in ipairs{ { "not json", "not_json" }, { '{"sessions": {"a": 1}}', "shape" },
                    { "STATUS 500", "status" }, { "[]", "empty" } } do
  serve(b[1])
  n = n + 1
  until_true(b[2], function() return s:info().errors_by_reason[b[2]] end)
  assert(keys() == "sid-healthy,sid-stuck", b[2] .. ": the set changed: " .. keys())
  local ok, why = healthy()
  assert(not ok and why:find("refused (" .. b[2] .. ")", 1, true), why)
  assert(not why:find("s3cret", 1, true), "the query string leaked: " .. why)
end
local m = rec.metrics.text()
assert(m:find('recwatch_watch_set_errors_total{source="http://127.0.0.1:[0-9]+/list",reason="status"} [1-9]'), m)
serve('[{"appid": "sim-agora-app", "resourceid": "sim-resource-stuck", "sid": "sid-stuck", "every": 1}]')
until_true("a good list again", function() return keys() == "sid-stuck" and (healthy()) end)
print("URL-SET-OK")
s:stop()
s:wait()
end
local ok, e = pcall(story)
if not ok then print("FAILED: " .. tostring(e)) rec.exit(1) end
rec.exit(0)
LUA
timeout 120 "$RECWATCH" run --sim "$T/script.lua" "http://127.0.0.1:$PORT" "$T/list.json" >"$T/rw.log" 2>&1 || fail "the script failed"
grep -q URL-SET-OK "$T/rw.log" || fail "no URL-SET-OK"
grep -q 'kind=watch_set_error .*reason=not_json' "$T/rw.log" || fail "no log line for the bad reply"
! grep -q s3cret "$T/rw.log" || fail "the URL's query string is in the log"

# the server gone: still the last good set, reason unreachable
cat >"$T/gone.lua" <<'LUA'
local watch = require "rec.watch"
local s = watch.set{ provider = "agora", url = arg[1] .. "/list", every = 0.1, timeout = 2 }
rec.spawn(function() rec.sleep(60) print("TIMED OUT") rec.exit(1) end)
local deadline = rec.now() + 20
while s:info().good_reads < 1 do assert(rec.now() < deadline, "first list") rec.sleep(0.02) end
io.open(arg[2], "w"):write("go"):close()
while not s:info().errors_by_reason.unreachable do assert(rec.now() < deadline + 20, "unreachable") rec.sleep(0.02) end
assert(table.concat(s:keys(), ",") == "sid-healthy")
local st = rec.json.decode(rec.health.status())
assert(not st.healthy and st.reason:find("refused (unreachable)", 1, true), st.reason)
print("GONE-OK")
s:stop()
rec.exit(0)
LUA
echo '[{"appid": "sim-agora-app", "resourceid": "sim-resource-healthy", "sid": "sid-healthy"}]' >"$T/list.json"
timeout 120 "$RECWATCH" run --sim "$T/gone.lua" "http://127.0.0.1:$PORT" "$T/go" >"$T/rw.log" 2>&1 &
RW=$!
for _ in $(seq 1 400); do [ -e "$T/go" ] && break; sleep 0.05; done
[ -e "$T/go" ] || { kill $RW; fail "no first list"; }
kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=
wait $RW || fail "the server-gone script failed"
grep -q GONE-OK "$T/rw.log" || fail "no GONE-OK"
echo ok
